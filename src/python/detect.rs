//! What `pybuild init` learns from an existing Python project, and the `project.toml` it
//! writes from that.
//!
//! [`detect`] reads the project's own files and never runs any of them:
//! - `pyproject.toml`: `[project]` `name`, `requires-python` and `[project.scripts]`;
//! - `setup.cfg`: `[metadata] name`, `[options] python_requires` and the `console_scripts`
//!   of `[options.entry_points]`;
//! - `setup.py`, by a scan of its text, because running it could do anything: the
//!   `name=` and `python_requires=` string arguments of the `setup(...)` call, and every
//!   string literal shaped like `"script = package.module:function"`;
//! - the names of the `requirements*.txt` files at the root, and whether `src/` holds code;
//! - the names of the distributions the project depends on (`detect/dependencies`).
//!
//! Each field comes from the first of `pyproject.toml`, `setup.cfg`, `setup.py` that states
//! it. The console scripts are one field: the list of the first file that declares any,
//! never a merge. A missing file is not an error; a `pyproject.toml` or `setup.cfg` that
//! cannot be parsed is, and the error names the file. The `setup.py` scan is best-effort:
//! what it does not recognise is left out.
//!
//! [`render`] fills `templates/project.toml` with the result and the `[check]` entries
//! `init` chose: the detected values are set,
//! every other key is shown commented out with its default, and the text always parses
//! with [`crate::base::config::Config::parse`].

use std::fs;
use std::io;
use std::path::Path;

use anyhow::{Context, Result, bail};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

mod dependencies;

const TEMPLATE: &str = include_str!("../../templates/project.toml");

/// Where the project keeps its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `src/` holds a package (a directory with `__init__.py`) or a `.py` module.
    Src,
    /// Anything else: packages at the root, or nothing recognisable.
    Flat,
}

/// What [`detect`] found; `None` and empty mean "not stated anywhere".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detected {
    /// The distribution name.
    pub(crate) name: Option<String>,
    /// `(script name, "module:func")`, in the order of the file that declares them.
    pub(crate) console_scripts: Vec<(String, String)>,
    /// The `requirements*.txt` files at the root, `requirements.txt` before its variants.
    pub(crate) requirements: Vec<String>,
    /// The environment lock at the root (`uv.lock`, `pylock.toml`), which the venv is
    /// synced to instead of the requirement files.
    pub(crate) env_lock: Option<&'static str>,
    pub(crate) layout: Layout,
    /// `X.Y`, only when the project allows a single minor version of Python.
    pub(crate) python: Option<String>,
    /// The metadata files that were read, in order of precedence.
    pub(crate) sources: Vec<&'static str>,
    /// The distributions the project depends on, by normalised name (see `dependencies`).
    pub(crate) dependencies: Vec<String>,
}

/// What one metadata file states; `None` or empty means "this file doesn't say".
#[derive(Debug, Default)]
struct Metadata {
    name: Option<String>,
    python: Option<String>,
    console_scripts: Vec<(String, String)>,
}

