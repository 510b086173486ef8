//! A requirement string (PEP 508: `name[extras] specifiers ; marker`, or `name @ url`),
//! as `[env] tools`, a requirement file's line, a `Requires-Dist` or a build requirement
//! writes it. Parsed by `pep508_rs` (its versions by `pep440_rs`), the one parser of
//! requirement strings; what pybuild asks of one is here: its name (PEP 503 normalised),
//! the one exact version it pins, and whether it applies without extras or markers.
//!
//! The pip syntax around requirement strings (options, `-r`, `-e`, comments, hash
//! continuations) is not PEP 508: `python/sources.rs` reads it.

use std::str::FromStr;

use pep508_rs::pep440_rs::Operator;
use pep508_rs::{ExtraName, VersionOrUrl};

/// A parsed requirement string.
#[derive(Debug, Clone)]
pub(crate) struct Requirement(pep508_rs::Requirement);

impl Requirement {
    /// `None` for anything PEP 508 does not accept (an option, a path, a bad specifier).
    pub(crate) fn parse(text: &str) -> Option<Requirement> {
        pep508_rs::Requirement::from_str(text.trim())
            .ok()
            .map(Requirement)
    }

    /// The distribution's name, PEP 503 normalised.
    pub(crate) fn name(&self) -> &str {
        self.0.name.as_ref()
    }

    /// The one version `name==VERSION` pins (PEP 440 normalised; extras and a marker
    /// allowed): the exact-pin rule. A range, a wildcard, `===`, several specifiers or a
    /// URL pin nothing.
    pub(crate) fn exact_version(&self) -> Option<String> {
        let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &self.0.version_or_url else {
            return None;
        };
        match specifiers.iter().collect::<Vec<_>>().as_slice() {
            [only] if *only.operator() == Operator::Equal => Some(only.version().to_string()),
            _ => None,
        }
    }

    /// Whether it has no marker: it applies everywhere, whatever only Python can evaluate.
    pub(crate) fn is_unconditional(&self) -> bool {
        self.0.marker.is_true()
    }

    /// Whether it names a URL (`name @ https://...`) rather than versions.
    pub(crate) fn is_url(&self) -> bool {
        matches!(self.0.version_or_url, Some(VersionOrUrl::Url(_)))
    }

    /// Whether it may apply with no extra asked for (a `Requires-Dist` that only an
    /// extra asks for does not).
    pub(crate) fn applies_without_extras(&self) -> bool {
        self.0.marker.evaluate_extras(&[])
    }

    /// When only one of `extras` asks for it: the requirement that applies without them
    /// (their `extra == "..."` clauses made true), as a string an installer takes. `None`
    /// when none of them asks for it, when it applies without extras, or when another
    /// extra is needed too.
    pub(crate) fn for_extras(&self, extras: &[String]) -> Option<String> {
        let extras: Vec<ExtraName> = extras
            .iter()
            .filter_map(|extra| ExtraName::from_str(extra).ok())
            .collect();
        if self.applies_without_extras() || !self.0.marker.evaluate_extras(&extras) {
            return None;
        }
        let mut requirement = self.0.clone();
        requirement.marker = requirement.marker.simplify_extras(&extras);
        requirement
            .marker
            .evaluate_extras(&[])
            .then(|| requirement.to_string())
    }
}

/// The normalised name of a requirement string; `None` if it is not one.
pub(crate) fn name(text: &str) -> Option<String> {
    Requirement::parse(text).map(|requirement| requirement.name().to_string())
}

/// `(name, version)` when the requirement string pins one exact version (see
/// [`Requirement::exact_version`]).
pub(crate) fn exact_pin(text: &str) -> Option<(String, String)> {
    let requirement = Requirement::parse(text)?;
    let version = requirement.exact_version()?;
    Some((requirement.name().to_string(), version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_pins_are_read_and_ranges_are_not() {
        assert_eq!(
            exact_pin("six==1.16.0"),
            Some(("six".into(), "1.16.0".into()))
        );
        assert_eq!(
            exact_pin("Click[extra] == 8.1.3 ; python_version >= '3'"),
            Some(("click".into(), "8.1.3".into()))
        );
        assert_eq!(exact_pin("pex == 2.1"), Some(("pex".into(), "2.1".into())));
        for open in [
            "six>=1",
            "six==1.*",
            "six>=1,==1.16",
            "six",
            "six===1.0",
            "six @ https://x/six.whl",
            "-r requirements.txt",
        ] {
            assert_eq!(exact_pin(open), None, "{open}");
        }
    }

    #[test]
    fn names_are_normalised_and_non_requirements_have_none() {
        assert_eq!(
            name("Foo..Bar_baz[x]>=1 ; python_version > '3'").as_deref(),
            Some("foo-bar-baz")
        );
        assert_eq!(
            name("pkg @ https://example.com/pkg.tar.gz").as_deref(),
            Some("pkg")
        );
        for not in [
            "-r base.txt",
            "./local",
            "",
            "ldap2pg.script:main",
            "Manage roles",
        ] {
            assert_eq!(name(not), None, "{not}");
        }
    }

    #[test]
    fn what_only_an_extra_asks_for_applies_with_it() {
        let parse = |text: &str| Requirement::parse(text).unwrap();
        assert!(parse("six").applies_without_extras());
        assert!(parse("tomli; python_version < \"3.11\"").applies_without_extras());
        assert!(!parse("pytest; extra == \"test\"").applies_without_extras());
        let extras = ["a".to_string()];
        assert_eq!(
            parse("idna; extra == \"a\"").for_extras(&extras).as_deref(),
            Some("idna")
        );
        assert_eq!(
            parse("tomli; python_version < \"3.11\" and extra == 'a'")
                .for_extras(&extras)
                .as_deref(),
            Some("tomli ; python_full_version < '3.11'")
        );
        assert_eq!(parse("attrs; extra == 'b'").for_extras(&extras), None);
        assert_eq!(parse("six").for_extras(&extras), None);
    }
}
