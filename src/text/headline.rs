//! Headlines and article openings as a reader wants them: without the
//! outlet's name that feeds append or prepend to every title («… | الشام
//! اليوم», «الشام اليوم - …»), and without the dateline that opens wire copy
//! («جنيف - وكالات», «موسكو (رويترز) -»).
//!
//! Outlet names are learned, not listed: from the feed's own title and
//! from repetition across the feed's items. A dateline is told by its
//! shape: a place of a few words, a dash, a source of a few words (or in
//! brackets), at the very start.
//!
//! PURE: strings in, strings out.

use std::borrow::Cow;
use std::collections::HashMap;

use super::normalize::normalize;

/// What separates an outlet's name from a headline.
const SEPARATORS: [&str; 6] = [" | ", " - ", " – ", " — ", " :: ", " || "];

/// An outlet's name is short.
const MAX_NAME_WORDS: usize = 6;

/// What is left of a headline after its outlet's name must still be one.
const MIN_LEFT_WORDS: usize = 2;

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// The text before the last separator and the part after it.
fn split_last(title: &str) -> Option<(&str, &str)> {
    SEPARATORS
        .iter()
        .filter_map(|sep| title.rfind(sep).map(|i| (i, sep.len())))
        .max_by_key(|(i, _)| *i)
        .map(|(i, len)| (&title[..i], &title[i + len..]))
}

/// The part before the first separator and the text after it.
fn split_first(title: &str) -> Option<(&str, &str)> {
    SEPARATORS
        .iter()
        .filter_map(|sep| title.find(sep).map(|i| (i, sep.len())))
        .min_by_key(|(i, _)| *i)
        .map(|(i, len)| (&title[..i], &title[i + len..]))
}

/// A name as compared: normalised Arabic, case folded, spaces single.
fn key(s: &str) -> String {
    normalize(s)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// True when an affix of `n` words standing beside `rest` may be a name.
fn name_shaped(affix: &str, rest: &str) -> bool {
    let n = words(affix);
    (1..=MAX_NAME_WORDS).contains(&n) && words(rest) >= MIN_LEFT_WORDS
}

/// The outlet names of a feed: those its title gives, and the affixes
/// that recur at one end of its headlines.
#[derive(Debug, Clone, Default)]
pub struct Outlet {
    names: Vec<String>,
}

impl Outlet {
    /// Learns the names from the feed's `title` and its `headlines`.
    pub fn learn(title: Option<&str>, headlines: &[&str]) -> Outlet {
        let mut names: Vec<String> = Vec::new();
        if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
            names.push(key(t));
            // "الشام اليوم - أخبار سوريا": each part may be the name used.
            let mut rest = t;
            while let Some((part, more)) = split_first(rest) {
                names.push(key(part));
                rest = more;
            }
            names.push(key(rest));
        }
        // An affix shared by at least two headlines and a third of them.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for h in headlines {
            let mut mine: Vec<String> = Vec::new();
            if let Some((rest, last)) = split_last(h) {
                if name_shaped(last, rest) {
                    mine.push(key(last));
                }
            }
            if let Some((first, rest)) = split_first(h) {
                if name_shaped(first, rest) {
                    mine.push(key(first));
                }
            }
            mine.dedup();
            for m in mine {
                *seen.entry(m).or_default() += 1;
            }
        }
        let enough = (headlines.len() / 3).max(2);
        names.extend(
            seen.into_iter()
                .filter(|(_, n)| *n >= enough)
                .map(|(k, _)| k),
        );
        names.retain(|n| !n.is_empty());
        names.sort();
        names.dedup();
        Outlet { names }
    }

    fn is_name(&self, affix: &str) -> bool {
        let k = key(affix);
        if k.is_empty() {
            return false;
        }
        // The name as the feed titles itself, or the larger part of that
        // title ("الشام اليوم" of "صحيفة الشام اليوم"), as whole words.
        self.names.iter().any(|n| {
            *n == k
                || (words(&k) >= 2
                    && words(&k) * 2 >= words(n)
                    && format!(" {n} ").contains(&format!(" {k} ")))
        })
    }

    /// `headline` without the outlet's name at either end.
    pub fn strip<'a>(&self, headline: &'a str) -> &'a str {
        let mut h = headline.trim();
        if let Some((rest, last)) = split_last(h) {
            if name_shaped(last, rest) && self.is_name(last) {
                h = rest.trim_end();
            }
        }
        if let Some((first, rest)) = split_first(h) {
            if name_shaped(first, rest) && self.is_name(first) {
                h = rest.trim_start();
            }
        }
        h
    }
}

