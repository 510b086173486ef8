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

#[cfg(test)]
mod tests {
    use super::normalize;

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
