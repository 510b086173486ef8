//! `project.toml`: its schema, defaults and validation.
//!
//! Every key has a default except `[project] name`, so a file holding only that works.
//! Unknown keys, wrong types and bad values are [`ConfigError`]s that point at the file, line
//! and column and, for a misspelt key or value, name the nearest valid one.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

mod source;
pub(crate) mod task;
pub(crate) use source::{At, Source};
pub(crate) use task::{TaskConfig, TaskRun};

pub(crate) const FILE_NAME: &str = "project.toml";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Config {
    pub(crate) project: ProjectSection,
    #[serde(default)]
    pub(crate) env: EnvSection,
    #[serde(default)]
    pub(crate) check: CheckSection,
    #[serde(default)]
    pub(crate) develop: DevelopSection,
    #[serde(default)]
    pub(crate) bundle: BundleSection,
    #[serde(default)]
    pub(crate) watch: WatchSection,
    #[serde(default)]
    pub(crate) tasks: BTreeMap<String, TaskConfig>,
    /// Where it was read from, for errors found after the parse.
    #[serde(skip)]
    pub(crate) source: Source,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ProjectSection {
    /// The distribution name, as in `pyproject.toml`/`setup.py`.
    pub(crate) name: String,
    /// A version (`3.11`) looked up as `python3.11` on PATH, or an interpreter path.
    pub(crate) python: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct EnvSection {
    #[serde(default = "default_venv_path")]
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) installer: Installer,
    #[serde(default)]
    pub(crate) requirements: Vec<String>,
    #[serde(default)]
    pub(crate) tools: Vec<String>,
}

impl Default for EnvSection {
    fn default() -> Self {
        EnvSection {
            path: default_venv_path(),
            installer: Installer::default(),
            requirements: Vec::new(),
            tools: Vec::new(),
        }
    }
}

fn default_venv_path() -> String {
    ".venv".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Installer {
    /// `python -m venv` and pip.
    Pip,
    /// uv: the one on PATH, else pybuild's own (see `uv`).
    Uv,
    /// As `Uv`, but pip when pybuild's own uv cannot be fetched.
    #[default]
    Auto,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct CheckSection {
    #[serde(default)]
    pub(crate) commands: Vec<String>,
    #[serde(default)]
    pub(crate) headers: Vec<String>,
    #[serde(default)]
    pub(crate) pkg_config: Vec<String>,
    /// How to get a missing command, header or module; overrides the built-in hints.
    #[serde(default)]
    pub(crate) hints: BTreeMap<String, String>,
}

impl CheckSection {
    pub(crate) fn is_empty(&self) -> bool {
        self.commands.is_empty() && self.headers.is_empty() && self.pkg_config.is_empty()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct DevelopSection {
    #[serde(default)]
    pub(crate) mode: DevelopMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) enum DevelopMode {
    /// `pip install -e .`
    #[default]
    #[serde(rename = "pip")]
    Pip,
    /// `python setup.py develop`, for projects that still need it.
    #[serde(rename = "setup.py")]
    SetupPy,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct BundleSection {
    #[serde(default)]
    pub(crate) kind: BundleKind,
    pub(crate) console_script: Option<String>,
    pub(crate) entry_point: Option<String>,
    pub(crate) output: Option<String>,
    /// Globs: `pattern` adds git-ignored files to the inputs, `!pattern` removes files.
    #[serde(default)]
    pub(crate) sources: Vec<String>,
    /// Globs of input links allowed to lead out of the project (their targets are bundled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) external_links: Vec<String>,
    #[serde(default)]
    pub(crate) pex_args: Vec<String>,
    // The keys added with the other kinds are left out of the serialised section (part of
    // the bundle's fingerprint) while empty, so adding them rebuilt no existing PEX.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) shiv_args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) pyinstaller_args: Vec<String>,
    /// Modules PyInstaller's analysis cannot see (imported dynamically).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) hidden_imports: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) zipapp_args: Vec<String>,
    /// How a PEX is built: layered on a cached dependencies PEX, or from the project's wheel.
    #[serde(default)]
    pub(crate) strategy: Strategy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Strategy {
    /// Layered when the project allows it (pure Python, a readable editable install).
    #[default]
    Auto,
    /// The project's code and metadata on top of a dependencies PEX built once per digest.
    Layered,
    /// A wheel of the project built by pex every time, as `pex .` does.
    Wheel,
}

impl BundleSection {
    /// The keys that only one kind reads, each with that kind and whether it is set.
    fn kind_keys(&self) -> [(&'static str, BundleKind, bool); 5] {
        [
            ("pex-args", BundleKind::Pex, !self.pex_args.is_empty()),
            ("shiv-args", BundleKind::Shiv, !self.shiv_args.is_empty()),
            (
                "pyinstaller-args",
                BundleKind::Pyinstaller,
                !self.pyinstaller_args.is_empty(),
            ),
            (
                "hidden-imports",
                BundleKind::Pyinstaller,
                !self.hidden_imports.is_empty(),
            ),
            (
                "zipapp-args",
                BundleKind::Zipapp,
                !self.zipapp_args.is_empty(),
            ),
        ]
    }
}

/// The bundlers; what each needs and does lives in its backend (`src/bundle/<kind>.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum BundleKind {
    #[default]
    Pex,
    Shiv,
    Pyinstaller,
    Zipapp,
}

impl fmt::Display for BundleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BundleKind::Pex => "pex",
            BundleKind::Shiv => "shiv",
            BundleKind::Pyinstaller => "pyinstaller",
            BundleKind::Zipapp => "zipapp",
        })
    }
}

/// `pybuild watch`'s defaults; its command-line arguments override them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct WatchSection {
    /// What it runs: `setup` or `bundle`.
    #[serde(default = "default_watch_targets")]
    pub(crate) targets: Vec<String>,
    /// How long the files must be quiet after a change before a run starts.
    #[serde(default = "default_debounce_ms")]
    pub(crate) debounce_ms: u64,
    /// Cancel a run when a change arrives and start again, instead of finishing it first.
    #[serde(default)]
    pub(crate) restart: bool,
}

impl Default for WatchSection {
    fn default() -> Self {
        WatchSection {
            targets: default_watch_targets(),
            debounce_ms: default_debounce_ms(),
            restart: false,
        }
    }
}

fn default_watch_targets() -> Vec<String> {
    vec!["bundle".into()]
}

fn default_debounce_ms() -> u64 {
    50
}

/// A `project.toml` that cannot be used, located in its source.
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

    fn at(file: &Path, source: &str, span: Option<Range<usize>>, message: String) -> Self {
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

impl Config {
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|err| ConfigError {
            file: path.to_path_buf(),
            message: format!("cannot read: {err}"),
            location: None,
            hint: None,
        })?;
        let source = String::from_utf8(bytes).map_err(|err| {
            let at = err.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(err.as_bytes());
            // The lossy text has the same bytes before the first invalid one.
            ConfigError::at(
                path,
                &text,
                Some(at..at + 1),
                "not valid UTF-8 (TOML files are UTF-8)".into(),
            )
        })?;
        Config::parse(path, &source)
    }

    pub(crate) fn parse(path: &Path, source: &str) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(source).map_err(|err| {
            let message = err.message().trim().to_string();
            let hint = nearest_name_hint(&message);
            ConfigError {
                hint,
                ..ConfigError::at(path, source, err.span(), message)
            }
        })?;
        config.source = Source::new(path, source);
        config.validate()?;
        Ok(config)
    }

    /// An error at a place of the file this config was read from, for a check made after
    /// the parse.
    pub(crate) fn error_at(&self, at: At, message: impl Into<String>) -> ConfigError {
        self.source.error(at, message)
    }

    /// Checks that serde's types cannot express, pointing at the offending value.
    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |at: At, message: String| self.error_at(at, message);
        if self.project.name.trim().is_empty() {
            return Err(fail(
                At::Value(&["project", "name"]),
                "`project.name` must not be empty".into(),
            ));
        }
        if self.bundle.console_script.is_some() && self.bundle.entry_point.is_some() {
            return Err(fail(
                At::Key(&["bundle", "entry-point"]),
                "`bundle.console-script` and `bundle.entry-point` are exclusive: set one".into(),
            ));
        }
        if let Some(entry) = &self.bundle.entry_point
            && !is_entry_point(entry)
        {
            return Err(fail(
                At::Value(&["bundle", "entry-point"]),
                format!(
                    "`bundle.entry-point` must look like `package.module:function`, not `{entry}`"
                ),
            ));
        }
        if let Some(output) = &self.bundle.output
            && !crate::base::paths::is_plain_file_path(output)
        {
            return Err(fail(
                At::Value(&["bundle", "output"]),
                format!(
                    "`bundle.output` must be a relative path to a file inside the project, \
                     without `.`, `..` or a trailing `/`, not `{output}`"
                ),
            )
            .hint("write it like `dist/app.pex`"));
        }
        // A key another kind reads would be ignored silently: say so instead.
        for (key, kind, set) in self.bundle.kind_keys() {
            if set && kind != self.bundle.kind {
                return Err(fail(
                    At::Key(&["bundle", key]),
                    format!(
                        "`bundle.{key}` is read only by `kind = \"{kind}\"`, but `bundle.kind` is `\"{}\"`",
                        self.bundle.kind
                    ),
                )
                .hint(format!(
                    "remove `{key}`, or set `kind = \"{kind}\"` in `[bundle]`"
                )));
            }
        }
        for (key, patterns) in [
            ("sources", &self.bundle.sources),
            ("external-links", &self.bundle.external_links),
        ] {
            for (index, pattern) in patterns.iter().enumerate() {
                let glob = match key {
                    "sources" => pattern.strip_prefix('!').unwrap_or(pattern),
                    _ => pattern,
                };
                if let Err(err) = globset::Glob::new(glob) {
                    return Err(fail(
                        At::Item(&["bundle", key], index),
                        format!("bad glob in `bundle.{key}`: {err}"),
                    ));
                }
            }
        }
        for (index, requirement) in self.env.requirements.iter().enumerate() {
            if !is_inside(Path::new(requirement)) {
                return Err(fail(
                    At::Item(&["env", "requirements"], index),
                    format!(
                        "`env.requirements` entries must be files inside the project, not `{requirement}`"
                    ),
                ));
            }
        }
        task::validate(self)
    }
}

