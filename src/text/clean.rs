//! Cleanup of scraped or feed text: what a reader would skip.
//!
//! Scraped Arabic news pages repeat the headline two or three times, print
//! photo captions twice, sprinkle the site's name between paragraphs and end
//! with "read also", tags and share blocks. The cleaner keeps the article's
//! own paragraphs, once each and in order.
//!
//! Each line is read once, chunk by chunk (the pieces between spaces): the
//! same pass gives the line's key (what the patterns read), the token
//! hashes of its canonical words and its numbers, which the fingerprint
//! takes as they are. A chunk seen before is not folded at all: the token
//! cache ([`TokenCache::chunk`]) remembers its token and whether it is its
//! own word, and the key only needs a long line's first word unless a
//! pattern can start with it (`starts_pattern`). The tests hold this
//! path to the plain one: normalise the line, then split it.

use rustc_hash::FxHashMap as HashMap;

use super::lexicon::{word_key, Chunk, TokenCache};
use super::normalize::fold_key_words;

/// Lines that start like this introduce a link to another article; the line
/// (and a short headline right after it) is not part of the story.
const READ_ALSO: &[&str] = &[
    "اقرا ايضا",
    "اقرا المزيد",
    "اقرا كذلك",
    "طالع ايضا",
    "read also",
    "read more",
];

/// Lines that start like this are page furniture, not text.
const FURNITURE_PREFIX: &[&str] = &[
    "كلمات دلاليه",
    "الكلمات الدلاليه",
    "الوسوم",
    "وسوم",
    "tags:",
    "شارك هذا",
    "شارك علي",
    "تابعونا",
    "تابعنا",
    "الاكثر قراءه",
    "المواضيع الاكثر",
    "الاخبار الاكثر",
    "تاريخ النشر",
    "اخر تحديث",
    "الاكثر مشاهده",
    "اخبار ذات صله",
    "مواضيع ذات صله",
    "حقوق النشر",
    "جميع الحقوق محفوظه",
    "copyright",
    "©",
];

/// Whole lines that are user-interface text left by a scraper.
const FURNITURE_LINE: &[&str] = &[
    "accessibility links",
    "skip to content",
    "skip to main content",
    "share",
    "close",
    "menu",
    "search",
    "xs sm md lg",
    "xs",
    "sm",
    "md",
    "lg",
    "وكالات",
    "المصدر وكالات",
    "شارك",
    "مشاركه",
    "اغلاق",
    "طباعه",
    "القايمه",
    "بحث",
    "facebook",
    "twitter",
    "whatsapp",
    "telegram",
];

/// The longest [`FURNITURE_LINE`], in words.
const FURNITURE_LINE_WORDS: usize = 4;

/// A line this short (in words) that recurs is a site name or a label.
const SHORT_LINE_WORDS: usize = 4;

/// A source line ("المصدر: ...") after this many paragraphs ends the
/// article: scraped pages often run straight into the next story.
const SOURCE_LINE_ENDS_AFTER: usize = 3;

/// Arabic and Latin month names, to spot a bare date line.
const MONTHS: &[&str] = &[
    "يناير",
    "فبراير",
    "مارس",
    "ابريل",
    "مايو",
    "يونيو",
    "يوليو",
    "اغسطس",
    "سبتمبر",
    "اكتوبر",
    "نوفمبر",
    "ديسمبر",
    "كانون",
    "شباط",
    "اذار",
    "نيسان",
    "ايار",
    "حزيران",
    "تموز",
    "اب",
    "ايلول",
    "تشرين",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const WEEKDAYS: &[&str] = &[
    "السبت",
    "الاحد",
    "الاثنين",
    "الثلاثاء",
    "الاربعاء",
    "الخميس",
    "الجمعه",
];

/// Returns the main text of `input`, one paragraph per line.
pub fn clean(input: &str) -> String {
    clean_keyed(input).text
}

/// Returns the kept paragraphs of `input`.
pub fn clean_lines(input: &str) -> Vec<String> {
    clean_keyed(input).lines().map(String::from).collect()
}

/// The kept paragraphs and, for each, the token hashes of its canonical
/// words ([`crate::text::lexicon::word_token`]): the fingerprint reads them, so the
/// text is normalised and split once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cleaned {
    /// The kept paragraphs, one per line.
    pub text: String,
    /// Token hashes of the kept lines, one run per line.
    pub tokens: Vec<u64>,
    /// The numbers among them (as 32-bit hashes), one run per line.
    pub numbers: Vec<u32>,
    /// For each kept line, the end of its run in `tokens` and in `numbers`.
    pub ends: Vec<(u32, u32)>,
}

impl Cleaned {
    /// The kept paragraphs.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        // Kept lines come from `str::lines`: none holds a line break.
        self.text.split('\n').filter(|l| !l.is_empty())
    }

    /// Each kept line's token hashes and numbers.
    pub fn line_tokens(&self) -> impl Iterator<Item = (&[u64], &[u32])> {
        let mut from = (0, 0);
        self.ends.iter().map(move |&(t, n)| {
            let (t0, n0) = std::mem::replace(&mut from, (t as usize, n as usize));
            (
                self.tokens.get(t0..t as usize).unwrap_or_default(),
                self.numbers.get(n0..n as usize).unwrap_or_default(),
            )
        })
    }
}

