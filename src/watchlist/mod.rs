//! The watchlist: a TOML file users edit by hand, compiled once into a
//! matcher that scores an item against every topic in one pass and explains
//! each match. Pure: the caller reads the file.
//!
//! ```toml
//! [lists]                                  # named term lists, used as "@name"
//! russia = ["روسي", { term = "موسكو", form = "name" }, "الكرملين"]
//!
//! [[topic]]
//! id = "syria-us-russia"
//! name = "سوريا في العلاقات الأمريكية الروسية"
//! alert = "immediate"                      # or "digest"
//! all = [["سوريا", "دمشق"], ["واشنطن"], ["@russia"]]   # every group, any term of each
//! none = ["موسكو ايداهو"]                  # exclusions
//! near = [{ groups = [["@russia"], ["واشنطن"]], within = 12 }]   # proximity
//! weights = [{ terms = ["سوريا"], weight = 1 }, { terms = ["أوكرانيا"], weight = -1 }]
//! threshold = 1                            # the weighted score must reach it
//! ```
//!
//! A group may be a table to choose its field: `{ terms = [...], in = "title" }`.
//! A term is a word or a phrase; it matches with clitic prefixes (و ف ب ك ل
//! ال and their combinations) and noun/adjective suffixes. A term written as
//! a table picks its form: `{ term = "بوتين", form = "name" }` (prefixes but
//! no article, no suffix) or `form = "exact"`.

mod matcher;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::Located;
use crate::text::tokens::Affixes;
use matcher::{recycle_occurrences, Dictionary, Document, Found, Group, Near, Term};
pub use matcher::{Field, Hit, Match, Scope};

/// When a topic's matches are mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertMode {
    /// An email per story, after the grouping window.
    Immediate,
    /// Only in scheduled digests.
    Digest,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatchlist {
    #[serde(default)]
    lists: BTreeMap<String, Spanned<Vec<RawTerm>>>,
    #[serde(default)]
    topic: Vec<RawTopic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    id: Spanned<String>,
    name: Option<String>,
    #[serde(default = "default_alert")]
    alert: AlertMode,
    #[serde(default)]
    recipients: Vec<Spanned<String>>,
    #[serde(default)]
    all: Vec<Spanned<RawGroup>>,
    any: Option<Spanned<RawGroup>>,
    none: Option<Spanned<RawGroup>>,
    #[serde(default)]
    near: Vec<Spanned<RawNear>>,
    #[serde(default)]
    weights: Vec<Spanned<RawWeight>>,
    threshold: Option<Spanned<f64>>,
}

fn default_alert() -> AlertMode {
    AlertMode::Immediate
}

#[derive(Debug)]
enum RawGroup {
    Terms(Vec<RawTerm>),
    Table(RawGroupTable),
}

/// What a group looks like, for errors that say what was expected.
const GROUP_SHAPE: &str = "a group of terms: a list such as [\"سوريا\", \"سورية\"], or a table \
     { terms = [...], in = \"title\" } (`any` and `none` are one group; `all` is a list of \
     groups, all = [[\"سوريا\"], [\"روسيا\", \"موسكو\"]])";

