//! Credentials never reach the screen or a log: the user-info of every URL in a text is
//! masked the way pip masks it, `http://alice:S3cr3t@host/` as `http://alice:****@host/`
//! and a lone token, `https://TOKEN@host/`, as `https://****@host/`.
//!
//! Applied where pybuild's text leaves the process: every line the `Printer` writes, the
//! rendered error, every line written to a step's log (the tools' output included: pybuild
//! cannot know what a tool echoes), and the help text, which shows the tasks' commands.

use std::borrow::Cow;

/// `text` with the user-info of each `scheme://user:password@host` in it masked.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_len = after
            .find(|c: char| c.is_whitespace() || "/?#\"'<>`".contains(c))
            .unwrap_or(after.len());
        let authority = &after[..authority_len];
        match authority.rsplit_once('@') {
            Some((user_info, host)) if !user_info.is_empty() => {
                match user_info.split_once(':') {
                    Some((user, _password)) => out.push_str(&format!("{user}:****")),
                    None => out.push_str("****"),
                }
                out.push('@');
                out.push_str(host);
            }
            _ => out.push_str(authority),
        }
        rest = &after[authority_len..];
    }
    out.push_str(rest);
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_masked_as_pip_does() {
        let cases = [
            (
                "the package index http://alice:S3cr3t@127.0.0.1:9/simple cannot be reached",
                "the package index http://alice:****@127.0.0.1:9/simple cannot be reached",
            ),
            (
                "https://TOKEN@pypi.example/simple/",
                "https://****@pypi.example/simple/",
            ),
            ("(https://a:b@h)", "(https://a:****@h)"),
            ("'http://a:p@ss@h:8080?x=1'", "'http://a:****@h:8080?x=1'"),
            (
                "git+https://u:t@github.com/o/r and http://x:y@z/",
                "git+https://u:****@github.com/o/r and http://x:****@z/",
            ),
        ];
        for (text, shown) in cases {
            assert_eq!(redact(text), shown);
        }
    }

    #[test]
    fn urls_without_user_info_and_other_text_are_left_alone() {
        for text in [
            "https://pypi.org/simple",
            "file:///srv/wheels@2",
            "pkg @ https://host/pkg.whl",
            "user@host: no scheme",
            "://@",
            "",
        ] {
            assert!(matches!(redact(text), Cow::Borrowed(_)), "{text}");
        }
    }
}
