//! `project.toml`: its schema, defaults and validation.
//!
//! Every key has a default except `[project] name`, so a file holding only that works.
//! Unknown keys, wrong types and bad values are [`ConfigError`]s that point at the file, line
//! and column and, for a misspelt key or value, name the nearest valid one.
//!
//! The sections' types are here; `load` reads and parses the file, `validate` makes the
//! checks serde's types cannot, `error` renders what fails, `task` is `[tasks.NAME]`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

mod deploy;
mod error;
mod image;
mod load;
mod source;
pub(crate) mod task;
mod validate;
pub(crate) use deploy::DeploySection;
pub(crate) use error::{ConfigError, nearest};
pub(crate) use image::ImageSection;
pub(crate) use source::{At, Source};
pub(crate) use task::{TaskConfig, TaskRun};
pub(crate) use validate::is_inside;

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
    pub(crate) image: ImageSection,
    #[serde(default)]
    pub(crate) deploy: DeploySection,
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

/// The bundlers; what each needs and does lives in its backend (`src/steps/bundle/<kind>.rs`).
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

#[cfg(test)]
mod tests {
    use std::path::Path;

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
}
