//! Term matching over normalised tokens.

use serde::{Deserialize, Serialize};

use crate::text::normalize::{canonical_token, normalize};
use crate::text::tokens::{token_matches, words, Affixes};

/// Where a term was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Body,
}

/// One term that matched, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub term: String,
    pub field: Field,
}

/// A topic that matched an item, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    pub topic: String,
    pub hits: Vec<Hit>,
}

impl Match {
    /// One line for a reader: "سوريا، واشنطن، موسكو — in title".
    pub fn explain(&self) -> String {
        let mut terms: Vec<&str> = Vec::new();
        for h in &self.hits {
            if !terms.contains(&h.term.as_str()) {
                terms.push(&h.term);
            }
        }
        let in_title = self.hits.iter().any(|h| h.field == Field::Title);
        let in_body = self.hits.iter().any(|h| h.field == Field::Body);
        let place = match (in_title, in_body) {
            (true, false) => "in title",
            (false, true) => "in body",
            _ => "in title and body",
        };
        format!("{} — {place}", terms.join("، "))
    }
}

/// An item's text, tokenised once for every topic.
pub(crate) struct Document {
    title: Vec<String>,
    body: Vec<String>,
}

impl Document {
    pub(crate) fn new(title: &str, body: &str) -> Document {
        let tok = |s: &str| -> Vec<String> {
            let n = normalize(s);
            words(&n).map(|w| canonical_token(w).into_owned()).collect()
        };
        Document {
            title: tok(title),
            body: tok(body),
        }
    }
}

/// A word or phrase with its affix rule.
#[derive(Debug, Clone)]
pub(crate) struct CompiledTerm {
    display: String,
    tokens: Vec<String>,
    affixes: Affixes,
}

impl CompiledTerm {
    pub(crate) fn new(text: &str, affixes: Affixes) -> Option<CompiledTerm> {
        let n = normalize(text);
        let tokens: Vec<String> = words(&n).map(|w| canonical_token(w).into_owned()).collect();
        if tokens.is_empty() {
            return None;
        }
        Some(CompiledTerm {
            display: text.trim().to_string(),
            tokens,
            affixes,
        })
    }

    fn occurs_in(&self, tokens: &[String]) -> bool {
        let n = self.tokens.len();
        if tokens.len() < n {
            return false;
        }
        tokens.windows(n).any(|w| {
            w.iter()
                .zip(&self.tokens)
                .enumerate()
                .all(|(i, (tok, term))| {
                    // Inside a phrase, only the first word takes prefixes; every
                    // word may take the term's suffix rule.
                    let rule = if i == 0 || self.affixes == Affixes::Exact {
                        self.affixes
                    } else {
                        Affixes::Word
                    };
                    token_matches(tok, term, rule)
                })
        })
    }
}

/// Terms of which any one may match.
#[derive(Debug, Clone, Default)]
pub(crate) struct TermGroup {
    terms: Vec<CompiledTerm>,
}

impl TermGroup {
    pub(crate) fn new(terms: Vec<CompiledTerm>) -> TermGroup {
        TermGroup { terms }
    }

    pub(crate) fn find(&self, doc: &Document) -> Vec<Hit> {
        let mut hits = Vec::new();
        for t in &self.terms {
            if t.occurs_in(&doc.title) {
                hits.push(Hit {
                    term: t.display.clone(),
                    field: Field::Title,
                });
            } else if t.occurs_in(&doc.body) {
                hits.push(Hit {
                    term: t.display.clone(),
                    field: Field::Body,
                });
            }
        }
        hits
    }
}
