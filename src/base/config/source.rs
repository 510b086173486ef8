//! Where project.toml says each thing: the text a [`Config`](super::schema::Config) was parsed
//! from, kept with it, so that a value checked after the parse (at load, or later, such as
//! the bundle output at preflight) is reported at its own line and column.
//!
//! A place is named by the keys that lead to it (`["tasks", "lint", "sources"]`) and
//! found in toml's spanned document of that same text (every key and value of a
//! `DeTable` is a `toml::Spanned`), so dotted keys, inline tables and a `sources =` of
//! another table can never be mistaken for it. The document is parsed again only when an
//! error is made: the text parsed once, so it parses again.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::error::ConfigError;

/// The file a config was read from, and its text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Source {
    pub(crate) file: PathBuf,
    text: Arc<str>,
}

/// What of project.toml an error points at, by the keys that lead to it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum At<'a> {
    /// The key: `output` in `output = "x"`, `NAME` in `[tasks.NAME]`.
    Key(&'a [&'a str]),
    /// Its value.
    Value(&'a [&'a str]),
    /// The item of its array at this index.
    Item(&'a [&'a str], usize),
}

impl Source {
    pub(crate) fn new(file: &Path, text: &str) -> Source {
        Source {
            file: file.to_path_buf(),
            text: Arc::from(text),
        }
    }

    /// A configuration error at `at`: at the nearest place found when `at` itself is not
    /// there (the key for an item, the table for a key), else at no place.
    pub(crate) fn error(&self, at: At, message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.file, &self.text, self.span(at), message.into())
    }

    /// The place of the first key or string value in the file (in the text's order) for
    /// which `bad` holds, and that text.
    pub(crate) fn find_text(&self, bad: impl Fn(&str) -> bool) -> Option<(Range<usize>, String)> {
        type Found = Vec<(Range<usize>, String)>;
        fn in_value(value: &Spanned<DeValue>, bad: &dyn Fn(&str) -> bool, found: &mut Found) {
            match value.get_ref() {
                DeValue::String(text) if bad(text) => found.push((value.span(), text.to_string())),
                DeValue::Array(items) => items.iter().for_each(|item| in_value(item, bad, found)),
                DeValue::Table(table) => in_table(table, bad, found),
                _ => {}
            }
        }
        fn in_table(table: &DeTable, bad: &dyn Fn(&str) -> bool, found: &mut Found) {
            for (key, value) in table.iter() {
                if bad(key.get_ref()) {
                    found.push((key.span(), key.get_ref().to_string()));
                }
                in_value(value, bad, found);
            }
        }
        let document = DeTable::parse(&self.text).ok()?;
        let mut found = Vec::new();
        in_table(document.get_ref(), &bad, &mut found);
        found.into_iter().min_by_key(|(span, _)| span.start)
    }

    /// A configuration error at a place found by [`Source::find_text`].
    pub(crate) fn error_in(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.file, &self.text, Some(span), message.into())
    }

    /// Whether the file writes the key `keys` leads to (`["image"]`: an `[image]` table).
    pub(crate) fn writes(&self, keys: &[&str]) -> bool {
        let Ok(document) = DeTable::parse(&self.text) else {
            return false;
        };
        let mut table = document.get_ref();
        for (index, key) in keys.iter().enumerate() {
            let Some((_, value)) = table.iter().find(|(name, _)| name.get_ref() == key) else {
                return false;
            };
            match value.get_ref() {
                DeValue::Table(inner) => table = inner,
                _ => return index + 1 == keys.len(),
            }
        }
        true
    }

    fn span(&self, at: At) -> Option<Range<usize>> {
        let document = DeTable::parse(&self.text).ok()?;
        let (keys, item) = match at {
            At::Key(keys) | At::Value(keys) => (keys, None),
            At::Item(keys, index) => (keys, Some(index)),
        };
        let mut table = document.get_ref();
        let mut nearest = None;
        let mut found: Option<(&Spanned<DeString>, &Spanned<DeValue>)> = None;
        for key in keys {
            if let Some((_, value)) = found {
                let DeValue::Table(inner) = value.get_ref() else {
                    return nearest;
                };
                table = inner;
            }
            let Some(entry) = table.iter().find(|(name, _)| name.get_ref() == key) else {
                return nearest;
            };
            nearest = Some(entry.0.span());
            found = Some(entry);
        }
        let (key, value) = found?;
        Some(match (at, value.get_ref(), item) {
            (At::Key(_), _, _) => key.span(),
            (_, DeValue::Array(items), Some(index)) => items
                .get(index)
                .map_or_else(|| value.span(), |item| item.span()),
            _ => value.span(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(text: &str, at: At) -> (usize, usize) {
        let err = Source::new(Path::new("project.toml"), text).error(at, "x");
        let (line, column, _) = err.location.unwrap();
        (line, column)
    }

    #[test]
    fn each_place_is_found_where_it_is_written() {
        let text = "[tasks.a]\nsources = [\"x\", \"y\"]\n\n[bundle]\nsources = [\"z\", \"w\"]\n\
                    output = \"o\"\n[tasks]\nb = { deps = [\"a\"] }\n";
        assert_eq!(place(text, At::Item(&["bundle", "sources"], 1)), (5, 17));
        assert_eq!(
            place(text, At::Item(&["tasks", "a", "sources"], 0)),
            (2, 12)
        );
        assert_eq!(place(text, At::Key(&["bundle", "output"])), (6, 1));
        assert_eq!(place(text, At::Value(&["bundle", "output"])), (6, 10));
        assert_eq!(place(text, At::Key(&["tasks", "a"])), (1, 8));
        assert_eq!(place(text, At::Item(&["tasks", "b", "deps"], 0)), (8, 15));
    }

    #[test]
    fn a_place_not_written_falls_back_to_what_holds_it() {
        let text = "[tasks.a]\nrun = \"x\"\n";
        assert_eq!(place(text, At::Value(&["tasks", "a", "cwd"])), (1, 8));
        assert_eq!(place(text, At::Item(&["tasks", "a", "run"], 3)), (2, 7));
        let err = Source::new(Path::new("project.toml"), text).error(At::Key(&["bundle"]), "x");
        assert!(err.location.is_none());
    }

    #[test]
    fn a_text_is_found_in_keys_values_arrays_and_inline_tables() {
        let text = "[a]\nx = [\"ok\", { y = \"b\\u0000d\" }]\n\"k\\u0000\" = 1\n";
        let source = Source::new(Path::new("project.toml"), text);
        let (span, found) = source.find_text(|t| t.contains('\0')).unwrap();
        assert_eq!(found, "b\0d");
        assert_eq!(&text[span], "\"b\\u0000d\"");
        let text = "[a]\n\"k\\u0000\" = 1\n";
        let source = Source::new(Path::new("project.toml"), text);
        assert_eq!(source.find_text(|t| t.contains('\0')).unwrap().1, "k\0");
        assert!(source.find_text(|t| t == "zz").is_none());
    }
}