/// One input line, read once: where its key sits in the key arena, a hash
/// of its tokens, its words, and where its tokens and numbers sit.
struct Line<'a> {
    text: &'a str,
    key: std::ops::Range<usize>,
    hash: u64,
    words: usize,
    /// A photo credit or archive caption ([`KeySink::caption`]).
    caption: bool,
    tokens: std::ops::Range<usize>,
    numbers: std::ops::Range<usize>,
}

/// How often a line occurs (told by its tokens), where first and last, and
/// whether it was kept already.
struct KeyStat {
    count: u32,
    first: u32,
    last: u32,
    kept: bool,
}

/// [`clean_lines`] with the token hashes of each kept line.
pub fn clean_keyed(input: &str) -> Cleaned {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
    }
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => {
            let out = clean_with(input, &mut s);
            // A huge page's buffers are not kept for the articles after it.
            if input.len() > MAX_KEPT_SCRATCH {
                *s = Scratch::default();
            }
            out
        }
        Err(_) => clean_with(input, &mut Scratch::default()),
    })
}

/// Inputs longer than this (bytes) leave no buffers behind.
const MAX_KEPT_SCRATCH: usize = 256 * 1024;

/// Buffers [`clean_keyed`] fills and empties on every call, kept per
/// thread so that an article costs no allocations but its result's.
#[derive(Default)]
struct Scratch {
    arena: String,
    tokens: Vec<u64>,
    numbers: Vec<u32>,
    key_scratch: KeyScratch,
    stats: HashMap<u64, KeyStat>,
    /// Where each kept line starts in the result's text.
    kept_at: Vec<usize>,
}

fn clean_with(input: &str, scratch: &mut Scratch) -> Cleaned {
    // Wire copy opens with a dateline («جنيف - وكالات»): not the story's.
    let input = &*super::headline::without_dateline(input);
    let Scratch {
        arena,
        tokens,
        numbers,
        key_scratch,
        stats,
        kept_at,
    } = scratch;
    arena.clear();
    tokens.clear();
    numbers.clear();
    stats.clear();
    kept_at.clear();
    let mut lines: Vec<Line> = Vec::with_capacity(64);
    TokenCache::with(|cache| {
        for text in split_lines(input).map(trim_line).filter(|l| !l.is_empty()) {
            let (k0, t0, n0) = (arena.len(), tokens.len(), numbers.len());
            let facts = line_key(text, key_scratch, arena, tokens, numbers, cache);
            lines.push(Line {
                text,
                key: k0..arena.len(),
                hash: line_hash(tokens.get(t0..).unwrap_or_default()),
                words: facts.words,
                caption: facts.caption,
                tokens: t0..tokens.len(),
                numbers: n0..numbers.len(),
            });
        }
    });
    let key_of = |l: &Line| arena.get(l.key.clone()).unwrap_or_default();
    stats.reserve(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let s = stats.entry(l.hash).or_insert(KeyStat {
            count: 0,
            first: i as u32,
            last: i as u32,
            kept: false,
        });
        s.count += 1;
        s.last = i as u32;
    }

    let mut out = Cleaned {
        text: String::with_capacity(input.len()),
        tokens: Vec::with_capacity(tokens.len()),
        numbers: Vec::with_capacity(numbers.len()),
        ends: Vec::with_capacity(lines.len()),
    };
    let mut skip_headline_after_read_also = false;
    for l in &lines {
        let (line, key, words) = (l.text, key_of(l), l.words);
        if key.is_empty() {
            continue;
        }
        if skip_headline_after_read_also {
            skip_headline_after_read_also = false;
            if words <= 14 && !ends_sentence(line) {
                continue;
            }
        }
        match line_kind(key, words) {
            LineKind::ReadAlso => {
                // "اقرأ أيضاً:" alone on its line is followed by the linked headline.
                skip_headline_after_read_also = words <= 3;
                continue;
            }
            LineKind::Furniture | LineKind::Date => continue,
            LineKind::Source => {
                if kept_at.len() >= SOURCE_LINE_ENDS_AFTER {
                    break;
                }
                continue;
            }
            LineKind::Text => {}
        }
        let Some(stat) = stats.get_mut(&l.hash) else {
            continue;
        };
        let count = stat.count;
        let headline_block = stat.last < 3;
        if count > 1 && words <= SHORT_LINE_WORDS && !headline_block {
            // Recurring short line: the site's name or a section label.
            continue;
        }
        if count > 1 && stat.first as usize > 2 && kept_at.len() > 1 {
            // A line printed twice inside the article is a photo caption
            // (the page's alt text and figcaption); a caption is not text.
            continue;
        }
        if l.caption {
            continue;
        }
        if std::mem::replace(&mut stat.kept, true) {
            continue;
        }
        if !kept_at.is_empty() {
            out.text.push('\n');
        }
        kept_at.push(out.text.len());
        out.text.push_str(line);
        out.tokens
            .extend_from_slice(tokens.get(l.tokens.clone()).unwrap_or_default());
        out.numbers
            .extend_from_slice(numbers.get(l.numbers.clone()).unwrap_or_default());
        out.ends
            .push((out.tokens.len() as u32, out.numbers.len() as u32));
    }
    // A name or label left after the last paragraph ("سيريانيوز").
    while kept_at.len() > 1
        && kept_at
            .last()
            .and_then(|&at| out.text.get(at..))
            .is_some_and(|l| at_most_two_words(l) && !ends_sentence(l))
    {
        if let Some(at) = kept_at.pop() {
            // The line and the line break before it.
            out.text.truncate(at.saturating_sub(1));
        }
        out.ends.pop();
        let (t, n) = out.ends.last().copied().unwrap_or((0, 0));
        out.tokens.truncate(t as usize);
        out.numbers.truncate(n as usize);
    }
    out
}

