//! Arabic word characters, clitic prefixes and noun suffixes: the leaf of
//! the text engine that normalisation and the tokenizer both read (it reads
//! neither).

/// Clitic prefix sequences, longest first so that the matcher tries the most
/// specific split. Combinations of و ف (conjunctions), ب ك ل (prepositions),
/// س (future) and ال (article).
pub(crate) const PREFIXES: &[&str] = &[
    "وبال", "فبال", "وكال", "فكال", "ولل", "فلل", "وال", "فال", "بال", "كال", "لل", "ال", "وب",
    "فب", "ول", "فل", "وك", "فك", "وس", "فس", "و", "ف", "ب", "ك", "ل", "س",
];

/// Suffixes of nouns and adjectives (nisba, plurals, duals, feminine) after
/// normalisation (ة is already ه).
pub(crate) const SUFFIXES: &[&str] = &[
    "يين", "يون", "يتين", "يتان", "يات", "يان", "يه", "ين", "ون", "ات", "ان", "ي", "ه", "ا",
];

/// The clitic prefix sequences `tok` starts with, longest first, leaving at
/// least two letters: an optional conjunction (و ف), then a preposition
/// (ب ك with an optional article, ل, or لل), the future س, or the article.
/// Walked letter by letter rather than tested against every sequence: this
/// runs on every token.
pub fn clitic_prefixes_of(tok: &str) -> impl Iterator<Item = &str> + '_ {
    let b = tok.as_bytes();
    // Every letter tested is two bytes in UTF-8: compare byte pairs rather
    // than decode characters.
    let letter = |at: usize| -> [u8; 2] {
        match b.get(at..at + 2) {
            Some(&[x, y]) => [x, y],
            _ => [0, 0],
        }
    };
    let mut lens = [0usize; 8];
    let mut n = 0;
    let mut push = |l: usize| {
        if n < lens.len() && l > 0 && b.len() >= l + 4 && !lens[..n].contains(&l) {
            lens[n] = l;
            n += 1;
        }
    };
    let conj = match letter(0) {
        WAW | FA => 2,
        _ => 0,
    };
    // After the conjunction, and (when there is one) also without it.
    for start in [conj, 0] {
        match letter(start) {
            BA | KAF => {
                if letter(start + 2) == ALEF && letter(start + 4) == LAM {
                    push(start + 6);
                }
                push(start + 2);
            }
            LAM => {
                if letter(start + 2) == LAM {
                    push(start + 4);
                }
                push(start + 2);
            }
            SIN => push(start + 2),
            _ => {}
        }
        if letter(start) == ALEF && letter(start + 2) == LAM {
            push(start + 4);
        }
        push(start);
    }
    lens[..n].sort_unstable_by(|a, b| b.cmp(a));
    (0..n).map(move |i| &tok[..lens[i]])
}

/// The UTF-8 bytes of the letters the affix walks test.
const WAW: [u8; 2] = [0xD9, 0x88];
const FA: [u8; 2] = [0xD9, 0x81];
const BA: [u8; 2] = [0xD8, 0xA8];
const KAF: [u8; 2] = [0xD9, 0x83];
const LAM: [u8; 2] = [0xD9, 0x84];
const SIN: [u8; 2] = [0xD8, 0xB3];
const ALEF: [u8; 2] = [0xD8, 0xA7];
const YA: [u8; 2] = [0xD9, 0x8A];
const HA: [u8; 2] = [0xD9, 0x87];
const TA: [u8; 2] = [0xD8, 0xAA];
const NUN: [u8; 2] = [0xD9, 0x86];

/// The noun/adjective suffixes `s` ends with, leaving at least two letters.
/// Read from the last letters backwards (every suffix ends in ا ي ه ت or ن)
/// rather than tested one by one: this runs for every candidate split.
pub fn noun_suffixes_of(s: &str) -> impl Iterator<Item = &str> + '_ {
    let b = s.as_bytes();
    // The i-th letter from the end (1-based), as its two bytes. Only
    // two-byte letters are compared, so the pairs stay aligned.
    let back = |i: usize| -> [u8; 2] {
        match b.len().checked_sub(2 * i).and_then(|at| b.get(at..at + 2)) {
            Some(&[x, y]) => [x, y],
            _ => [0, 0],
        }
    };
    let (c1, c2, c3, c4) = (back(1), back(2), back(3), back(4));
    // Suffixes as letters read backwards, longest first.
    let found: [Option<usize>; 4] = match c1 {
        ALEF | YA => [Some(1), None, None, None],
        HA => [(c2 == YA).then_some(2), Some(1), None, None],
        TA if c2 == ALEF => [(c3 == YA).then_some(3), Some(2), None, None],
        NUN => match c2 {
            YA if c3 == YA => [Some(3), Some(2), None, None],
            YA if c3 == TA && c4 == YA => [Some(4), Some(2), None, None],
            YA => [Some(2), None, None, None],
            WAW if c3 == YA => [Some(3), Some(2), None, None],
            WAW => [Some(2), None, None, None],
            ALEF if c3 == TA && c4 == YA => [Some(4), Some(2), None, None],
            ALEF if c3 == YA => [Some(3), Some(2), None, None],
            ALEF => [Some(2), None, None, None],
            _ => [None; 4],
        },
        _ => [None; 4],
    };
    found.into_iter().flatten().filter_map(move |letters| {
        let bytes = 2 * letters;
        (s.len() >= bytes + 4).then(|| &s[s.len() - bytes..])
    })
}

/// Function words (normalised): they carry no identity in a headline and
/// no fact of an event. Kept short on purpose; names must never be here.
pub const FUNCTION_WORDS: &[&str] = &[
    "في", "من", "الي", "علي", "عن", "مع", "ان", "او", "و", "ما", "لا", "قد", "بعد", "قبل", "خلال",
    "بين", "هذا", "هذه", "التي", "الذي", "حول",
];

/// True when `p` is one of the clitic prefix sequences.
pub fn is_clitic_prefix(p: &str) -> bool {
    PREFIXES.contains(&p)
}

/// True for letters and digits. The Arabic letters are tested by range
/// first: `char::is_alphanumeric` takes a slow table path for them, and
/// this test runs on every character of every article.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    match c {
        '\u{0621}'..='\u{063A}'
        | '\u{0641}'..='\u{064A}'
        | '\u{0660}'..='\u{0669}'
        | '\u{066E}'..='\u{06D3}' => true,
        '\u{0600}'..='\u{06FF}' => false,
        _ => c.is_alphanumeric(),
    }
}
