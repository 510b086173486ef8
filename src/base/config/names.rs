//! The shapes of the texts project.toml gives that become something with rules of its own
//! elsewhere: a file name, a DNS label, a Marathon id, an image tag, a Kubernetes label, an
//! environment variable. Each is checked when the configuration loads (`value_check`), so
//! a bad one is refused at its place in project.toml, not by a cluster much later.

/// A character no name, label, path or one-line value may hold: C0 and C1 controls (NEL
/// among them), DEL, and the Unicode line and paragraph separators, which JSON, YAML and
/// JavaScript read differently.
pub(crate) fn is_forbidden(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// The first character of `text` that [`is_forbidden`] refuses.
pub(crate) fn forbidden_in(text: &str) -> Option<char> {
    text.chars().find(|&c| is_forbidden(c))
}

/// A character that ends a line in some reader: a value holding one is more than one line
/// in an environment file, a shell script or a YAML document.
pub(crate) fn line_break_in(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        matches!(
            c,
            '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        )
    })
}

/// An image's name: one component of an OCI repository name (`[a-z0-9]+` joined by `.`,
/// `_`, `__` or a run of `-`), at most 128 characters. It is also a file name
/// (`dist/<name>.oci`) and the Kubernetes name's default.
pub(crate) fn is_image_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 128 {
        return false;
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return false;
    }
    let bytes = name.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let c = bytes[index];
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            index += 1;
            continue;
        }
        if !matches!(c, b'.' | b'_' | b'-') {
            return false;
        }
        let start = index;
        while index < bytes.len() && matches!(bytes[index], b'.' | b'_' | b'-') {
            index += 1;
        }
        let run = &name[start..index];
        let valid = run == "." || run == "_" || run == "__" || run.bytes().all(|b| b == b'-');
        if !valid {
            return false;
        }
    }
    true
}

/// An image tag, as OCI has it: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub(crate) fn is_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// An RFC 1123 DNS label, as Kubernetes names Services and Deployments: at most 63
/// lowercase letters, digits and `-`, starting and ending with a letter or digit.
pub(crate) fn is_dns_label(name: &str) -> bool {
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    name.len() <= 63
        && ends(name.chars().next())
        && ends(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A Marathon app id: `/`-separated segments, each DNS labels joined by `.` (`/team/app`),
/// with no `.` or `..` segment.
pub(crate) fn is_marathon_id(id: &str) -> bool {
    let path = id.strip_prefix('/').unwrap_or(id);
    !path.is_empty()
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && segment.split('.').all(is_dns_label))
}

/// A Kubernetes label key: an optional DNS subdomain prefix and `/`, then a name of at
/// most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.
pub(crate) fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok =
        prefix.is_none_or(|prefix| prefix.len() <= 253 && prefix.split('.').all(is_dns_label));
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// A Kubernetes label value: empty, or at most 63 letters, digits, `-`, `_` and `.`,
/// starting and ending with a letter or digit.
pub(crate) fn is_label_value(value: &str) -> bool {
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    value.is_empty()
        || (value.len() <= 63
            && ends(value.chars().next())
            && ends(value.chars().last())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
}

/// An environment variable's name: not empty, no `=` (it would end the name), nothing
/// [`is_forbidden`], no space.
pub(crate) fn is_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', ' ']) && forbidden_in(name).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_characters_are_controls_and_separators() {
        for c in [
            '\0', '\n', '\r', '\u{7f}', '\u{85}', '\u{9b}', '\u{2028}', '\u{2029}',
        ] {
            assert!(is_forbidden(c), "{c:?}");
        }
        assert!(!is_forbidden('é') && !is_forbidden(' '));
        assert_eq!(line_break_in("a\tb\u{1b}"), None);
        assert_eq!(line_break_in("a\u{2028}b"), Some('\u{2028}'));
    }

    #[test]
    fn image_names_and_tags() {
        for good in ["greeter", "my-app", "a.b", "a__b", "a---b", "x9"] {
            assert!(is_image_name(good), "{good}");
        }
        for bad in [
            "",
            "Greeter",
            "a..b",
            "../x",
            "a/b",
            "-a",
            "a-",
            "a._b",
            "a\u{2028}",
        ] {
            assert!(!is_image_name(bad), "{bad}");
        }
        assert!(is_tag("1.0.0") && is_tag("latest") && !is_tag(".x") && !is_tag("1+local"));
    }

    #[test]
    fn dns_labels_ids_and_labels() {
        assert!(is_dns_label("greeter-2") && !is_dns_label("Greeter") && !is_dns_label("a.b"));
        assert!(!is_dns_label(&"a".repeat(64)) && !is_dns_label("a-"));
        assert!(is_marathon_id("/team/app.v2") && is_marathon_id("app"));
        assert!(!is_marathon_id("/") && !is_marathon_id("/a/../b") && !is_marathon_id("/A"));
        assert!(is_label_key("app.kubernetes.io/name") && is_label_key("tier"));
        assert!(!is_label_key("a/") && !is_label_key("x\u{85}") && !is_label_key("/x"));
        assert!(is_label_value("") && is_label_value("v1.2_x") && !is_label_value("a b"));
        assert!(is_env_name("PATH") && !is_env_name("A=B") && !is_env_name(""));
    }
}
