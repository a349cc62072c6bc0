//! The watchlist: a TOML file users edit by hand, compiled once into a
//! matcher that scores items and explains each match. Pure: the caller reads
//! the file.
//!
//! ```toml
//! [[topic]]
//! id = "syria-us-russia"
//! name = "سوريا في العلاقات الأمريكية الروسية"
//! alert = "immediate"            # or "digest"
//! all = [["سوريا", "دمشق"], ["واشنطن"], ["روسيا", "موسكو"]]
//! none = ["موسكو ايداهو"]
//! ```
//!
//! A term is a word or a phrase; it matches with clitic prefixes (و ف ب ك ل
//! ال and their combinations) and noun/adjective suffixes. A term written as
//! a table picks its form: `{ term = "بوتين", form = "name" }` (prefixes but
//! no article, no suffix) or `form = "exact"`.

mod matcher;

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::Located;
use matcher::{CompiledTerm, TermGroup};
pub use matcher::{Field, Hit, Match};

use crate::text::tokens::Affixes;

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
    all: Vec<Spanned<Vec<RawTerm>>>,
    any: Option<Spanned<Vec<RawTerm>>>,
    none: Option<Spanned<Vec<RawTerm>>>,
}

fn default_alert() -> AlertMode {
    AlertMode::Immediate
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawTerm {
    // Spans do not survive serde's untagged buffering, so errors in a term
    // point at its list.
    Plain(String),
    Table(RawTermTable),
}

#[derive(Debug, Deserialize)]
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

/// One compiled topic.
#[derive(Debug, Clone)]
pub struct Topic {
    pub id: String,
    pub name: String,
    pub alert: AlertMode,
    pub recipients: Vec<String>,
    groups: Vec<TermGroup>,
    none: TermGroup,
}

/// The compiled watchlist.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    pub topics: Vec<Topic>,
}

impl Watchlist {
    /// Parses and compiles `source`; `file` names it in errors.
    pub fn parse(file: &Path, source: &str) -> Result<Watchlist, Located> {
        let raw: RawWatchlist =
            toml::from_str(source).map_err(|e| Located::from_toml(file, source, &e))?;
        let at =
            |span: std::ops::Range<usize>, msg: String| Located::at(file, source, span.start, msg);
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
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(at(
                    t.id.span(),
                    format!("topic id {id:?} must be ASCII letters, digits, '-' or '_'"),
                ));
            }
            if topics.iter().any(|o| o.id == id) {
                return Err(at(t.id.span(), format!("topic id {id:?} is used twice")));
            }
            for r in &t.recipients {
                if r.get_ref().parse::<lettre_free_address::Address>().is_err() {
                    return Err(at(
                        r.span(),
                        format!("{:?} is not an email address", r.get_ref()),
                    ));
                }
            }
            let mut groups = Vec::new();
            for g in &t.all {
                if g.get_ref().is_empty() {
                    return Err(at(
                        g.span(),
                        "an `all` group needs at least one term".into(),
                    ));
                }
                groups.push(compile_group(g, &at)?);
            }
            if let Some(any) = t.any.as_ref().filter(|a| !a.get_ref().is_empty()) {
                groups.push(compile_group(any, &at)?);
            }
            if groups.is_empty() {
                return Err(at(
                    t.id.span(),
                    format!("topic {id:?} has no terms: add `all` groups or `any`"),
                ));
            }
            let none = match &t.none {
                Some(n) => compile_group(n, &at)?,
                None => TermGroup::default(),
            };
            topics.push(Topic {
                name: t.name.unwrap_or_else(|| id.clone()),
                id,
                alert: t.alert,
                recipients: t.recipients.into_iter().map(|r| r.into_inner()).collect(),
                groups,
                none,
            });
        }
        Ok(Watchlist { topics })
    }

    /// The topic with this id.
    pub fn topic(&self, id: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == id)
    }

    /// Every topic that `title` + `body` match, with the explanation.
    pub fn classify(&self, title: &str, body: &str) -> Vec<Match> {
        let doc = matcher::Document::new(title, body);
        self.topics
            .iter()
            .filter_map(|t| t.classify_doc(&doc))
            .collect()
    }
}

impl Topic {
    /// The match of this topic on `title` + `body`, if any.
    pub fn classify(&self, title: &str, body: &str) -> Option<Match> {
        self.classify_doc(&matcher::Document::new(title, body))
    }

    fn classify_doc(&self, doc: &matcher::Document) -> Option<Match> {
        if !self.none.find(doc).is_empty() {
            return None;
        }
        let mut hits = Vec::new();
        for g in &self.groups {
            let found = g.find(doc);
            if found.is_empty() {
                return None;
            }
            hits.extend(found);
        }
        Some(Match {
            topic: self.id.clone(),
            hits,
        })
    }
}

fn compile_group(
    terms: &Spanned<Vec<RawTerm>>,
    at: &impl Fn(std::ops::Range<usize>, String) -> Located,
) -> Result<TermGroup, Located> {
    let mut out = Vec::new();
    for t in terms.get_ref() {
        let (text, form) = match t {
            RawTerm::Plain(s) => (s, None),
            RawTerm::Table(tt) => (&tt.term, tt.form),
        };
        let affixes = match form {
            None | Some(Form::Word) => Affixes::Word,
            Some(Form::Name) => Affixes::Name,
            Some(Form::Exact) => Affixes::Exact,
        };
        let term = CompiledTerm::new(text, affixes).ok_or_else(|| {
            at(
                terms.span(),
                format!("term {text:?} has no letters or digits"),
            )
        })?;
        out.push(term);
    }
    Ok(TermGroup::new(out))
}

/// Address syntax check without pulling the mail stack into this pure module.
mod lettre_free_address {
    pub struct Address;

    impl std::str::FromStr for Address {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, Self::Err> {
            let s = s.trim();
            let (local, domain) = s.rsplit_once('@').ok_or(())?;
            let ok = !local.is_empty()
                && !domain.is_empty()
                && !s
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',');
            if ok {
                Ok(Address)
            } else {
                Err(())
            }
        }
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
[[topic]]
id = "t"
all = [["سوريا", "دمشق"], ["واشنطن", "امريكي"], ["روسيا", { term = "بوتين", form = "name" }]]
none = ["موسكو ايداهو"]
"#;

    #[test]
    fn all_groups_must_match() {
        let w = wl(SRC);
        assert_eq!(w.classify("بوتين يحذر واشنطن", "بشأن سورية").len(), 1);
        assert!(w.classify("بوتين يحذر واشنطن", "بشأن أوكرانيا").is_empty());
    }

    #[test]
    fn terms_match_through_prefixes_and_suffixes() {
        let w = wl(SRC);
        let m = w.classify(
            "وزير الخارجية الأميركي يلتقي نظيره الروسي",
            "في جنيف لبحث الملف السوري والدور الروسي",
        );
        // سوريا does not match السوري: ا is not a suffix of سور; دمشق absent.
        assert!(m.is_empty());
        let m = w.classify("والأمريكيون وروسيا", "وبدمشق");
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].hits.iter().any(|h| h.term == "دمشق"));
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
    }
}
