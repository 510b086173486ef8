//! [`ConfigError`]: a `project.toml` that cannot be used, shown as `file:line:column`, the
//! line and a caret under the place, and [`nearest`], the "did you mean" its hints offer.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A `project.toml` (or a uv workspace's `pyproject.toml`) that cannot be used, located in
/// its source.
#[derive(Debug, thiserror::Error)]
pub(crate) struct ConfigError {
    pub(crate) file: PathBuf,
    pub(crate) message: String,
    /// (line, column, the line's text), 1-based, when the error has a place.
    pub(crate) location: Option<(usize, usize, String)>,
    pub(crate) hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some((line, col, text)) => {
                writeln!(f, "{}:{line}:{col}: {}", self.file.display(), self.message)?;
                let gutter = line.to_string().len();
                writeln!(f, "{:gutter$} |", "")?;
                writeln!(f, "{line} | {text}")?;
                write!(f, "{:gutter$} | {:>col$}", "", "^")?;
            }
            None => write!(f, "{}: {}", self.file.display(), self.message)?,
        }
        Ok(())
    }
}

impl ConfigError {
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn at(
        file: &Path,
        source: &str,
        span: Option<Range<usize>>,
        message: String,
    ) -> Self {
        let location = span.map(|span| locate(source, span.start));
        ConfigError {
            file: file.to_path_buf(),
            message,
            location,
            hint: None,
        }
    }
}

/// 1-based line and column of a byte offset, with the line's text.
fn locate(source: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset].chars().count() + 1;
    let text = source[line_start..]
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    (line, column, text)
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub(crate) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(distance, c)| *distance <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}
