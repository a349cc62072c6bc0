//! `raqib eval`: runs the engine over labelled JSONL and prints the figures.
//!
//! The last line of output is one JSON object (see the contract in README).
//! `--baseline` runs a plain keyword / word-overlap method over the same
//! cases instead, so every figure can be read against it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::text::event::{EventWords, Events};
use crate::text::fingerprint::Fingerprint;
use crate::watchlist::Watchlist;

pub mod feeds;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Deserialize)]
struct TopicCase {
    id: String,
    title: String,
    #[serde(default)]
    summary: String,
    label: String,
}

#[derive(Debug, Deserialize)]
struct DupSide {
    title: String,
    #[serde(default)]
    body: String,
}

#[derive(Debug, Deserialize)]
struct DupCase {
    id: String,
    a: DupSide,
    b: DupSide,
    label: String,
}

/// Confusion counts and the derived figures.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Scores {
    pub n: usize,
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub tn: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_event_merged: Option<usize>,
    /// Same-event pairs that a digest lists together (want: many).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_event_grouped: Option<usize>,
    /// Different-event pairs that a digest would list together (want: 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub different_grouped: Option<usize>,
}

impl Scores {
    fn add(&mut self, actual: bool, predicted: bool) {
        self.n += 1;
        match (actual, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    fn finish(mut self) -> Scores {
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                0.0
            } else {
                round4(a as f64 / b as f64)
            }
        };
        self.precision = ratio(self.tp, self.tp + self.fp);
        self.recall = ratio(self.tp, self.tp + self.fn_);
        self.f1 = if self.precision + self.recall == 0.0 {
            0.0
        } else {
            round4(2.0 * self.precision * self.recall / (self.precision + self.recall))
        };
        self
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn lines<T: for<'de> Deserialize<'de>>(
    input: &str,
) -> impl Iterator<Item = Result<T, EvalError>> + '_ {
    input
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| EvalError::Line {
                line: i + 1,
                message: e.to_string(),
            })
        })
}

/// Classifies every case with `topic`; `details` gets one line per case.
pub fn topic(
    input: &str,
    watchlist: &Watchlist,
    topic: &str,
    baseline: bool,
    details: &mut Vec<String>,
) -> Result<Scores, EvalError> {
    let mut s = Scores::default();
    for case in lines::<TopicCase>(input) {
        let case = case?;
        let actual = case.label == "core";
        let (predicted, note) = if baseline {
            (
                keyword_baseline(&format!("{} {}", case.title, case.summary)),
                String::new(),
            )
        } else {
            let verdict = watchlist
                .topics
                .iter()
                .position(|t| t.id == topic)
                .and_then(|i| watchlist.judge(i, &case.title, &case.summary));
            match verdict {
                Some(v) => (
                    v.matched.is_some(),
                    format!(
                        "groups={} excluded={}{}",
                        v.groups_held,
                        v.excluded,
                        v.score.map(|s| format!(" score={s}")).unwrap_or_default()
                    ),
                ),
                None => (false, "no such topic".to_string()),
            }
        };
        s.add(actual, predicted);
        details.push(format!(
            "{}\t{}\t{}\t{}\t{note}",
            case.id,
            case.label,
            if predicted { "match" } else { "-" },
            verdict(actual, predicted)
        ));
    }
    Ok(s.finish())
}