impl Metadata {
    /// Fills what `self` leaves unsaid from a file of lower precedence.
    fn or(self, lower: Metadata) -> Metadata {
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

type Reader = fn(&str) -> Result<Metadata>;

/// The metadata files, highest precedence first, each with its reader.
const METADATA_FILES: [(&str, Reader); 3] = [
    ("pyproject.toml", read_pyproject),
    ("setup.cfg", read_setup_cfg),
    ("setup.py", read_setup_py),
];

/// Learns what it can about the Python project at `root` (see the module doc).
pub(crate) fn detect(root: &Path) -> Result<Detected> {
    let mut metadata = Metadata::default();
    let mut sources = Vec::new();
    for (file, read) in METADATA_FILES {
        let path = root.join(file);
        let Some(text) = read_if_present(&path)? else {
            continue;
        };
        let found = read(&text).with_context(|| format!("cannot parse {}", path.display()))?;
        metadata = metadata.or(found);
        sources.push(file);
    }
    let requirements = requirement_files(root)?;
    Ok(Detected {
        name: metadata.name,
        console_scripts: metadata.console_scripts,
        dependencies: dependencies::read(root, &requirements),
        requirements,
        env_lock: crate::base::project::EnvLock::find(root).map(|lock| lock.file_name()),
        layout: layout(root)?,
        python: metadata.python.or_else(|| python_version_file(root)),
        sources,
    })
}

fn read_if_present(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn requirement_files(root: &Path) -> Result<Vec<String>> {
    let context = || format!("cannot list {}", root.display());
    let mut files = Vec::new();
    for entry in fs::read_dir(root).with_context(context)? {
        let entry = entry.with_context(context)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with("requirements") && name.ends_with(".txt") && entry.path().is_file() {
            files.push(name);
        }
    }
    // By stem, so the base `requirements.txt` comes before `requirements-dev.txt`.
    files.sort_by(|a, b| a.trim_end_matches(".txt").cmp(b.trim_end_matches(".txt")));
    Ok(files)
}

/// `X.Y` from a `.python-version` file (pyenv's, uv's), when it names one CPython version
/// (`3.10`, `3.10.4`): the version the project is developed with.
fn python_version_file(root: &Path) -> Option<String> {
    let text = fs::read_to_string(root.join(".python-version")).ok()?;
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let mut parts = first.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let rest_ok = parts.all(numeric);
    (numeric(major) && numeric(minor) && rest_ok).then(|| format!("{major}.{minor}"))
}

fn layout(root: &Path) -> Result<Layout> {
    let src = root.join("src");
    let context = || format!("cannot list {}", src.display());
    let entries = match fs::read_dir(&src) {
        Ok(entries) => entries,
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Layout::Flat);
        }
        Err(err) => return Err(err).with_context(context),
    };
    for entry in entries {
        let path = entry.with_context(context)?.path();
        let is_code = if path.is_dir() {
            path.join("__init__.py").is_file()
        } else {
            path.extension().is_some_and(|ext| ext == "py")
        };
        if is_code {
            return Ok(Layout::Src);
        }
    }
    Ok(Layout::Flat)
}

// ---- pyproject.toml ----

fn read_pyproject(text: &str) -> Result<Metadata> {
    // `DeTable` rather than `toml::Table`: its keys keep their spans, which give back the
    // order of `[project.scripts]` that a sorted map loses.
    let document = DeTable::parse(text)?;
    let Some(project) = document.get_ref().get("project") else {
        return Ok(Metadata::default());
    };
    let project = toml_table(text, project, "project")?;
    let name = project_string(text, project, "name")?;
    let requires = project_string(text, project, "requires-python")?;
    Ok(Metadata {
        name: name.and_then(non_empty),
        python: requires.and_then(pinned_minor),
        console_scripts: pyproject_scripts(text, project)?,
    })
}

fn pyproject_scripts(text: &str, project: &DeTable<'_>) -> Result<Vec<(String, String)>> {
    let Some(scripts) = project.get("scripts") else {
        return Ok(Vec::new());
    };
    let mut entries: Vec<_> = toml_table(text, scripts, "project.scripts")?
        .iter()
        .collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
        .into_iter()
        .map(|(key, value)| match value.get_ref() {
            DeValue::String(target) => Ok((key.get_ref().to_string(), target.trim().to_string())),
            _ => Err(wrong_type(
                text,
                value,
                &format!("project.scripts.{}", key.get_ref()),
                "a string",
            )),
        })
        .collect()
}

fn toml_table<'a, 'i>(
    text: &str,
    value: &'a Spanned<DeValue<'i>>,
    key: &str,
) -> Result<&'a DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(table) => Ok(table),
        _ => Err(wrong_type(text, value, key, "a table")),
    }
}

fn project_string<'a>(text: &str, project: &'a DeTable<'_>, key: &str) -> Result<Option<&'a str>> {
    match project.get(key).map(|value| (value, value.get_ref())) {
        None => Ok(None),
        Some((_, DeValue::String(s))) => Ok(Some(s)),
        Some((value, _)) => Err(wrong_type(
            text,
            value,
            &format!("project.{key}"),
            "a string",
        )),
    }
}

fn wrong_type(
    text: &str,
    value: &Spanned<DeValue<'_>>,
    key: &str,
    expected: &str,
) -> anyhow::Error {
    let offset = value.span().start.min(text.len());
    let line = text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1;
    anyhow::anyhow!("line {line}: `{key}` must be {expected}")
}

// ---- setup.cfg ----

fn read_setup_cfg(text: &str) -> Result<Metadata> {
    let ini = Ini::parse(text)?;
    let console_scripts = ini
        .get("options.entry_points", "console_scripts")
        .map(|value| value.lines().filter_map(script_assignment).collect())
        .unwrap_or_default();
    Ok(Metadata {
        name: ini.get("metadata", "name").and_then(non_empty),
        python: ini.get("options", "python_requires").and_then(pinned_minor),
        console_scripts,
    })
}

