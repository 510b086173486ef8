//! `setup.py`, by a scan of its text, because running it could do anything: the `name=`
//! and `python_requires=` string arguments of the `setup(...)` call, and every string
//! literal shaped like `"script = package.module:function"`. Best-effort: what the scan
//! does not recognise is left out.

use anyhow::Result;

use super::metadata::{Metadata, non_empty, pinned_minor, script_assignment};

pub(super) fn read(text: &str) -> Result<Metadata> {
    let tokens = python_tokens(text);
    let keywords = setup_call_keywords(&tokens);
    let keyword = |name: &str| keywords.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let mut console_scripts: Vec<(String, String)> = Vec::new();
    for token in &tokens {
        if let Token::Str(literal) = token
            && let Some(script) = script_assignment(literal)
            && !console_scripts.iter().any(|(name, _)| *name == script.0)
        {
            console_scripts.push(script);
        }
    }
    Ok(Metadata {
        name: keyword("name").and_then(non_empty),
        python: keyword("python_requires").and_then(pinned_minor),
        console_scripts,
    })
}

/// Just enough of Python's lexical structure to find string literals and the `setup(...)`
/// call without mistaking a comment or the inside of a string for code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// A string literal's raw content, escapes left as written.
    Str(&'a str),
    /// An identifier, keyword or number.
    Word(&'a str),
    Punct(char),
}

pub(super) fn python_tokens(source: &str) -> Vec<Token<'_>> {
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut tokens = Vec::new();
    let mut rest = source;
    while let Some(c) = rest.chars().next() {
        let (token, len) = match c {
            '#' => (None, rest.find('\n').unwrap_or(rest.len())),
            '"' | '\'' => {
                let (content, len) = string_literal(rest, c);
                (Some(Token::Str(content)), len)
            }
            c if c.is_whitespace() => (None, c.len_utf8()),
            c if is_word_char(c) => {
                let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
                (Some(Token::Word(&rest[..len])), len)
            }
            c => (Some(Token::Punct(c)), c.len_utf8()),
        };
        tokens.extend(token);
        rest = &rest[len..];
    }
    tokens
}

/// The string literal that `rest` starts with (its first char is `quote`): the raw content
/// and the length of the whole literal. An unterminated short string ends at its line's end.
fn string_literal(rest: &str, quote: char) -> (&str, usize) {
    let triple = rest.get(..3).filter(|t| t.chars().all(|c| c == quote));
    let delimiter = triple.unwrap_or(&rest[..1]);
    let body = &rest[delimiter.len()..];
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            chars.next();
        } else if body[i..].starts_with(delimiter) {
            return (&body[..i], 2 * delimiter.len() + i);
        } else if c == '\n' && triple.is_none() {
            return (&body[..i], delimiter.len() + i);
        }
    }
    (body, rest.len())
}

/// The `keyword="string"` arguments of the first `setup(...)` call, nested calls excluded.
fn setup_call_keywords<'a>(tokens: &[Token<'a>]) -> Vec<(&'a str, &'a str)> {
    let call_start = tokens.windows(2).enumerate().position(|(i, pair)| {
        pair == [Token::Word("setup"), Token::Punct('(')]
            && (i == 0 || tokens[i - 1] != Token::Word("def"))
    });
    let Some(call_start) = call_start else {
        return Vec::new();
    };
    let call = &tokens[call_start + 1..];
    let mut keywords = Vec::new();
    let mut depth = 0usize;
    for (i, token) in call.iter().enumerate() {
        match token {
            Token::Punct('(' | '[' | '{') => depth += 1,
            Token::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            Token::Word(key) if depth == 1 => {
                if let [Token::Punct('='), Token::Str(value), ..] = call[i + 1..] {
                    keywords.push((*key, value));
                }
            }
            _ => {}
        }
    }
    keywords
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_strings_are_tokenised_whole() {
        let tokens = python_tokens("x = '''a\n'b'''  # 'c'\ny = \"d\\\"e\" + ''\n");
        let strings: Vec<_> = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Str(s) => Some(*s),
                _ => None,
            })
            .collect();
        assert_eq!(strings, ["a\n'b", "d\\\"e", ""]);
    }
}
