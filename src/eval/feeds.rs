//! `raqib eval feeds DIR`: how many files of a feed test suite raqib
//! parses, and how often its first entry's title is what the suite expects.
//!
//! Built for the suites of the feed parsers raqib is measured against:
//! feedparser's (a `manifest.jsonl` beside its `tests/` folder, each line
//! with the file's `path`, the HTTP `headers` it is served with and a Python
//! `expect` expression) and feed-rs's fixtures (plain files). Files are
//! counted by kind: the folder under `tests/` for a manifest's files
//! (`wellformed`, `entities` …), else the first folder under `DIR`. Only
//! expectations of the simple form `entries[0]['title'] == '…'` are checked.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::EvalError;

/// Counts for one kind of file.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct KindScore {
    pub files: usize,
    /// Parsed, as written or after repair.
    pub parsed: usize,
    /// Of those, parsed only after repair.
    pub recovered: usize,
    pub share: f64,
}

/// The figures for a suite.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct FeedsScore {
    pub files: usize,
    pub parsed: usize,
    pub kinds: BTreeMap<String, KindScore>,
    /// Simple first-entry title expectations checked, and met.
    pub titles: usize,
    pub titles_met: usize,
    pub titles_share: f64,
    /// Files whose parse panicked (a bug: there should be none).
    pub panics: usize,
}

#[derive(Debug, Deserialize)]
struct ManifestLine {
    path: String,
    #[serde(default)]
    expect: String,
    #[serde(default)]
    headers: HashMap<String, String>,
}

/// One file to parse.
struct Case {
    path: PathBuf,
    kind: String,
    charset: Option<String>,
    title: Option<String>,
}

fn io(path: &Path, e: std::io::Error) -> EvalError {
    EvalError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Every file below `dir`, sorted.
fn files_below(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), EvalError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| io(dir, e)))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_below(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Not a feed: licences, notes, manifests, expected parser output.
fn is_paperwork(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "manifest.jsonl"
        || name.starts_with("LICENSE")
        || name.starts_with("COPYING")
        || name.ends_with(".md")
        || name.ends_with(".txt")
        || name.ends_with(".serde.json")
}

fn cases(dir: &Path) -> Result<Vec<Case>, EvalError> {
    let mut files = Vec::new();
    files_below(dir, &mut files)?;
    // The manifests' folders, and what they say of each file.
    let mut known: HashMap<PathBuf, (String, Option<String>, Option<String>)> = HashMap::new();
    let mut roots: Vec<PathBuf> = Vec::new();
    for m in files.iter().filter(|p| p.ends_with("manifest.jsonl")) {
        let root = m.parent().unwrap_or(dir).to_path_buf();
        let text = std::fs::read_to_string(m).map_err(|e| io(m, e))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let l: ManifestLine = serde_json::from_str(line).map_err(|e| EvalError::Line {
                line: n + 1,
                message: format!("{}: {e}", m.display()),
            })?;
            let charset = l
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .and_then(|(_, v)| crate::fetch::charset::charset_of_content_type(v));
            known.insert(
                root.join(&l.path),
                (kind_in(&l.path), charset, first_title_expected(&l.expect)),
            );
        }
        roots.push(root);
    }
    let mut out = Vec::new();
    for p in files {
        if is_paperwork(&p) {
            continue;
        }
        let case = if let Some((kind, charset, title)) = known.remove(&p) {
            Case {
                path: p,
                kind,
                charset,
                title,
            }
        } else if let Some(root) = roots.iter().find(|r| p.starts_with(r)) {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            Case {
                kind: kind_in(&rel),
                path: p,
                charset: None,
                title: None,
            }
        } else {
            let rel = p.strip_prefix(dir).unwrap_or(&p);
            let kind = rel
                .components()
                .next()
                .filter(|_| rel.components().count() > 1)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_else(|| "files".into());
            Case {
                path: p,
                kind,
                charset: None,
                title: None,
            }
        };
        out.push(case);
    }
    Ok(out)
}

/// `tests/wellformed/rss/x.xml` → `wellformed`.
fn kind_in(rel: &str) -> String {
    let mut parts = rel.split('/').filter(|p| !p.is_empty());
    let first = parts.next().unwrap_or("files");
    match (first, parts.next()) {
        ("tests", Some(k)) => k.to_string(),
        _ => first.to_string(),
    }
}