/// An INI file read the way Python's `configparser` reads `setup.cfg`: `[section]` headers,
/// `key = value` or `key: value` with keys lower-cased, indented lines continuing the value
/// above them, and `#`/`;` comment lines.
pub(crate) struct Ini {
    /// `(section, key, value)` in file order.
    pub(crate) entries: Vec<(String, String, String)>,
}

impl Ini {
    pub(crate) fn parse(text: &str) -> Result<Ini> {
        let mut entries: Vec<(String, String, String)> = Vec::new();
        let mut section: Option<String> = None;
        // Whether an indented line continues the last value; not right after a header.
        let mut in_value = false;
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
                continue;
            }
            if in_value
                && line.starts_with([' ', '\t'])
                && let Some((_, _, value)) = entries.last_mut()
            {
                value.push('\n');
                value.push_str(trimmed);
                continue;
            }
            if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                section = Some(header.trim().to_string());
                in_value = false;
                continue;
            }
            let line_number = index + 1;
            let Some(section) = &section else {
                bail!("line {line_number}: `{trimmed}` comes before any [section] header");
            };
            let Some(split) = trimmed.find(['=', ':']) else {
                bail!(
                    "line {line_number}: expected `key = value` or `[section]`, found `{trimmed}`"
                );
            };
            let key = trimmed[..split].trim().to_lowercase();
            let value = trimmed[split + 1..].trim().to_string();
            entries.push((section.clone(), key, value));
            in_value = true;
        }
        Ok(Ini { entries })
    }

    fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, value)| value.as_str())
    }
}

// ---- setup.py ----