/// `line` without the white space and direction marks around it. Most
/// lines start with an Arabic letter and end with one or a full stop,
/// which are told at a glance.
fn trim_line(line: &str) -> &str {
    let b = line.as_bytes();
    let plain_start = match b.first() {
        Some(&c) if c.is_ascii() => !char::from(c).is_whitespace(),
        Some(0xD8..=0xDB) => true,
        _ => false,
    };
    // The last character is ASCII, or two bytes from the Arabic block.
    let plain_end = match b {
        [.., c] if c.is_ascii() => !char::from(*c).is_whitespace(),
        [.., 0xD8..=0xDB, c] => *c >= 0x80,
        _ => false,
    };
    if plain_start && plain_end {
        return line;
    }
    line.trim_matches(|c: char| c.is_whitespace() || c == '\u{200F}' || c == '\u{200E}')
}

/// The lines of `input` (without their `\n`; a `\r` before it is trimmed
/// with the other whitespace): `str::lines` with the memchr crate's
/// vectorised search (4 % of the pipeline's time on 4 KB articles).
fn split_lines(input: &str) -> impl Iterator<Item = &str> {
    let mut from = 0;
    memchr::memchr_iter(b'\n', input.as_bytes())
        .chain(std::iter::once(input.len()))
        .map(move |end| {
            let line = input.get(from..end).unwrap_or_default();
            from = end + 1;
            line
        })
}

/// The pieces of `line` between spaces (empty ones included). Words are a
/// few bytes long: eight bytes are searched at a time, with no call.
pub(crate) fn split_spaces(line: &str) -> impl Iterator<Item = &str> {
    let bytes = line.as_bytes();
    let mut from = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut at = from;
        let end = loop {
            match bytes.get(at..at + 8) {
                Some(b) => {
                    let x = u64::from_le_bytes(b.try_into().unwrap_or_default());
                    let t = x ^ 0x2020_2020_2020_2020;
                    let low7 = 0x7F7F_7F7F_7F7F_7F7F;
                    let zero = !(((t & low7) + low7) | t | low7);
                    if zero != 0 {
                        break at + (zero.trailing_zeros() / 8) as usize;
                    }
                    at += 8;
                }
                None => {
                    break match bytes
                        .get(at..)
                        .and_then(|b| b.iter().position(|&c| c == b' '))
                    {
                        Some(p) => at + p,
                        None => {
                            done = true;
                            bytes.len()
                        }
                    }
                }
            }
        };
        let chunk = line.get(from..end).unwrap_or_default();
        from = end + 1;
        Some(chunk)
    })
}

/// The words of a line that its key keeps: the patterns read a line's
/// start, and a date line has at most six words; a caption is told by its
/// last words and marks ([`KeySink::caption`]), longer lines by their
/// tokens.
const KEY_WORDS: usize = 6;

/// The most words a photo caption has.
const CAPTION_WORDS: usize = 16;

/// What [`line_key`] learns of a line besides its key.
struct LineFacts {
    words: usize,
    caption: bool,
}

/// Buffers [`line_key`] reuses: one for words being folded, two for a
/// line's last two words.
#[derive(Default)]
struct KeyScratch {
    word: String,
    last: [String; 2],
}

/// Where a line's key, tokens and numbers are written (appended).
struct KeySink<'a> {
    key: &'a mut String,
    tokens: &'a mut Vec<u64>,
    numbers: &'a mut Vec<u32>,
    cache: &'a mut TokenCache,
    words: usize,
    /// The first word may start a pattern ([`starts_pattern`]): the key
    /// takes the words after it.
    full_key: bool,
    /// A word the key has room for was left out.
    skipped: bool,
    /// A word holds a photo credit's mark ("تصوير:", "©").
    credit: bool,
    /// The last word may end a caption ([`ends_caption`]).
    tail: bool,
}