// By hand rather than `untagged`: serde's untagged error says only that no
// variant matched; a user needs to hear what shape was expected.
impl<'de> Deserialize<'de> for RawGroup {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawGroup;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(GROUP_SHAPE)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawGroup, E> {
                Err(E::custom(format!(
                    "{v:?} is a term, where {GROUP_SHAPE} was expected: write [{v:?}]"
                )))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<RawGroup, A::Error> {
                Vec::<RawTerm>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(RawGroup::Terms)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawGroup, A::Error> {
                RawGroupTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawGroup::Table)
            }
        }
        d.deserialize_any(Visit)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroupTable {
    terms: Vec<RawTerm>,
    #[serde(default, rename = "in")]
    scope: Scope,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNear {
    groups: Vec<Vec<RawTerm>>,
    within: u32,
    #[serde(default, rename = "in")]
    scope: Scope,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeight {
    terms: Vec<RawTerm>,
    weight: f64,
    #[serde(default, rename = "in")]
    scope: Scope,
}

#[derive(Debug, Clone)]
enum RawTerm {
    Plain(String),
    Table(RawTermTable),
}

impl<'de> Deserialize<'de> for RawTerm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawTerm;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a term: a string such as \"سوريا\", or a table { term = \"...\", form = \"exact\" }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawTerm, E> {
                Ok(RawTerm::Plain(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawTerm, A::Error> {
                RawTermTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawTerm::Table)
            }
        }
        d.deserialize_any(Visit)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTermTable {
    term: String,
    #[serde(default)]
    form: Option<Form>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Form {
    Exact,
    Name,
    Word,
}

/// Occurrences of one weighted term counted at most this many times, so a
/// long article does not win on repetition alone.
const WEIGHT_CAP: usize = 3;

/// One compiled topic.
#[derive(Debug, Clone)]
pub struct Topic {
    pub id: String,
    pub name: String,
    pub alert: AlertMode,
    /// As written; the config checks them as addresses when it loads the
    /// watchlist (this module does no I/O and knows no mail stack).
    pub recipients: Vec<Recipient>,
    groups: Vec<Group>,
    none: Group,
    near: Vec<Near>,
    weights: Vec<(Group, f64)>,
    threshold: Option<f64>,
}

/// A topic's recipient as written, and where (a byte offset in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: String,
    pub offset: usize,
}

/// The compiled watchlist.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    pub topics: Vec<Topic>,
    dict: Dictionary,
    /// For each term: the (topic, `all` group) pairs it belongs to, so an
    /// item is judged only by topics whose every group has a candidate hit.
    members: Vec<Vec<(u32, u8)>>,
}

/// Why an item did or did not match a topic: for replays and near misses.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub matched: Option<Match>,
    /// The weighted score, when the topic has weights.
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    /// Every `all` group and `near` rule held (the score may still be short).
    pub groups_held: bool,
    /// How many `all` groups and `near` rules did not hold.
    pub groups_missing: usize,
    pub excluded: bool,
}

struct Compiler<'a> {
    file: &'a Path,
    source: &'a str,
    lists: BTreeMap<String, Vec<RawTerm>>,
    dict: Dictionary,
}

impl Compiler<'_> {
    fn err(&self, span: Range<usize>, msg: String) -> Located {
        Located::at(self.file, self.source, span.start, msg)
    }

    fn terms(&mut self, raw: &[RawTerm], span: &Range<usize>) -> Result<Vec<u32>, Located> {
        let mut out = Vec::new();
        for t in raw {
            let (text, form) = match t {
                RawTerm::Plain(s) => (s.as_str(), None),
                RawTerm::Table(tt) => (tt.term.as_str(), tt.form),
            };
            if let (Some(name), None) = (text.trim().strip_prefix('@'), form) {
                let Some(list) = self.lists.get(name).cloned() else {
                    return Err(
                        self.err(span.clone(), format!("no list named {name:?} in [lists]"))
                    );
                };
                if list
                    .iter()
                    .any(|t| matches!(t, RawTerm::Plain(s) if s.trim().starts_with('@')))
                {
                    return Err(self.err(
                        span.clone(),
                        format!("list {name:?} refers to another list"),
                    ));
                }
                out.extend(self.terms(&list, span)?);
                continue;
            }
            let affixes = match form {
                None | Some(Form::Word) => Affixes::Word,
                Some(Form::Name) => Affixes::Name,
                Some(Form::Exact) => Affixes::Exact,
            };
            let term = Term::new(text, affixes).ok_or_else(|| {
                self.err(
                    span.clone(),
                    format!("term {text:?} has no letters or digits"),
                )
            })?;
            out.push(self.dict.add(term));
        }
        Ok(out)
    }

    fn group(&mut self, g: &Spanned<RawGroup>) -> Result<Group, Located> {
        let span = g.span();
        let (raw, scope) = match g.get_ref() {
            RawGroup::Terms(t) => (t, Scope::Any),
            RawGroup::Table(t) => (&t.terms, t.scope),
        };
        if raw.is_empty() {
            return Err(self.err(span, "a group needs at least one term".into()));
        }
        Ok(Group {
            terms: self.terms(raw, &span)?,
            scope,
        })
    }
}