/// Decides every pair; `details` gets one line per case.
pub fn dedup(input: &str, baseline: bool, details: &mut Vec<String>) -> Result<Scores, EvalError> {
    let mut s = Scores::default();
    let mut merged_same_event = 0;
    let cases: Vec<DupCase> = lines::<DupCase>(input).collect::<Result<_, _>>()?;
    // Same-event grouping, with word rarity taken over every document of
    // the file (as a digest takes it over its stories).
    let words: Vec<EventWords> = cases
        .iter()
        .flat_map(|c| [&c.a, &c.b])
        .map(|d| EventWords::new(&d.title, &d.body))
        .collect();
    let events = Events::new(&words);
    let (mut grouped_same, mut grouped_different) = (0, 0);
    for (k, case) in cases.into_iter().enumerate() {
        let grouped = events.same_event(2 * k, 2 * k + 1);
        let event = match events.evidence(2 * k, 2 * k + 1) {
            Some(e) => format!(
                " event={} share={:.3} rare={} lead_rare={} apart={}",
                if grouped { "grouped" } else { "-" },
                e.share,
                e.rare,
                e.lead_rare,
                e.apart_in_time
            ),
            None => " event=-".to_string(),
        };
        match case.label.as_str() {
            "same_event" => grouped_same += usize::from(grouped),
            "different" => grouped_different += usize::from(grouped),
            _ => {}
        }
        let actual = case.label == "duplicate";
        let (predicted, note) = if baseline {
            let j = word_jaccard(
                &format!("{} {}", case.a.title, case.a.body),
                &format!("{} {}", case.b.title, case.b.body),
            );
            (j >= 0.5, format!("jaccard={j:.3}"))
        } else {
            // As the daemon decides: `b` is stored (as a sketch, findable
            // by its anchors) and `a` arrives.
            let a = Fingerprint::new(&case.a.title, &case.a.body);
            let b = Fingerprint::new(&case.b.title, &case.b.body);
            let wanted = a.query_anchors();
            let found = b.anchors().iter().any(|x| wanted.contains(x));
            let sketch = b.sketch();
            let wide = sketch.widened(&b.wide_sample());
            let (c, by) = match a.compare_sketch(&sketch) {
                Some(c) => (c, "sketch"),
                None => match wide.and_then(|w| a.compare_sketch(&w)) {
                    Some(c) => (c, "sample"),
                    None => (a.compare(&b), "full"),
                },
            };
            (
                found && c.duplicate,
                format!(
                    "found={found} by={by} containment={:.3} title={:.3} facts_differ={}",
                    c.containment, c.title_containment, c.facts_differ
                ),
            )
        };
        if predicted && case.label == "same_event" {
            merged_same_event += 1;
        }
        s.add(actual, predicted);
        details.push(format!(
            "{}\t{}\t{}\t{}\t{note}{event}",
            case.id,
            case.label,
            if predicted { "dup" } else { "-" },
            verdict(actual, predicted)
        ));
    }
    let mut s = s.finish();
    s.same_event_merged = Some(merged_same_event);
    s.same_event_grouped = Some(grouped_same);
    s.different_grouped = Some(grouped_different);
    Ok(s)
}

/// Extraction quality on one set of pages.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExtractScore {
    pub set: String,
    pub pages: usize,
    /// "tokens": bag-of-words F1 against full gold text; "snippets": share
    /// of must-have snippets found and must-not snippets left out.
    pub method: &'static str,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// One page to score: its HTML and its gold.
pub enum Gold {
    Text(String),
    Snippets {
        with: Vec<String>,
        without: Vec<String>,
    },
}

/// Which extraction method `extract` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extractor {
    /// raqib's own: readability-style scoring over scraper, then cleanup.
    Raqib,
    /// dom_smoothie (a readability.js port), its text as it gives it.
    #[cfg(feature = "compare-extractors")]
    DomSmoothie,
    /// dom_smoothie's text through raqib's cleanup.
    #[cfg(feature = "compare-extractors")]
    Combined,
}

fn run_extractor(e: Extractor, html: &str) -> String {
    match e {
        Extractor::Raqib => crate::text::main_text(html),
        #[cfg(feature = "compare-extractors")]
        Extractor::DomSmoothie => dom_smoothie::Readability::new(html, None, None)
            .and_then(|mut r| r.parse())
            .map(|a| format!("{}\n{}", a.title, a.text_content))
            .unwrap_or_default(),
        #[cfg(feature = "compare-extractors")]
        Extractor::Combined => dom_smoothie::Readability::new(html, None, None)
            .and_then(|mut r| r.parse())
            .map(|a| crate::text::clean::clean(&format!("{}\n{}", a.title, a.text_content)))
            .unwrap_or_default(),
    }
}