impl<'a> KeySink<'a> {
    fn new(
        key: &'a mut String,
        tokens: &'a mut Vec<u64>,
        numbers: &'a mut Vec<u32>,
        cache: &'a mut TokenCache,
    ) -> Self {
        KeySink {
            key,
            tokens,
            numbers,
            cache,
            words: 0,
            full_key: false,
            skipped: false,
            credit: false,
            tail: false,
        }
    }

    /// Adds a word (folded, and split from its neighbours).
    fn add(&mut self, w: &str, marked: bool) {
        self.push_key(w, None);
        self.tail = ends_caption(w);
        // A key word may hold ':' or '©', which split fingerprint words.
        if marked {
            self.credit |= w.contains("تصوير:") || w.contains('©');
            for part in w.split([':', '©']).filter(|p| !p.is_empty()) {
                self.push_token(part);
            }
        } else {
            self.push_token(w);
        }
    }

    /// Whether the next word goes into the key.
    fn key_takes_next(&self) -> bool {
        self.words == 0 || self.full_key && self.words < KEY_WORDS
    }

    /// Counts the word `w` and adds it to the key if the key takes it
    /// (`starts`: [`starts_pattern`] of `w` when known).
    fn push_key(&mut self, w: &str, starts: Option<bool>) {
        if self.words == 0 {
            self.full_key = starts.unwrap_or_else(|| starts_pattern(w));
            self.key.push_str(w);
        } else if self.key_takes_next() {
            self.key.push(' ');
            self.key.push_str(w);
        } else {
            self.skipped |= self.words < KEY_WORDS;
        }
        self.words += 1;
    }

    fn push_token(&mut self, w: &str) {
        self.cache.push_token(w, self.tokens, self.numbers);
    }

    /// Adds the words of `chunk`, a piece of a line between two spaces:
    /// from the token cache when it has seen the chunk before (then a plain
    /// chunk is not folded at all, nor another chunk the key does not
    /// take), else folded. False when the chunk needs NFKC.
    fn add_chunk(&mut self, chunk: &str, buf: &mut String) -> bool {
        let h = word_key(chunk);
        if let Some(c) = self.cache.chunk(h) {
            if !self.key_takes_next() {
                self.skipped |= self.words < KEY_WORDS;
                self.words += 1;
            } else if c.plain {
                self.push_key(chunk, Some(c.starts_pattern));
            } else if !fold_key_words(chunk, buf, |w, _| self.push_key(w, Some(c.starts_pattern))) {
                return false;
            }
            self.tail = c.ends_caption;
            self.tokens.push(c.token);
            if c.number {
                self.numbers.push(c.token as u32);
            }
            return true;
        }
        let (words, tokens, numbers) = (self.words, self.tokens.len(), self.numbers.len());
        let (mut plain, mut marked, mut starts) = (false, false, false);
        if !fold_key_words(chunk, buf, |w, m| {
            plain = w == chunk;
            marked |= m;
            starts = starts_pattern(w);
            self.add(w, m)
        }) {
            return false;
        }
        if let (true, false, Some(&token)) =
            (self.words == words + 1, marked, self.tokens.get(tokens))
        {
            let number = self.numbers.len() > numbers;
            self.cache.remember_chunk(
                h,
                Chunk {
                    token,
                    number,
                    plain,
                    starts_pattern: starts,
                    ends_caption: self.tail,
                },
            );
        }
        true
    }

    /// Whether the key must be made whole again ([`KeySink::rekey`]): a
    /// word was left out of it, and the line turned out short enough for
    /// every word to count ([`line_kind`] reads a short line whole).
    fn incomplete(&self) -> bool {
        self.skipped && self.words <= KEY_WORDS
    }

    /// Puts the `i`th word `w` of the line into the key again (the key
    /// emptied from `k0` before the first).
    fn rekey(&mut self, k0: usize, i: usize, w: &str) {
        if i == 0 {
            self.key.truncate(k0);
        } else if i < KEY_WORDS {
            self.key.push(' ');
        }
        if i < KEY_WORDS {
            self.key.push_str(w);
        }
    }

    /// Whether the line whose words were added (its key from `k0`) is a
    /// photo credit or an archive caption: "... - أرشيف", "تصوير: ...",
    /// "© ..."; `tail` gives its last two words when they are needed.
    fn caption(&mut self, k0: usize, tail: impl FnOnce(&mut TokenCache) -> bool) -> bool {
        self.words <= CAPTION_WORDS
            && (self.credit
                || self.key.get(k0..).is_some_and(|k| k.starts_with("صوره:"))
                || self.tail && tail(self.cache))
    }
}