/// Dashes between a dateline's place and its source.
const PLACE_DASHES: [char; 3] = ['-', '–', '—'];

/// Dashes (or a colon) after its source.
const DASHES: [char; 4] = ['-', '–', '—', ':'];

/// A dateline's place (a city, perhaps with a date) is this short.
const MAX_PLACE_WORDS: usize = 4;

/// So is its source ("وكالات", "أ ف ب", "سانا").
const MAX_SOURCE_WORDS: usize = 3;

/// `text` without the dateline that opens it, if it opens with one:
/// a line of its own («جنيف - وكالات»), or the start of the first
/// paragraph («موسكو (رويترز) - قال …», «دمشق - سانا: أعلن …»).
pub fn without_dateline(text: &str) -> Cow<'_, str> {
    let start = text.len() - text.trim_start().len();
    let body = &text[start..];
    let line_end = body.find('\n').unwrap_or(body.len());
    let line = &body[..line_end];
    match dateline_len(line) {
        Some(n) => {
            let rest = line[n..].trim_start();
            if rest.is_empty() {
                // The whole line was the dateline.
                Cow::Owned(
                    body[line_end..]
                        .trim_start_matches(['\n', '\r'])
                        .to_string(),
                )
            } else {
                Cow::Owned(format!("{rest}{}", &body[line_end..]))
            }
        }
        None => Cow::Borrowed(text),
    }
}

/// Words of a dateline part: letters, digits and the date's comma.
fn plain_words(s: &str) -> Option<usize> {
    let s = s.trim();
    if s.is_empty()
        || !s.chars().all(|c| {
            c.is_alphanumeric() || c.is_whitespace() || matches!(c, '،' | ',' | '.' | '\u{640}')
        })
    {
        return None;
    }
    Some(words(s))
}

/// The length of the dateline at the start of `line`, if there is one.
fn dateline_len(line: &str) -> Option<usize> {
    // PLACE, then "(SOURCE)" or "- SOURCE", then a dash or the line's end.
    let bracket = line.find('(');
    let dash = line.find(PLACE_DASHES);
    let (place_end, source_start, bracketed) = match (bracket, dash) {
        (Some(b), Some(d)) if b < d => (b, b + 1, true),
        (Some(b), None) => (b, b + 1, true),
        (_, Some(d)) => (d, d + line[d..].chars().next()?.len_utf8(), false),
        (None, None) => return None,
    };
    let place = &line[..place_end];
    if !(1..=MAX_PLACE_WORDS).contains(&plain_words(place)?) {
        return None;
    }
    let after = &line[source_start..];
    let (source, mut end) = if bracketed {
        let close = after.find(')')?;
        (&after[..close], source_start + close + 1)
    } else {
        let after_trim = after.trim_start();
        let lead = after.len() - after_trim.len();
        // "- (رويترز) -" or "- سانا:" or "- وكالات" ending the line.
        if let Some(inner) = after_trim.strip_prefix('(') {
            let close = inner.find(')')?;
            (&inner[..close], source_start + lead + 1 + close + 1)
        } else {
            let stop = after_trim.find(DASHES).unwrap_or(after_trim.len());
            (&after_trim[..stop], source_start + lead + stop)
        }
    };
    if !(1..=MAX_SOURCE_WORDS).contains(&plain_words(source)?) {
        return None;
    }
    let tail = &line[end..];
    let tail_trim = tail.trim_start();
    match tail_trim.chars().next() {
        // The dateline is the whole line.
        None => Some(line.len()),
        Some(c) if DASHES.contains(&c) => {
            end += tail.len() - tail_trim.len() + c.len_utf8();
            Some(end)
        }
        // "موسكو (رويترز) قال": a bracketed source may run into the text;
        // "واشنطن - موسكو تتفقان" may not: that is a sentence.
        Some(_) if bracketed => Some(end),
        Some(_) => None,
    }
}