fn read_setup_py(text: &str) -> Result<Metadata> {
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
enum Token<'a> {
    /// A string literal's raw content, escapes left as written.
    Str(&'a str),
    /// An identifier, keyword or number.
    Word(&'a str),
    Punct(char),
}

fn python_tokens(source: &str) -> Vec<Token<'_>> {
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

// ---- shared by the readers ----

/// `name = package.module:function [extras]`, a console script as `setup.cfg` and
/// `setup.py` write it.
fn script_assignment(text: &str) -> Option<(String, String)> {
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

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The `X.Y` that a `requires-python` specifier pins, when it allows one minor version:
/// `==3.11`, `==3.11.*`, `==3.11.4` or `~=3.11.4`. A range says nothing about which
/// interpreter to use, so it gives `None`.
fn pinned_minor(specifier: &str) -> Option<String> {
    let specifier = specifier.trim();
    let (version, min_parts) = if let Some(version) = specifier.strip_prefix("~=") {
        (version, 3)
    } else if let Some(version) = specifier.strip_prefix("==") {
        (version.trim().strip_suffix(".*").unwrap_or(version), 2)
    } else {
        return None;
    };
    let parts: Vec<&str> = version.trim().split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (numeric && parts.len() >= min_parts).then(|| format!("{}.{}", parts[0], parts[1]))
}

// ---- render ----

/// The `project.toml` text for `detected`; `fallback_name` (the directory's name, say) is
/// the project name when none was detected and must not be empty. `check` is the body of
/// `[check]` (after its first comment), when `init` has entries to write.
pub(crate) fn render(detected: &Detected, fallback_name: &str, check: Option<&str>) -> String {
    let name = detected.name.as_deref().unwrap_or(fallback_name);
    // The default output is named after the console script the bundle runs, which is not
    // always the project's name (httpie's is `http`).
    let script = detected
        .console_scripts
        .first()
        .map_or(name, |(script, _)| script.as_str());
    fill(
        TEMPLATE,
        &[
            ("name", toml_string(name)),
            (
                "check",
                check.unwrap_or(DEFAULT_CHECK).trim_end().to_string(),
            ),
            ("python", python_line(detected.python.as_deref())),
            (
                "requirements",
                requirements_line(&detected.requirements, detected.env_lock),
            ),
            (
                "console-script",
                console_script_line(&detected.console_scripts, name),
            ),
            ("output", toml_string(&format!("dist/{script}.pex"))),
        ],
    )
}

/// `[check]`'s keys, commented out with their defaults.
const DEFAULT_CHECK: &str = "\
# Commands that must be on PATH.
# commands = []        # e.g. [\"cc\"]
# C headers the compiler must find.
# headers = []         # e.g. [\"Python.h\", \"ldap.h\"]
# pkg-config packages that must be installed.
# pkg-config = []      # e.g. [\"libpq\"]
";

fn python_line(python: Option<&str>) -> String {
    match python {
        Some(version) => format!("python = {}", toml_string(version)),
        None => "# python = \"3.11\"".into(),
    }
}

fn requirements_line(requirements: &[String], env_lock: Option<&str>) -> String {
    if requirements.is_empty() {
        return "# requirements = []".into();
    }
    let files: Vec<String> = requirements.iter().map(|f| toml_string(f)).collect();
    let line = format!("requirements = [{}]", files.join(", "));
    match env_lock {
        // The lock wins: listing the files would only earn a warning on every install.
        Some(lock) => format!("# {line}   # not installed: {lock} is the venv's source"),
        None => line,
    }
}

fn console_script_line(scripts: &[(String, String)], name: &str) -> String {
    let Some(((first, _), others)) = scripts.split_first() else {
        return format!("# console-script = {}", toml_string(name));
    };
    let mut line = format!("console-script = {}", toml_string(first));
    if !others.is_empty() {
        let others: Vec<String> = others.iter().map(|(other, _)| toml_string(other)).collect();
        line.push_str(&format!("  # also declared: {}", others.join(", ")));
    }
    line
}

/// Replaces each `@key@` of `template` with its value in one pass, so a value that happens
/// to contain `@key@` is left as it is.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let placeholder = values
            .iter()
            .find(|(key, _)| after.strip_prefix(key).is_some_and(|r| r.starts_with('@')));
        match placeholder {
            Some((key, value)) => {
                out.push_str(value);
                rest = &after[key.len() + 1..];
            }
            None => {
                out.push('@');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A TOML basic string. Always one line, so it is safe inside a comment too.
fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::config::{BundleKind, Config, DevelopMode, Installer};

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    fn scripts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn parse(text: &str) -> Config {
        Config::parse(Path::new("project.toml"), text).unwrap_or_else(|err| panic!("{err}\n{text}"))
    }

    #[test]
    fn pyproject_flat_layout_keeps_script_order() {
        let dir = project(&[
            (
                "pyproject.toml",
                "[project]\nname = \"clicker\"\nrequires-python = \">=3.9\"\n\n\
                 [project.scripts]\nzeta = \"clicker.app:cli\"\nalpha = \"clicker.admin:main\"\n",
            ),
            ("clicker/__init__.py", ""),
            ("requirements-dev.txt", "pytest\n"),
            ("requirements.txt", "click\n"),
            ("dev-requirements.txt", "not matched\n"),
        ]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name.as_deref(), Some("clicker"));
        assert_eq!(
            detected.console_scripts,
            scripts(&[("zeta", "clicker.app:cli"), ("alpha", "clicker.admin:main")])
        );
        assert_eq!(
            detected.requirements,
            ["requirements.txt", "requirements-dev.txt"]
        );
        assert_eq!(detected.layout, Layout::Flat);
        assert_eq!(detected.python, None);
        assert_eq!(detected.sources, ["pyproject.toml"]);
    }

    const SETUP_PY: &str = r#"import os
from setuptools import find_packages, setup

# "commented = not.a:script"
def helper(name="not-the-name"):
    """A docstring with "quotes" and 'fake = fake.mod:run'."""
    return dict(name="nested")

setup(
    name="legacy-tool",
    version="0.4.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    python_requires=">=3.8",
    entry_points={"console_scripts": ["legacy-tool = legacy_tool.main:run"]},
)
"#;

    #[test]
    fn setup_py_src_layout() {
        let dir = project(&[
            ("setup.py", SETUP_PY),
            ("src/legacy_tool/__init__.py", ""),
            ("src/legacy_tool/main.py", "def run(): pass\n"),
        ]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name.as_deref(), Some("legacy-tool"));
        assert_eq!(
            detected.console_scripts,
            scripts(&[("legacy-tool", "legacy_tool.main:run")])
        );
        assert_eq!(detected.layout, Layout::Src);
        assert_eq!(detected.python, None);
        assert!(detected.requirements.is_empty());
        assert_eq!(detected.sources, ["setup.py"]);
    }

    #[test]
    fn setup_cfg_multiline_console_scripts() {
        let dir = project(&[
            (
                "setup.cfg",
                "# comment\n[metadata]\nName = cfg-tool\ndescription = A tool:\n  on two lines\n\n\
                 [options]\npython_requires = ==3.10.*\n\n\
                 [options.entry_points]\nconsole_scripts =\n    cfg-tool = cfg_tool.cli:main\n\n\
                 \x20   cfg-admin=cfg_tool.admin:run [extra]\n; a comment\ngui_scripts =\n    gui = cfg_tool.gui:main\n\n\
                 [flake8]\nmax-line-length: 100\n",
            ),
            ("src/cfg_tool.py", ""),
        ]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name.as_deref(), Some("cfg-tool"));
        assert_eq!(
            detected.console_scripts,
            scripts(&[
                ("cfg-tool", "cfg_tool.cli:main"),
                ("cfg-admin", "cfg_tool.admin:run")
            ])
        );
        assert_eq!(detected.python.as_deref(), Some("3.10"));
        assert_eq!(detected.layout, Layout::Src);
        assert_eq!(detected.sources, ["setup.cfg"]);
    }

    #[test]
    fn each_field_comes_from_the_first_file_stating_it() {
        let dir = project(&[
            (
                "pyproject.toml",
                "[project]\nname = \"from-pyproject\"\ndynamic = [\"scripts\"]\n",
            ),
            (
                "setup.cfg",
                "[metadata]\nname = from-cfg\n[options.entry_points]\nconsole_scripts =\n  cfg = cfg.cli:main\n",
            ),
            (
                "setup.py",
                "setup(name='from-py', python_requires='~=3.12.1', scripts=['py = py.cli:main'])\n",
            ),
        ]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name.as_deref(), Some("from-pyproject"));
        assert_eq!(
            detected.console_scripts,
            scripts(&[("cfg", "cfg.cli:main")])
        );
        assert_eq!(detected.python.as_deref(), Some("3.12"));
        assert_eq!(
            detected.sources,
            ["pyproject.toml", "setup.cfg", "setup.py"]
        );
    }

    #[test]
    fn nothing_to_read_is_not_an_error() {
        let dir = project(&[("src/README", "")]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name, None);
        assert!(detected.console_scripts.is_empty() && detected.sources.is_empty());
        assert_eq!(detected.layout, Layout::Flat);
    }

    #[test]
    fn malformed_pyproject_error_names_the_file() {
        let dir = project(&[("pyproject.toml", "[project\nname = \"x\"\n")]);
        let err = format!("{:#}", detect(dir.path()).unwrap_err());
        assert!(err.contains("pyproject.toml"), "{err}");
    }

    #[test]
    fn wrong_type_in_pyproject_names_file_line_and_key() {
        let dir = project(&[(
            "pyproject.toml",
            "[project]\nname = \"x\"\n\n[project.scripts]\nx = 1\n",
        )]);
        let err = format!("{:#}", detect(dir.path()).unwrap_err());
        assert!(err.contains("pyproject.toml"), "{err}");
        assert!(
            err.contains("line 5: `project.scripts.x` must be a string"),
            "{err}"
        );
    }

    #[test]
    fn malformed_setup_cfg_error_names_the_file_and_line() {
        let dir = project(&[("setup.cfg", "[metadata]\nname = x\nthis is not ini\n")]);
        let err = format!("{:#}", detect(dir.path()).unwrap_err());
        assert!(err.contains("setup.cfg") && err.contains("line 3"), "{err}");
        let dir = project(&[("setup.cfg", "name = x\n")]);
        let err = format!("{:#}", detect(dir.path()).unwrap_err());
        assert!(
            err.contains("setup.cfg") && err.contains("before any [section]"),
            "{err}"
        );
    }

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
        ] {
            assert_eq!(pinned_minor(spec).as_deref(), expected, "{spec}");
        }
    }

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

    #[test]
    fn render_sets_detected_values_and_parses() {
        let detected = Detected {
            name: Some("greeter".into()),
            console_scripts: scripts(&[
                ("greet", "greeter.cli:main"),
                ("greet-admin", "greeter.admin:main"),
            ]),
            requirements: vec!["requirements.txt".into(), "requirements-dev.txt".into()],
            env_lock: None,
            layout: Layout::Src,
            python: Some("3.11".into()),
            sources: vec!["pyproject.toml"],
            dependencies: Vec::new(),
        };
        let text = render(&detected, "fallback", None);
        let config = parse(&text);
        assert_eq!(config.project.name, "greeter");
        assert_eq!(config.project.python.as_deref(), Some("3.11"));
        assert_eq!(config.bundle.console_script.as_deref(), Some("greet"));
        assert_eq!(
            config.env.requirements,
            ["requirements.txt", "requirements-dev.txt"]
        );
        assert!(text.contains("# also declared: \"greet-admin\""), "{text}");
        assert!(text.contains("\n# output = \"dist/greet.pex\"\n"), "{text}");
        assert!(
            !text.contains("@name@") && !text.contains("@output@"),
            "{text}"
        );
    }

    #[test]
    fn render_without_detection_uses_fallback_and_comments_console_script() {
        let detected = detect(project(&[]).path()).unwrap();
        let text = render(&detected, "my-app", None);
        let config = parse(&text);
        assert_eq!(config.project.name, "my-app");
        assert_eq!(config.project.python, None);
        assert_eq!(config.bundle.console_script, None);
        assert!(config.env.requirements.is_empty());
        assert!(text.contains("\n# console-script = \"my-app\"\n"), "{text}");
        assert!(
            text.contains("\n# output = \"dist/my-app.pex\"\n"),
            "{text}"
        );
    }

    #[test]
    fn a_python_version_file_gives_the_interpreter() {
        for (text, expected) in [
            ("3.10\n", Some("3.10")),
            ("# pinned\n3.12.4\n", Some("3.12")),
            ("pypy3.10\n", None),
            ("system\n", None),
        ] {
            let dir = project(&[(".python-version", text)]);
            assert_eq!(
                python_version_file(dir.path()).as_deref(),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn with_a_lock_the_requirement_files_are_left_commented() {
        let line = requirements_line(&["requirements.txt".into()], Some("uv.lock"));
        assert!(
            line.starts_with("# requirements = [\"requirements.txt\"]"),
            "{line}"
        );
        assert!(line.contains("uv.lock is the venv's source"), "{line}");
        assert_eq!(
            requirements_line(&["requirements.txt".into()], None),
            "requirements = [\"requirements.txt\"]"
        );
    }

    #[test]
    fn render_escapes_names() {
        let name = "we\"ird\\na\nme\u{7}@python@";
        let detected = Detected {
            name: Some(name.into()),
            console_scripts: scripts(&[("a\"b", "x:y"), ("c\nd", "x:z")]),
            requirements: Vec::new(),
            env_lock: None,
            layout: Layout::Flat,
            python: None,
            sources: Vec::new(),
            dependencies: Vec::new(),
        };
        let config = parse(&render(&detected, "fallback", None));
        assert_eq!(config.project.name, name);
        assert_eq!(config.bundle.console_script.as_deref(), Some("a\"b"));
    }

    /// The template's commented-out keys are real keys, and those with a default show it.
    #[test]
    fn commented_keys_show_the_defaults() {
        let text = render(&detect(project(&[]).path()).unwrap(), "app", None);
        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if is_assignment(rest) && !rest.starts_with("entry-point") => rest,
                Some(rest) if rest.starts_with("[tasks.") => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let config = parse(&uncommented);
        assert_eq!(config.env.path, ".venv");
        assert_eq!(config.env.installer, Installer::Auto);
        assert!(config.env.requirements.is_empty() && config.env.tools.is_empty());
        assert!(config.check.is_empty() && config.check.hints.is_empty());
        assert_eq!(config.develop.mode, DevelopMode::Pip);
        assert_eq!(config.bundle.kind, BundleKind::Pex);
        assert_eq!(config.bundle.output.as_deref(), Some("dist/app.pex"));
        assert!(config.bundle.sources.is_empty() && config.bundle.pex_args.is_empty());
        assert_eq!(config.bundle.strategy, crate::base::config::Strategy::Auto);
        let lint = &config.tasks["lint"];
        assert!(lint.outputs.is_empty() && lint.env.is_empty());
        assert_eq!(lint.cwd.as_deref(), Some("."));
        assert_eq!(config.watch.targets, ["bundle"]);
        assert_eq!(config.watch.debounce_ms, 50);
        assert!(!config.watch.restart);
        let keys = uncommented
            .lines()
            .filter(|line| is_assignment(line))
            .count();
        assert_eq!(keys, 27, "{uncommented}");
    }

    fn is_assignment(line: &str) -> bool {
        line.split_once(" = ").is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        })
    }
}