/// The last two words of a line (whose chunks all fold) into `scratch`'s
/// `last`, the last one second; a word is "" when the line has fewer.
/// `from_end`: the line's chunks, from the last.
fn last_two_words<'a>(
    from_end: impl Iterator<Item = &'a str>,
    cache: &mut TokenCache,
    scratch: &mut KeyScratch,
) {
    let KeyScratch { word, last } = scratch;
    let [before, after] = last;
    before.clear();
    after.clear();
    // Chunks from the end: the first with words gives the last word (or
    // two), the next the one before.
    let mut found = 0;
    for chunk in from_end.filter(|c| !c.is_empty()) {
        let target = if found == 0 {
            &mut *after
        } else {
            &mut *before
        };
        let n = match cache.chunk(word_key(chunk)) {
            Some(c) if c.plain => {
                target.push_str(chunk);
                1
            }
            _ if found == 0 => {
                let mut n = 0;
                fold_key_words(chunk, word, |w, _| {
                    std::mem::swap(before, after);
                    after.clear();
                    after.push_str(w);
                    n += 1;
                });
                n
            }
            _ => {
                let mut n = 0;
                fold_key_words(chunk, word, |w, _| {
                    before.clear();
                    before.push_str(w);
                    n += 1;
                });
                n
            }
        };
        found += n;
        if found >= 2 {
            return;
        }
    }
}

/// Appends the comparison key of a line (normalised, punctuation folded to
/// single spaces; its first [`KEY_WORDS`] words) to `key`, the token hashes
/// of its words to `tokens` and its numbers to `numbers`; returns its
/// number of words and whether it is a caption.
fn line_key(
    line: &str,
    scratch: &mut KeyScratch,
    key: &mut String,
    tokens: &mut Vec<u64>,
    numbers: &mut Vec<u32>,
    cache: &mut TokenCache,
) -> LineFacts {
    let (k0, t0, n0) = (key.len(), tokens.len(), numbers.len());
    let mut sink = KeySink::new(key, tokens, numbers, cache);
    // The last two chunks, which usually hold the last two words.
    let mut tail = ["", ""];
    if split_spaces(line).filter(|c| !c.is_empty()).all(|c| {
        tail = [tail[1], c];
        sink.add_chunk(c, &mut scratch.word)
    }) {
        if sink.incomplete() {
            let mut i = 0;
            fold_key_words(line, &mut scratch.word, |w, _| {
                sink.rekey(k0, i, w);
                i += 1;
            });
        }
        let caption = sink.caption(k0, |cache| {
            let rest = line.rsplit(' ').filter(|c| !c.is_empty()).skip(2);
            last_two_words([tail[1], tail[0]].into_iter().chain(rest), cache, scratch);
            let [b, a] = &scratch.last;
            caption_tail([b, a])
        });
        return LineFacts {
            words: sink.words,
            caption,
        };
    }
    // Text that needs NFKC: normalise the line, then split it.
    sink.key.truncate(k0);
    sink.tokens.truncate(t0);
    sink.numbers.truncate(n0);
    let sink = KeySink::new(sink.key, sink.tokens, sink.numbers, sink.cache);
    line_key_normalised(line, sink)
}

/// [`line_key`] the long way: the whole line normalised, then split.
fn line_key_normalised(line: &str, mut sink: KeySink) -> LineFacts {
    let k0 = sink.key.len();
    let normalised = super::normalize::normalize(line);
    let words = || {
        normalised
            .split(|c: char| !(super::affixes::is_word_char(c) || c == ':' || c == '©'))
            .filter(|w| !w.is_empty())
    };
    let mut last = ["", ""];
    for w in words() {
        sink.add(w, w.contains([':', '©']));
        last = [last[1], w];
    }
    if sink.incomplete() {
        for (i, w) in words().enumerate() {
            sink.rekey(k0, i, w);
        }
    }
    LineFacts {
        words: sink.words,
        caption: sink.caption(k0, |_| caption_tail(last)),
    }
}

/// Tells lines apart by their canonical words.
fn line_hash(tokens: &[u64]) -> u64 {
    // Four lanes, a token in four to each: a step waits on a multiply, and
    // one lane would wait on every token in turn.
    let step = |h: u64, t: u64| (h ^ t).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31);
    let mut lanes = [tokens.len() as u64, 1, 2, 3];
    let mut quads = tokens.chunks_exact(4);
    for q in &mut quads {
        for (l, &t) in lanes.iter_mut().zip(q) {
            *l = step(*l, t);
        }
    }
    for (l, &t) in lanes.iter_mut().zip(quads.remainder()) {
        *l = step(*l, t);
    }
    lanes.into_iter().fold(0, step)
}

/// What a line is by its key (its first [`KEY_WORDS`] words) and its
/// number of words.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LineKind {
    /// "اقرأ أيضاً": a link to another article.
    ReadAlso,
    /// Tags, share blocks, user-interface text.
    Furniture,
    /// A date and nothing else.
    Date,
    /// "المصدر: ...", which may end the article.
    Source,
    Text,
}

fn line_kind(key: &str, words: usize) -> LineKind {
    if READ_ALSO.iter().any(|p| key.starts_with(p)) {
        LineKind::ReadAlso
    } else if words <= FURNITURE_LINE_WORDS && FURNITURE_LINE.contains(&key)
        || FURNITURE_PREFIX.iter().any(|p| key.starts_with(p))
    {
        LineKind::Furniture
    } else if is_date_line(key, words) {
        LineKind::Date
    } else if key.starts_with(SOURCE) && words <= 8 {
        LineKind::Source
    } else {
        LineKind::Text
    }
}

