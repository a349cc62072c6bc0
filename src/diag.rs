//! Errors that point at a place in a file: `FILE:LINE:COL: message`.

use std::fmt;
use std::path::{Path, PathBuf};

/// A message about a place in a text file. Lines and columns count from 1;
/// columns count characters, as editors do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Located {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

impl Located {
    /// Builds a message for the byte offset `offset` of `source`.
    pub fn at(file: &Path, source: &str, offset: usize, message: impl Into<String>) -> Located {
        let (line, col) = line_col(source, offset);
        Located {
            file: file.to_path_buf(),
            line,
            col,
            message: message.into(),
        }
    }

    /// From a TOML parse or deserialisation error.
    pub fn from_toml(file: &Path, source: &str, err: &toml::de::Error) -> Located {
        let offset = err.span().map(|s| s.start).unwrap_or(0);
        // toml's message repeats the snippet on several lines; the first
        // line is the message proper.
        let message = err
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim()
            .to_string();
        Located::at(file, source, offset, message)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// An error and its causes on one line. reqwest's and lettre's Display hide
/// the cause (timeout, refused, DNS) that tells the user what went wrong.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let c_s = c.to_string();
        if !s.ends_with(&c_s) {
            s.push_str(": ");
            s.push_str(&c_s);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_char_columns() {
        let s = "a = 1\nسوريا = 2\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        let eq = s.find('=').map(|_| s.rfind('=').unwrap_or(0)).unwrap_or(0);
        assert_eq!(line_col(s, eq), (2, 7));
    }
}