/// How far a headline is from clean (lower is cleaner): separators left,
/// labels such as «عاجل» or «بالفيديو», a cut-off end, a headline too
/// long or too short. Of a story's copies the cleanest is shown.
pub fn untidiness(headline: &str) -> usize {
    let h = headline.trim();
    let mut score = SEPARATORS
        .iter()
        .map(|s| h.matches(s).count())
        .sum::<usize>()
        * 2;
    score += h.matches('|').count();
    let k = key(h);
    for label in [
        "عاجل",
        "بالفيديو",
        "بالصور",
        "شاهد",
        "فيديو",
        "خاص",
        "حصري",
        "مباشر",
    ] {
        if k.split_whitespace()
            .next()
            .is_some_and(|w| w.trim_matches(|c: char| !c.is_alphanumeric()) == label)
        {
            score += 3;
        }
    }
    if h.ends_with('…') || h.ends_with("...") {
        score += 3;
    }
    let n = words(h);
    if n < 3 {
        score += 2;
    }
    if n > 25 {
        score += 2;
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden file: blocks of `feed: TITLE`, then `input => expected`
    /// lines for that feed's headlines.
    #[test]
    fn golden_headlines() {
        let golden = include_str!("../../tests/data/headlines.txt");
        let mut failures = Vec::new();
        for block in golden.split("\n\n") {
            let mut feed_title = None;
            let mut cases: Vec<(&str, &str)> = Vec::new();
            for line in block
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            {
                if let Some(t) = line.strip_prefix("feed:") {
                    feed_title = Some(t.trim()).filter(|t| !t.is_empty());
                } else if let Some((i, o)) = line.split_once(" => ") {
                    cases.push((i.trim(), o.trim()));
                }
            }
            let inputs: Vec<&str> = cases.iter().map(|(i, _)| *i).collect();
            let outlet = Outlet::learn(feed_title, &inputs);
            for (i, o) in &cases {
                let got = outlet.strip(i);
                if got != *o {
                    failures.push(format!("{i}\n  want {o}\n  got  {got}"));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn datelines_go_and_sentences_stay() {
        let d = |s: &str| without_dateline(s).into_owned();
        assert_eq!(d("جنيف - وكالات\nبحث وزير الخارجية"), "بحث وزير الخارجية");
        assert_eq!(d("موسكو (رويترز) - قال الكرملين"), "قال الكرملين");
        assert_eq!(d("دمشق - سانا: أعلن الجيش"), "أعلن الجيش");
        assert_eq!(d("واشنطن – أ ف ب: قال البيت الأبيض"), "قال البيت الأبيض");
        assert_eq!(d("بيروت، 3 سبتمبر (أ ف ب) قالت مصادر"), "قالت مصادر");
        assert_eq!(d("جنيف - (وكالات) - التقى"), "التقى");
        // Not datelines.
        for s in [
            "واشنطن - موسكو تتفقان على هدنة",
            "قال لافروف إن الهدنة صامدة - وأضاف أن",
            "الولايات المتحدة وروسيا وتركيا وإيران والسعودية - وكالات",
            "سوريا: الهدنة صامدة في حلب وإدلب منذ أسبوع",
            "",
        ] {
            assert_eq!(d(s), s);
        }
    }

    #[test]
    fn the_cleanest_headline_scores_lowest() {
        let wire = "لافروف وكيري يبحثان في جنيف وقف إطلاق النار في سوريا";
        assert!(untidiness(wire) < untidiness("عاجل | لافروف وكيري يبحثان وقف إطلاق النار"));
        assert!(untidiness(wire) < untidiness("لافروف وكيري يبحثان في جنيف وقف إطلاق..."));
        assert_eq!(untidiness(wire), 0);
    }
}