/// The start of a source line.
const SOURCE: &str = "المصدر";

/// Whether a key that starts with the word `w` may start like one of the
/// patterns [`line_kind`] reads at a line's start (the others read short
/// lines whole). A longer line whose first word cannot keeps that word
/// alone as its key.
fn starts_pattern(w: &str) -> bool {
    // A pattern of several words starts with its first word whole; a
    // one-word pattern is read as a prefix.
    static FIRST: std::sync::OnceLock<(Vec<&str>, Vec<&str>)> = std::sync::OnceLock::new();
    let (whole, prefixes) = FIRST.get_or_init(|| {
        let (mut whole, mut prefixes) = (Vec::new(), Vec::new());
        for p in READ_ALSO.iter().chain(FURNITURE_PREFIX).chain(&[SOURCE]) {
            match p.split_once(' ') {
                Some((first, _)) => whole.push(first),
                None => prefixes.push(*p),
            }
        }
        whole.sort_unstable();
        whole.dedup();
        (whole, prefixes)
    });
    whole.binary_search(&w).is_ok() || prefixes.iter().any(|p| w.starts_with(p))
}

/// Whether a caption may end with the word `w` ([`caption_tail`]).
fn ends_caption(w: &str) -> bool {
    w.ends_with("ارشيف") || w == "ارشيفيه" || w == "images"
}

/// Whether a line's last two words mark an archive photo or a photo
/// agency: "... - أرشيف", "صورة أرشيفية", "Getty Images".
fn caption_tail([before, last]: [&str; 2]) -> bool {
    last.ends_with("ارشيف")
        || (before.ends_with("صوره") && last == "ارشيفيه")
        || (before.ends_with("getty") && last == "images")
}

/// Whether `line` has at most two pieces between white space: three
/// pieces between ASCII spaces (most lines have many more) say no without
/// decoding the line.
fn at_most_two_words(line: &str) -> bool {
    split_spaces(line)
        .filter(|c| !c.is_empty())
        .nth(2)
        .is_none()
        && line.split_whitespace().nth(2).is_none()
}

/// "السبت , أبريل 20 2024", "2024-04-20": a line with a date and nothing else.
fn is_date_line(key: &str, words: usize) -> bool {
    if words == 0 || words > 6 {
        return false;
    }
    let mut has_date_part = false;
    for w in key.split(' ') {
        let is_num = w.chars().all(|c| c.is_ascii_digit());
        let is_month = MONTHS.contains(&w) || WEEKDAYS.contains(&w);
        if !(is_num || is_month || w == "م" || w == "هـ") {
            return false;
        }
        has_date_part |= is_month || (is_num && w.len() == 4);
    }
    has_date_part
}