/// The title in `[not bozo and ]entries[0]['title'] == '…'`.
fn first_title_expected(expect: &str) -> Option<String> {
    let e = expect.trim();
    let e = e.strip_prefix("not bozo and ").unwrap_or(e);
    let lit = e.strip_prefix("entries[0]['title'] == ")?;
    python_string(lit)
}

/// A whole Python string literal (`'…'`, `"…"`, optionally `u`-prefixed)
/// decoded; `None` for anything else.
fn python_string(lit: &str) -> Option<String> {
    let lit = lit.strip_prefix('u').unwrap_or(lit);
    let quote = lit.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = lit.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return None; // two literals, or an expression after one
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex = |chars: &mut std::str::Chars, n: usize| -> Option<char> {
            let digits: String = chars.by_ref().take(n).collect();
            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
        };
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'x' => out.push(hex(&mut chars, 2)?),
            'u' => out.push(hex(&mut chars, 4)?),
            'U' => out.push(hex(&mut chars, 8)?),
            other => out.push(other),
        }
    }
    Some(out)
}

/// Whitespace runs as one space, ends trimmed: how raqib shows a title.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses every file below `dir` and scores the suite.
pub fn feeds(
    dir: &Path,
    details: &mut Vec<String>,
    progress: &indicatif::ProgressBar,
) -> Result<FeedsScore, EvalError> {
    let mut score = FeedsScore::default();
    let cases = cases(dir)?;
    progress.set_length(cases.len() as u64);
    for case in cases {
        progress.inc(1);
        let bytes = std::fs::read(&case.path).map_err(|e| io(&case.path, e))?;
        let url = format!("file:{}", case.path.display());
        let parse = std::panic::catch_unwind(|| {
            crate::feed::parse_feed(&url, &bytes, case.charset.as_deref())
        });
        let k = score.kinds.entry(case.kind.clone()).or_default();
        k.files += 1;
        score.files += 1;
        let rel = case.path.strip_prefix(dir).unwrap_or(&case.path).display();
        let parsed = match parse {
            Err(_) => {
                score.panics += 1;
                details.push(format!("PANIC\t{rel}"));
                continue;
            }
            Ok(Err(e)) => {
                details.push(format!("FAIL\t{rel}\t{e}"));
                continue;
            }
            Ok(Ok(p)) => p,
        };
        k.parsed += 1;
        score.parsed += 1;
        if let Some(how) = &parsed.recovered {
            k.recovered += 1;
            details.push(format!("RECOVERED\t{rel}\t{how}"));
        }
        if let Some(want) = &case.title {
            score.titles += 1;
            let got = parsed
                .entries
                .first()
                .map(|e| e.title.as_str())
                .unwrap_or("");
            let want_text = squash(&crate::text::extract::html_to_text(want));
            if got == squash(want) || got == want_text {
                score.titles_met += 1;
            } else {
                details.push(format!("TITLE\t{rel}\twant {want:?}\tgot {got:?}"));
            }
        }
    }
    let share = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            super::round4(a as f64 / b as f64)
        }
    };
    for k in score.kinds.values_mut() {
        k.share = share(k.parsed, k.files);
    }
    score.titles_share = share(score.titles_met, score.titles);
    Ok(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_literals_decode() {
        assert_eq!(python_string("u'a\\xa0b'").as_deref(), Some("a\u{a0}b"));
        assert_eq!(python_string("'it\\'s'").as_deref(), Some("it's"));
        assert_eq!(python_string("\"\\u0645\"").as_deref(), Some("م"));
        assert_eq!(python_string("'a' + 'b'"), None);
        assert_eq!(
            first_title_expected("not bozo and entries[0]['title'] == 'A'").as_deref(),
            Some("A")
        );
        assert_eq!(
            first_title_expected("entries[0]['title_detail']['type'] == 'x'"),
            None
        );
    }

    #[test]
    fn kinds_come_from_the_folder_under_tests() {
        assert_eq!(kind_in("tests/wellformed/rss/a.xml"), "wellformed");
        assert_eq!(kind_in("fixture/a.xml"), "fixture");
    }
}