impl Watchlist {
    /// Parses and compiles `source`; `file` names it in errors.
    pub fn parse(file: &Path, source: &str) -> Result<Watchlist, Located> {
        let raw: RawWatchlist =
            toml::from_str(source).map_err(|e| Located::from_toml(file, source, &e))?;
        let mut c = Compiler {
            file,
            source,
            lists: raw
                .lists
                .iter()
                .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                .collect(),
            dict: Dictionary::default(),
        };
        if raw.topic.is_empty() {
            return Err(Located::at(
                file,
                source,
                0,
                "the watchlist has no [[topic]]",
            ));
        }
        let mut topics: Vec<Topic> = Vec::new();
        for t in raw.topic {
            let id = t.id.get_ref().trim().to_string();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                return Err(c.err(
                    t.id.span(),
                    format!("topic id {id:?} must be ASCII letters, digits, '-' or '_'"),
                ));
            }
            if topics.iter().any(|o| o.id == id) {
                return Err(c.err(t.id.span(), format!("topic id {id:?} is used twice")));
            }
            let mut groups = Vec::new();
            for g in &t.all {
                groups.push(c.group(g)?);
            }
            if let Some(any) = &t.any {
                groups.push(c.group(any)?);
            }
            let none = match &t.none {
                Some(n) => c.group(n)?,
                None => Group::default(),
            };
            let mut near = Vec::new();
            for n in &t.near {
                let span = n.span();
                let raw = n.get_ref();
                if raw.groups.len() < 2 {
                    return Err(c.err(span, "`near` needs at least two groups".into()));
                }
                let mut gs = Vec::new();
                for g in &raw.groups {
                    gs.push(Group {
                        terms: c.terms(g, &span)?,
                        scope: raw.scope,
                    });
                }
                near.push(Near {
                    groups: gs,
                    within: raw.within,
                });
            }
            let mut weights = Vec::new();
            for w in &t.weights {
                let span = w.span();
                let raw = w.get_ref();
                if !raw.weight.is_finite() {
                    return Err(c.err(span, "a weight must be a finite number".into()));
                }
                weights.push((
                    Group {
                        terms: c.terms(&raw.terms, &span)?,
                        scope: raw.scope,
                    },
                    raw.weight,
                ));
            }
            let threshold = match (&t.threshold, weights.is_empty()) {
                (Some(th), true) => {
                    return Err(c.err(th.span(), "`threshold` without `weights`".into()))
                }
                (Some(th), false) if !th.get_ref().is_finite() => {
                    return Err(c.err(th.span(), "threshold must be a finite number".into()))
                }
                (Some(th), false) => Some(*th.get_ref()),
                (None, false) => Some(1.0),
                (None, true) => None,
            };
            if groups.is_empty() && weights.is_empty() {
                return Err(c.err(
                    t.id.span(),
                    format!("topic {id:?} has no terms: add `all`, `any` or `weights`"),
                ));
            }
            topics.push(Topic {
                name: t.name.unwrap_or_else(|| id.clone()),
                id,
                alert: t.alert,
                recipients: t
                    .recipients
                    .into_iter()
                    .map(|r| Recipient {
                        offset: r.span().start,
                        address: r.into_inner(),
                    })
                    .collect(),
                groups,
                none,
                near,
                weights,
                threshold,
            });
        }
        let mut members = vec![Vec::new(); c.dict.len()];
        for (ti, t) in topics.iter().enumerate() {
            for (gi, g) in t.groups.iter().enumerate().take(64) {
                for &term in &g.terms {
                    members[term as usize].push((ti as u32, gi as u8));
                }
            }
        }
        let mut dict = c.dict;
        dict.finish();
        Ok(Watchlist {
            topics,
            dict,
            members,
        })
    }

    /// The topic with this id.
    pub fn topic(&self, id: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == id)
    }

    /// Every topic that `title` + `body` match, with the explanation.
    pub fn classify(&self, title: &str, body: &str) -> Vec<Match> {
        let doc = Document::new(&self.dict, title, body);
        let occ = self.dict.scan(&doc);
        let mut masks = vec![0u64; self.topics.len()];
        let mut last = None;
        for o in &occ {
            if last == Some(o.term) {
                continue;
            }
            last = Some(o.term);
            for &(t, g) in &self.members[o.term as usize] {
                masks[t as usize] |= 1 << g;
            }
        }
        let found = Found::new(&occ, self.dict.len());
        let matches = self
            .topics
            .iter()
            .zip(masks)
            .filter(|(t, mask)| t.groups.len() > 64 || *mask == full_mask(t.groups.len()))
            .filter_map(|(t, _)| t.judge(&found, &self.dict).matched)
            .collect();
        found.recycle();
        recycle_occurrences(occ);
        doc.recycle();
        matches
    }

    /// The full verdict of one topic (by index) on an item.
    pub fn judge(&self, topic: usize, title: &str, body: &str) -> Option<Verdict> {
        let t = self.topics.get(topic)?;
        let doc = Document::new(&self.dict, title, body);
        let occ = self.dict.scan(&doc);
        let found = Found::new(&occ, self.dict.len());
        let verdict = t.judge(&found, &self.dict);
        found.recycle();
        recycle_occurrences(occ);
        doc.recycle();
        Some(verdict)
    }

    /// The match of the topic `id` on an item, if any.
    pub fn classify_topic(&self, id: &str, title: &str, body: &str) -> Option<Match> {
        let i = self.topics.iter().position(|t| t.id == id)?;
        self.judge(i, title, body).and_then(|v| v.matched)
    }
}