fn ends_sentence(line: &str) -> bool {
    // Chinese and Japanese end sentences with their own marks, and write
    // a paragraph without spaces.
    line.trim_end()
        .ends_with(['.', '!', '؟', '?', '"', '»', '”', '。', '！', '？', '」'])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line's words, key, tokens and numbers and whether it is a
    /// caption, by [`line_key`] and by [`line_key_normalised`]; the caption
    /// also by the rule as written over the whole normalised line.
    type Keyed = (usize, bool, String, Vec<u64>, Vec<u32>);
    fn keyed_both_ways(line: &str, cache: &mut TokenCache, scratch: &mut KeyScratch) -> [Keyed; 2] {
        let (mut k1, mut t1, mut n1) = (String::new(), Vec::new(), Vec::new());
        let f1 = line_key(line, scratch, &mut k1, &mut t1, &mut n1, cache);
        let (mut k2, mut t2, mut n2) = (String::new(), Vec::new(), Vec::new());
        let f2 = line_key_normalised(
            line,
            KeySink::new(&mut k2, &mut t2, &mut n2, &mut TokenCache::default()),
        );
        let normalised = normalize(line);
        let whole: Vec<&str> = normalised
            .split(|c: char| !(crate::text::tokens::is_word_char(c) || c == ':' || c == '©'))
            .filter(|w| !w.is_empty())
            .collect();
        // The key is the first word alone when no pattern can start with
        // it: the patterns must read it as they read the whole first words.
        let first = whole
            .iter()
            .take(KEY_WORDS)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        for key in [&k1, &k2] {
            assert_eq!(
                line_kind(key, f1.words),
                line_kind(&first, whole.len()),
                "{line}"
            );
        }
        let whole = whole.join(" ");
        let caption = f2.words <= 16
            && (whole.ends_with("ارشيف")
                || whole.ends_with("صوره ارشيفيه")
                || whole.contains("تصوير:")
                || whole.contains('©')
                || whole.ends_with("getty images")
                || whole.starts_with("صوره:"));
        assert_eq!(f2.caption, caption, "{line}");
        [
            (f1.words, f1.caption, k1, t1, n1),
            (f2.words, f2.caption, k2, t2, n2),
        ]
    }

    #[test]
    fn line_keys_in_one_pass_equal_the_long_way() {
        let mut scratch = KeyScratch::default();
        for line in [
            "تصوير: أحمد — © رويترز 2024",
            "اقرأ أيضاً: أسعار الذهب في الأسواق المحلية",
            "السبت , أبريل 20 2024",
            "قالَ الرئيسُ الأمريكيّ إنّ «سورية» ـــ مهمة، و٢٠١٦ كان عاماً صعباً.",
            "Tags: Syria, Russia | XS SM MD LG",
            "الوزير في بروكسل - أرشيف",
            "الوزير في بروكسل (صورة أرشيفية)",
            "الوزير في بروكسل. Getty Images",
            "صورة: الوزير في بروكسل",
            "",
        ] {
            let [fast, long] = keyed_both_ways(line, &mut TokenCache::default(), &mut scratch);
            assert_eq!(fast, long, "{line}");
        }
    }

    #[test]
    fn captions_are_short_lines_with_credits_or_archive_marks() {
        let mut scratch = KeyScratch::default();
        let mut cache = TokenCache::default();
        let mut caption = |line: &str| keyed_both_ways(line, &mut cache, &mut scratch)[0].1;
        assert!(caption("الوزير يلقي كلمة في بروكسل. تصوير: رويترز"));
        assert!(caption("الوزير في بروكسل - أرشيف"));
        assert!(caption("الوزير في بروكسل (صورة أرشيفية)"));
        assert!(caption("© AFP"));
        assert!(caption("الوزير في بروكسل Getty Images"));
        assert!(!caption(
            "الوزير يلقي كلمة في بروكسل عن الأرشيف الوطني اليوم."
        ));
        let long = format!("{} - أرشيف", ["كلمة"; 16].join(" "));
        assert!(!caption(&long), "a 17-word line is text");
    }

    use crate::text::normalize::normalize;
    /// Lines drawn from chunks of every kind the fold treats apart, keyed
    /// twice with one cache (the second time mostly from remembered
    /// chunks), against the normalise-then-split way.
    #[test]
    fn line_keys_from_remembered_chunks_equal_the_long_way() {
        let pieces = [
            "قال",
            "الرئيس",
            "الأمريكي",
            "سورية",
            "سوريا،",
            "«موسكو»",
            "إلى",
            "مُهِمّة",
            "مـــوسكو",
            "٢٠١٦",
            "2016",
            "12,5",
            "تصوير:",
            "©",
            "رويترز:",
            "ABC",
            "Kremlin-Moscow",
            "café",
            "ﺳﻮﺭﻳﺎ",
            "a\u{0301}b",
            "كرملين\u{200C}موسكو",
            "روسيا\u{A0}وأمريكا",
            "تاب\tهنا",
            "،",
            "",
            "\u{0651}",
            "ارشيف",
            "والارشيف.",
            "أرشيف",
            "صورة",
            "أرشيفية",
            "أرشيفية)",
            "Getty",
            "Images",
            "صورة:",
            "اقرأ",
            "أيضاً",
            "أيضاً:",
            "المصدر",
            "المصدر:",
            "كلمات",
            "دلالية",
            "السبت",
            "أبريل",
            "20",
            "تابعونا",
            "Tags:",
            "SHARE",
            "وكالات",
            "جميع",
            "الحقوق",
            "محفوظة",
        ];
        let mut rng = crate::text::fingerprint::tests::xorshift(0x5EED);
        let mut next = move || rng() as usize;
        let lines: Vec<String> = (0..300)
            .map(|_| {
                let n = 1 + next() % 24;
                let words: Vec<&str> = (0..n).map(|_| pieces[next() % pieces.len()]).collect();
                words.join(" ")
            })
            .collect();
        let mut cache = TokenCache::default();
        let mut scratch = KeyScratch::default();
        for round in 0..2 {
            for line in &lines {
                let [fast, long] = keyed_both_ways(line, &mut cache, &mut scratch);
                assert_eq!(fast, long, "round {round}: {line}");
            }
        }
    }

    #[test]
    fn lines_trim_like_the_general_trim() {
        for line in [
            "سوريا.",
            " سوريا ",
            "\u{200F}سوريا\u{200E}",
            "\u{A0}سوريا\u{3000}",
            "\u{B}x\u{B}",
            "\tx\r",
            "«سوريا»",
            "x",
            "ي",
            "",
            " ",
        ] {
            let want = line
                .trim_matches(|c: char| c.is_whitespace() || c == '\u{200F}' || c == '\u{200E}');
            assert_eq!(trim_line(line), want, "{line:?}");
        }
    }

    #[test]
    fn line_hashes_tell_order_and_length_apart() {
        let t: Vec<u64> = (1..=9).map(|i| i * 0x0123_4567_89AB_CDEF).collect();
        let mut seen = std::collections::HashSet::new();
        for n in 0..=t.len() {
            assert!(seen.insert(line_hash(&t[..n])), "prefix {n}");
            let mut r = t[..n].to_vec();
            r.reverse();
            assert!(n < 2 || seen.insert(line_hash(&r)), "reversed {n}");
        }
        assert_ne!(line_hash(&[0]), line_hash(&[0, 0]));
    }

    #[test]
    fn two_words_at_most() {
        for (line, want) in [
            ("سيريانيوز", true),
            ("شام تايمز", true),
            ("شام  تايمز ", true),
            ("شام\u{A0}تايمز\u{A0}اليوم", false),
            ("شام تايمز اليوم", false),
            ("", true),
        ] {
            assert_eq!(at_most_two_words(line), want, "{line:?}");
            assert_eq!(line.split_whitespace().count() <= 2, want, "{line:?}");
        }
    }

    #[test]
    fn pieces_between_spaces() {
        let line = "ab  cdefghijklmnopq r stuvwxyz0123456789 ";
        let want: Vec<&str> = line.split(' ').collect();
        assert_eq!(split_spaces(line).collect::<Vec<_>>(), want);
        assert_eq!(split_spaces("").collect::<Vec<_>>(), vec![""]);
    }

    #[test]
    fn headline_repeated_three_times_is_kept_once() {
        let t = "عنوان الخبر عن سوريا وروسيا اليوم\n\nعنوان الخبر عن سوريا وروسيا اليوم\nعنوان الخبر عن سوريا وروسيا اليوم\nفقرة أولى.";
        assert_eq!(
            clean_lines(t),
            vec!["عنوان الخبر عن سوريا وروسيا اليوم", "فقرة أولى."]
        );
    }

    #[test]
    fn a_last_paragraph_written_without_spaces_is_no_label() {
        let text = "半月谈记者 史卫燕\n益水之阳，是名益阳。这个洞庭湖区的重要城市，60年前就曾在作家周立波笔下展现风貌。";
        assert_eq!(clean_lines(text).len(), 2);
        // A two-word name after the last paragraph still goes.
        assert_eq!(
            clean_lines("نص الخبر الكامل هنا في فقرة طويلة.\nسيريا نيوز").len(),
            1
        );
    }

    #[test]
    fn recurring_site_name_is_dropped() {
        let t = "شام تايمز\nفقرة أولى من النص.\nشام تايمز\nفقرة ثانية من النص.\nشام تايمز";
        assert_eq!(
            clean_lines(t),
            vec!["فقرة أولى من النص.", "فقرة ثانية من النص."]
        );
    }

    #[test]
    fn read_also_and_its_headline_are_dropped() {
        let t = "فقرة.\nاقرأ أيضاً:\nعنوان خبر آخر لا علاقة له\nفقرة أخيرة.";
        assert_eq!(clean_lines(t), vec!["فقرة.", "فقرة أخيرة."]);
        let t = "فقرة.\nإقرأ ايضاً:حرب بايدن مع بوتين.. إردوغان مع من؟";
        assert_eq!(clean_lines(t), vec!["فقرة."]);
    }

    #[test]
    fn ui_junk_is_dropped() {
        let t = "Accessibility links\nSHARE\nالنص.\nXS SM MD LG\nclose";
        assert_eq!(clean_lines(t), vec!["النص."]);
    }

    #[test]
    fn doubled_caption_is_dropped_but_headline_kept() {
        let t = "العنوان الرئيسي للخبر هنا\nالعنوان الرئيسي للخبر هنا\nفقرة أولى.\nفقرة ثانية.\nالوزير يلقي كلمة في بروكسل. تصوير: رويترز\nالوزير يلقي كلمة في بروكسل. تصوير: رويترز\nفقرة ثالثة.";
        assert_eq!(
            clean_lines(t),
            vec![
                "العنوان الرئيسي للخبر هنا",
                "فقرة أولى.",
                "فقرة ثانية.",
                "فقرة ثالثة."
            ]
        );
    }

    #[test]
    fn date_and_source_lines() {
        let t = "السبت , أبريل 20 2024\nأولى.\nثانية.\nثالثة.\nالمصدر: صدى البلد\nخبر آخر عن كندا.";
        assert_eq!(clean_lines(t), vec!["أولى.", "ثانية.", "ثالثة."]);
    }

    #[test]
    fn patterns_are_written_normalised() {
        for p in READ_ALSO
            .iter()
            .chain(FURNITURE_PREFIX)
            .chain(FURNITURE_LINE)
            .chain(MONTHS)
            .chain(WEEKDAYS)
        {
            assert_eq!(
                normalize(p),
                *p,
                "pattern {p:?} can never match a normalised line"
            );
        }
        for p in FURNITURE_LINE {
            assert!(p.split(' ').count() <= FURNITURE_LINE_WORDS, "{p}");
        }
    }

    #[test]
    fn unique_paragraphs_stay_in_order() {
        let t = "ثالثة.\nأولى.\nثانية.";
        assert_eq!(clean_lines(t), vec!["ثالثة.", "أولى.", "ثانية."]);
    }
}
