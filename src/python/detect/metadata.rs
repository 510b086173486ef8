//! What one metadata file states, how the files' statements combine (each field from the
//! first file that states it), and the shapes of value the readers share: a console
//! script assignment and a `requires-python` that pins one minor version (read with
//! `pep440_rs`).

use std::str::FromStr;

use pep508_rs::pep440_rs::{Operator, VersionSpecifiers};

/// What one metadata file states; `None` or empty means "this file doesn't say".
#[derive(Debug, Default)]
pub(super) struct Metadata {
    pub(super) name: Option<String>,
    pub(super) python: Option<String>,
    pub(super) console_scripts: Vec<(String, String)>,
}

impl Metadata {
    /// Fills what `self` leaves unsaid from a file of lower precedence.
    pub(super) fn or(self, lower: Metadata) -> Metadata {
        Metadata {
            name: self.name.or(lower.name),
            python: self.python.or(lower.python),
            console_scripts: if self.console_scripts.is_empty() {
                lower.console_scripts
            } else {
                self.console_scripts
            },
        }
    }
}

/// `name = package.module:function [extras]`, a console script as `setup.cfg` and
/// `setup.py` write it.
pub(super) fn script_assignment(text: &str) -> Option<(String, String)> {
    let (name, target) = text.split_once('=')?;
    let name = name.trim();
    let target = target.split('[').next().unwrap_or_default().trim();
    let name_ok = name.starts_with(|c: char| c.is_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (name_ok && is_object_reference(target)).then(|| (name.to_string(), target.to_string()))
}

/// `package.module:attribute.path`, with Python identifiers on both sides.
fn is_object_reference(target: &str) -> bool {
    let dotted = |s: &str| {
        s.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
    };
    matches!(target.split_once(':'), Some((module, attr)) if dotted(module) && dotted(attr))
}

pub(super) fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The `X.Y` that a `requires-python` specifier pins, when it allows one minor version:
/// `==3.11`, `==3.11.*`, `==3.11.4` or `~=3.11.4`. A range says nothing about which
/// interpreter to use, so it gives `None`.
pub(super) fn pinned_minor(specifier: &str) -> Option<String> {
    let specifiers = VersionSpecifiers::from_str(specifier).ok()?;
    let [only] = specifiers.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let version = only.version();
    let plain = version.is_stable() && version.post().is_none() && !version.is_local();
    let min_parts = match only.operator() {
        Operator::Equal | Operator::EqualStar => 2,
        Operator::TildeEqual => 3,
        _ => return None,
    };
    match version.release() {
        [major, minor, ..] if plain && version.release().len() >= min_parts => {
            Some(format!("{major}.{minor}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_is_set_only_when_pinned() {
        for (spec, expected) in [
            ("==3.11", Some("3.11")),
            ("== 3.11.*", Some("3.11")),
            ("==3.11.4", Some("3.11")),
            ("~=3.11.4", Some("3.11")),
            ("~=3.11", None),
            (">=3.9", None),
            ("==3.*", None),
            ("===3.11", None),
            (">=3.11,<3.12", None),
            ("==3.11.0rc1", None),
            ("==3.11+local", None),
            ("not a specifier", None),
        ] {
            assert_eq!(pinned_minor(spec).as_deref(), expected, "{spec}");
        }
    }
}