impl Verdict {
    /// Not a match, but close: every rule held and the score is short by
    /// at most 1, or (without weights) exactly one rule failed.
    pub fn near_miss(&self) -> bool {
        if self.matched.is_some() || self.excluded {
            return false;
        }
        match (self.score, self.threshold) {
            (Some(s), Some(t)) if self.groups_held => t - s <= 1.0,
            (Some(_), Some(_)) => false,
            _ => self.groups_missing == 1,
        }
    }
}

impl Topic {
    fn judge(&self, found: &Found<'_>, dict: &Dictionary) -> Verdict {
        let excluded = self.none.any(found);
        let mut groups_missing = self.groups.iter().filter(|g| !g.any(found)).count();
        groups_missing += self.near.iter().filter(|n| !n.holds(found)).count();
        let groups_held = groups_missing == 0;
        let score = (!self.weights.is_empty()).then(|| {
            self.weights
                .iter()
                .map(|(g, w)| w * g.count(found, WEIGHT_CAP) as f64)
                .sum::<f64>()
        });
        let score_ok = match (score, self.threshold) {
            (Some(s), Some(t)) => s >= t,
            _ => true,
        };
        // The explanation is built only for a match: most judgements fail.
        let matched = (groups_held && score_ok && !excluded).then(|| {
            let mut hits: Vec<Hit> = self
                .groups
                .iter()
                .enumerate()
                .flat_map(|(i, g)| g.hits(found, dict, i as u16))
                .collect();
            if self.groups.is_empty() {
                for (i, (g, w)) in self.weights.iter().enumerate() {
                    if *w > 0.0 {
                        hits.extend(g.hits(found, dict, i as u16));
                    }
                }
            }
            Match {
                topic: self.id.clone(),
                hits,
                score,
                threshold: self.threshold,
            }
        });
        Verdict {
            matched,
            score,
            threshold: self.threshold,
            groups_held,
            groups_missing,
            excluded,
        }
    }
}

/// The mask with one bit for each of `n` groups.
fn full_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wl(src: &str) -> Watchlist {
        match Watchlist::parse(Path::new("w.toml"), src) {
            Ok(w) => w,
            Err(e) => panic!("{e}"),
        }
    }

    const SRC: &str = r#"
[lists]
russia = ["روسي", { term = "بوتين", form = "name" }, "الكرملين"]