/// An `entry_points` style reference: `module.path:attr.path`.
fn is_entry_point(entry: &str) -> bool {
    let ident = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                let mut chars = part.chars();
                chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                    && chars.all(|c| c.is_alphanumeric() || c == '_')
            })
    };
    matches!(entry.split_once(':'), Some((module, attr)) if ident(module) && ident(attr))
}

/// A relative path that stays inside the directory it is relative to.
pub(crate) fn is_inside(path: &Path) -> bool {
    let mut depth = 0i32;
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    depth > 0
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (and "unknown variant"),
/// suggest the expected name closest to the unknown one.
fn nearest_name_hint(message: &str) -> Option<String> {
    let (kind, rest) = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix).map(|rest| (*prefix, rest)))?;
    let (unknown, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let what = if kind.contains("field") {
        "key"
    } else {
        "value"
    };
    match nearest(unknown, &candidates) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !candidates.is_empty() => Some(format!(
            "valid {what}s here: {}",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(source: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("project.toml"), source)
    }

    #[test]
    fn name_alone_gets_every_default() {
        let config = parse("[project]\nname = \"app\"\n").unwrap();
        assert_eq!(config.env.path, ".venv");
        assert_eq!(config.env.installer, Installer::Auto);
        assert_eq!(config.develop.mode, DevelopMode::Pip);
        assert_eq!(config.bundle.kind, BundleKind::Pex);
        assert!(config.check.is_empty());
    }

    #[test]
    fn misspelt_key_names_place_and_nearest_key() {
        let err = parse("[project]\nname = \"app\"\n\n[env]\ntols = [\"flake8\"]\n").unwrap_err();
        let (line, column, text) = err.location.clone().unwrap();
        assert_eq!((line, column), (5, 1));
        assert_eq!(text, "tols = [\"flake8\"]");
        assert_eq!(err.hint.as_deref(), Some("did you mean `tools`?"));
        assert!(
            err.to_string()
                .starts_with("project.toml:5:1: unknown field `tols`")
        );
    }

    #[test]
    fn wrong_type_is_located() {
        let err = parse("[project]\nname = \"app\"\n[env]\ntools = \"flake8\"\n").unwrap_err();
        assert_eq!(err.location.unwrap().0, 4);
        assert!(err.message.contains("sequence"), "{}", err.message);
    }

    #[test]
    fn bad_enum_value_suggests() {
        let err = parse("[project]\nname = \"a\"\n[develop]\nmode = \"pipp\"\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `pip`?"));
    }

    #[test]
    fn output_outside_project_is_refused() {
        let err = parse("[project]\nname = \"a\"\n[bundle]\noutput = \"../x.pex\"\n").unwrap_err();
        assert_eq!(err.location.unwrap().0, 4);
        assert!(err.message.contains("inside the project"));
    }

    #[test]
    fn every_kind_parses_with_its_own_keys() {
        let config = parse(
            "[project]\nname = \"a\"\n[bundle]\nkind = \"pyinstaller\"\n\
             hidden-imports = [\"pkg.plugin\"]\npyinstaller-args = [\"--strip\"]\n",
        )
        .unwrap();
        assert_eq!(config.bundle.kind, BundleKind::Pyinstaller);
        assert_eq!(config.bundle.hidden_imports, ["pkg.plugin"]);
        for kind in ["pex", "shiv", "zipapp"] {
            let source = format!("[project]\nname = \"a\"\n[bundle]\nkind = \"{kind}\"\n");
            assert_eq!(parse(&source).unwrap().bundle.kind.to_string(), kind);
        }
        let err = parse("[project]\nname = \"a\"\n[bundle]\nkind = \"shive\"\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `shiv`?"));
    }

    #[test]
    fn another_kinds_key_is_refused_at_its_line() {
        let err =
            parse("[project]\nname = \"a\"\n[bundle]\nkind = \"shiv\"\npex-args = [\"--venv\"]\n")
                .unwrap_err();
        assert_eq!(err.location.clone().unwrap().0, 5);
        assert!(err.message.contains("`kind = \"pex\"`"), "{}", err.message);
        let err = parse("[project]\nname = \"a\"\n[bundle]\nshiv-arg = []\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `shiv-args`?"));
    }

    #[test]
    fn external_links_are_globs() {
        let config =
            parse("[project]\nname = \"a\"\n[bundle]\nexternal-links = [\"vendor/**\"]\n").unwrap();
        assert_eq!(config.bundle.external_links, ["vendor/**"]);
        let err =
            parse("[project]\nname = \"a\"\n[bundle]\nexternal-links = [\"a/[\"]\n").unwrap_err();
        assert_eq!(err.location.unwrap().0, 4);
    }

    #[test]
    fn entry_point_shape_is_checked() {
        assert!(is_entry_point("app.cli:main"));
        assert!(!is_entry_point("app.cli"));
        assert!(!is_entry_point("app-cli:main"));
    }

    #[test]
    fn is_inside_rejects_escapes() {
        assert!(is_inside(Path::new("dist/app.pex")));
        assert!(is_inside(Path::new("a/../b")));
        assert!(!is_inside(Path::new("a/../../b")));
        assert!(!is_inside(Path::new("/tmp/x")));
        assert!(!is_inside(Path::new(".")));
    }
}