/// Scores the engine's extraction (`main_text`) on `pages` of one set.
pub fn extract(set: &str, pages: &[(String, Gold)], details: &mut Vec<String>) -> ExtractScore {
    extract_with(Extractor::Raqib, set, pages, details)
}

/// Scores one extraction method on `pages` of one set.
pub fn extract_with(
    extractor: Extractor,
    set: &str,
    pages: &[(String, Gold)],
    details: &mut Vec<String>,
) -> ExtractScore {
    let (mut p_sum, mut r_sum) = (0.0, 0.0);
    let mut method = "tokens";
    for (i, (html, gold)) in pages.iter().enumerate() {
        let got = run_extractor(extractor, html);
        let (p, r) = match gold {
            Gold::Text(g) => token_pr(&got, g),
            Gold::Snippets { with, without } => {
                method = "snippets";
                let hay = squash(&got);
                let found = with.iter().filter(|w| hay.contains(&squash(w))).count();
                let left_out = without.iter().filter(|w| !hay.contains(&squash(w))).count();
                let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
                (ratio(left_out, without.len()), ratio(found, with.len()))
            }
        };
        details.push(format!("{set}\t{i}\tprecision={p:.3}\trecall={r:.3}"));
        p_sum += p;
        r_sum += r;
    }
    let n = pages.len().max(1) as f64;
    let (precision, recall) = (round4(p_sum / n), round4(r_sum / n));
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        round4(2.0 * precision * recall / (precision + recall))
    };
    ExtractScore {
        set: set.to_string(),
        pages: pages.len(),
        method,
        precision,
        recall,
        f1,
    }
}

/// White space folded, for snippet search.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Bag-of-tokens precision and recall of `got` against `gold`.
fn token_pr(got: &str, gold: &str) -> (f64, f64) {
    let bag = |s: &str| {
        let mut m: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for t in s
            .split(|c: char| !crate::text::tokens::is_word_char(c))
            .filter(|t| !t.is_empty())
        {
            *m.entry(t.to_lowercase()).or_default() += 1;
        }
        m
    };
    let (g, t) = (bag(got), bag(gold));
    let tp: usize = g
        .iter()
        .map(|(k, n)| (*n).min(t.get(k).copied().unwrap_or(0)))
        .sum();
    let (ng, nt): (usize, usize) = (g.values().sum(), t.values().sum());
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    (ratio(tp, ng), ratio(tp, nt))
}

fn verdict(actual: bool, predicted: bool) -> &'static str {
    match (actual, predicted) {
        (true, true) => "TP",
        (false, true) => "FP",
        (true, false) => "FN",
        (false, false) => "TN",
    }
}

/// The plain method: raw substrings, no normalisation, one word per side.
fn keyword_baseline(text: &str) -> bool {
    let any = |words: &[&str]| words.iter().any(|w| text.contains(w));
    any(&["سوريا", "سورية", "دمشق"])
        && any(&["أمريك", "أميرك", "واشنطن"])
        && any(&["روسي", "موسكو"])
}

fn word_jaccard(a: &str, b: &str) -> f64 {
    let a: HashSet<&str> = a.split_whitespace().collect();
    let b: HashSet<&str> = b.split_whitespace().collect();
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_computed() {
        let mut s = Scores::default();
        s.add(true, true);
        s.add(true, false);
        s.add(false, true);
        s.add(false, false);
        let s = s.finish();
        assert_eq!((s.tp, s.fp, s.fn_, s.tn, s.n), (1, 1, 1, 1, 4));
        assert_eq!(s.precision, 0.5);
        assert_eq!(s.f1, 0.5);
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert!(json.contains("\"fn\":1"), "{json}");
        assert!(!json.contains("same_event_merged"));
    }

    #[test]
    fn bad_line_is_reported_with_its_number() {
        let mut d = Vec::new();
        let e = dedup("\n{\"id\":1}\n", false, &mut d).err();
        assert!(matches!(e, Some(EvalError::Line { line: 2, .. })), "{e:?}");
    }
}
