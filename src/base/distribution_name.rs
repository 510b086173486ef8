//! A distribution's name as PEP 503 compares them: lower case, each run of `-`, `_` and
//! `.` one `-`. `Foo.__Bar--baz`, `foo-bar-baz` and `FOO_BAR_BAZ` are one distribution, and
//! a wheel's `foo_bar-1.0.dist-info` is the `Foo__Bar==1.0` of a requirement file. Every
//! comparison of distribution names goes through [`normalize`].

/// `name` normalised: lower case, runs of `-_.` as one `-`.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// Whether `name` is a valid distribution name (PEP 508: letters, digits, `-`, `_` and `.`,
/// beginning and ending with a letter or digit). Only such a name may become part of a
/// path or an image's name.
pub(crate) fn is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_alphanumeric();
    bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::{is_valid, normalize};

    #[test]
    fn only_letters_digits_and_inner_separators_make_a_name() {
        for good in ["a", "ws-api", "Foo.Bar_baz", "x1"] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "../../evil",
            "a/b",
            "a b",
            "é",
            ".hidden",
            "a\nb",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn runs_of_separators_are_one_dash_and_case_is_folded() {
        for (name, want) in [
            ("Foo.__Bar--baz", "foo-bar-baz"),
            ("foo-bar-baz", "foo-bar-baz"),
            ("FOO_BAR_BAZ", "foo-bar-baz"),
            ("zope.interface", "zope-interface"),
            ("Zope-Interface", "zope-interface"),
            ("typing__extensions", "typing-extensions"),
            ("a-_-.b", "a-b"),
            ("six", "six"),
        ] {
            assert_eq!(normalize(name), want, "{name}");
        }
    }
}