[[topic]]
id = "t"
all = [["سوريا", "دمشق"], ["واشنطن", "امريكي"], ["@russia"]]
none = ["موسكو ايداهو"]
"#;

    #[test]
    fn explanation_names_one_term_per_rule() {
        let w = wl(SRC);
        let m = w.classify("بوتين يحذر واشنطن", "بشأن سورية ودمشق والروس");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].explain(), "سوريا، واشنطن، بوتين — في العنوان والنص");
    }

    #[test]
    fn text_that_needs_nfkc_matches_too() {
        let w = wl(SRC);
        // سوريا in presentation forms, after words the fast pass has read.
        let m = w.classify(
            "بوتين يحذر واشنطن",
            "بشأن الوضع في \u{FEB3}\u{FEEE}\u{FEAD}\u{FEF3}\u{FE8E} اليوم",
        );
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].explain(), "سوريا، واشنطن، بوتين — في العنوان والنص");
    }

    #[test]
    fn a_wrong_shape_is_said_in_words_at_its_place() {
        let e = |src: &str| match Watchlist::parse(Path::new("w.toml"), src) {
            Ok(_) => panic!("accepted: {src}"),
            Err(e) => e,
        };
        let flat = e("[[topic]]\nid = \"t\"\nall = [\"سوريا\", \"تركيا\"]\n");
        assert_eq!((flat.line, flat.col), (3, 8), "{flat}");
        assert!(flat.message.contains("write [\"سوريا\"]"), "{flat}");
        assert!(!flat.message.contains("untagged"), "{flat}");
        let number = e("[[topic]]\nid = \"t\"\nany = [\"a\", 3]\n");
        assert_eq!((number.line, number.col), (3, 13), "{number}");
        assert!(number.message.contains("expected a term"), "{number}");
        let group = e("[[topic]]\nid = \"t\"\nnone = 3\n");
        assert!(
            group.message.contains("expected a group of terms"),
            "{group}"
        );
    }

    #[test]
    fn all_groups_must_match() {
        let w = wl(SRC);
        assert_eq!(w.classify("بوتين يحذر واشنطن", "بشأن سورية").len(), 1);
        assert!(w.classify("بوتين يحذر واشنطن", "بشأن أوكرانيا").is_empty());
    }

    #[test]
    fn terms_match_through_prefixes_and_suffixes() {
        let w = wl(SRC);
        let m = w.classify("والأمريكيون وروسيا", "وبدمشق");
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0]
            .hits
            .iter()
            .any(|h| h.term == "دمشق" && h.field == Field::Body));
        assert!(m[0]
            .hits
            .iter()
            .any(|h| h.term == "امريكي" && h.field == Field::Title));
        // The list's terms explain themselves by their own text.
        assert!(m[0].hits.iter().any(|h| h.term == "روسي"));
        let m = w.classify("للكرملين رأي في الموقف الأميركي", "من سورية");
        assert_eq!(m.len(), 1, "{m:?}");
    }

    #[test]
    fn exclusion_wins() {
        let w = wl(SRC);
        assert!(w
            .classify("موسكو، أيداهو: بوتين وواشنطن وسوريا", "")
            .is_empty());
    }

    #[test]
    fn name_form_rejects_the_article() {
        let w = wl(SRC);
        assert!(w.classify("طبق البوتين في واشنطن", "مطعم سوريا").is_empty());
        assert_eq!(w.classify("ولبوتين رأي في واشنطن", "وسوريا").len(), 1);
    }

    #[test]
    fn country_names_match_their_adjectives() {
        let w = wl("[[topic]]\nid = \"t\"\nany = [\"ليبيا\"]\n");
        for t in ["ليبيا", "الليبية", "والليبيين", "ليبي"] {
            assert_eq!(w.classify(t, "").len(), 1, "{t}");
        }
        assert!(w.classify("ليبرالي", "").is_empty());
    }

    #[test]
    fn exact_form_takes_nothing_around() {
        let w = wl("[[topic]]\nid = \"t\"\nany = [{ term = \"الروس\", form = \"exact\" }]\n");
        assert_eq!(w.classify("الروس", "").len(), 1);
        assert!(w.classify("والروس", "").is_empty());
    }

    #[test]
    fn phrases_match_words_in_order() {
        let w = wl("[[topic]]\nid = \"t\"\nany = [\"البيت الأبيض\"]\n");
        assert_eq!(w.classify("قال البيت الابيض", "").len(), 1);
        assert_eq!(w.classify("وقال للبيت الأبيض", "").len(), 1);
        assert!(w.classify("الأبيض البيت", "").is_empty());
    }

    #[test]
    fn latin_terms_are_case_insensitive() {
        let w = wl("[[topic]]\nid = \"t\"\nany = [\"CENTCOM\"]\n");
        assert_eq!(w.classify("Centcom says", "").len(), 1);
    }

    #[test]
    fn field_scope() {
        let w = wl("[[topic]]\nid = \"t\"\nall = [{ terms = [\"سوريا\"], in = \"title\" }]\n");
        assert_eq!(w.classify("سوريا", "").len(), 1);
        assert!(w.classify("عنوان", "سوريا").is_empty());
    }

    #[test]
    fn proximity() {
        let w = wl("[[topic]]\nid = \"t\"\nnear = [{ groups = [[\"واشنطن\"], [\"موسكو\"]], within = 3 }]\nany = [\"سوريا\"]\n");
        assert_eq!(w.classify("", "خلاف بين واشنطن وموسكو حول سوريا").len(), 1);
        assert!(w
            .classify("", "واشنطن قالت كلاما كثيرا عن امور عديدة ثم موسكو وسوريا")
            .is_empty());
    }

    #[test]
    fn weights_and_threshold() {
        let src = "[[topic]]\nid = \"t\"\nweights = [{ terms = [\"سوريا\"], weight = 1 }, { terms = [\"أوكرانيا\"], weight = -1 }]\nthreshold = 1\n";
        let w = wl(src);
        let m = w.classify("سوريا", "");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].score, Some(1.0));
        assert!(
            m[0].explain_all().contains("score 1.0, threshold 1.0"),
            "{}",
            m[0].explain_all()
        );
        assert_eq!(m[0].explain(), "سوريا — في العنوان");
        assert!(w.classify("سوريا وأوكرانيا", "").is_empty());
        let v = w.judge(0, "سوريا وأوكرانيا", "");
        assert_eq!(v.and_then(|v| v.score), Some(0.0));
    }

    #[test]
    fn near_misses() {
        let w = wl(SRC);
        // One rule short (no Russian side).
        assert_eq!(
            w.judge(0, "واشنطن تحذر دمشق", "").map(|v| v.near_miss()),
            Some(true)
        );
        // Two rules short.
        assert_eq!(w.judge(0, "دمشق", "").map(|v| v.near_miss()), Some(false));
        // A match is not a near miss.
        assert_eq!(
            w.judge(0, "بوتين يحذر واشنطن", "بشأن سورية")
                .map(|v| v.near_miss()),
            Some(false)
        );
        let src = "[[topic]]\nid = \"t\"\nweights = [{ terms = [\"سوريا\"], weight = 1 }]\nthreshold = 2\n";
        let w = wl(src);
        assert_eq!(
            w.judge(0, "سوريا", "").map(|v| v.near_miss()),
            Some(true),
            "score 1 of 2"
        );
    }

    #[test]
    fn errors_point_at_the_place() {
        let e = Watchlist::parse(
            Path::new("w.toml"),
            "[[topic]]\nid = \"bad id\"\nall=[[\"x\"]]\n",
        )
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            e.as_deref().map(|s| s.starts_with("w.toml:2:6:")),
            Some(true),
            "{e:?}"
        );
        let e = Watchlist::parse(
            Path::new("w.toml"),
            "[[topic]]\nid = \"a\"\nallx=[[\"x\"]]\n",
        )
        .err();
        assert_eq!(e.map(|e| (e.line, e.col)), Some((3, 1)));
        let e = Watchlist::parse(
            Path::new("w.toml"),
            "[[topic]]\nid = \"a\"\nall=[[\"@nolist\"]]\n",
        )
        .err();
        assert_eq!(e.as_ref().map(|e| e.line), Some(3), "{e:?}");
    }
}
