//! The schema of `project.toml`: [`Config`] and its sections, with their defaults.
//!
//! Every key has a default except `[project] name`, so a file holding only that works.
//! Each section is `deny_unknown_fields` and kebab-case. `[check]`, `[develop]`, `[bundle]`
//! and a task's table are serialised into their steps' fingerprints: a key added there is
//! left out of the serialised form while it holds its default, or every project rebuilds.

use super::cache::CacheSection;
use super::deploy::DeploySection;
use super::image::ImageSection;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use super::source::{At, Source};
use super::task::TaskConfig;

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
    pub(crate) cache: CacheSection,
    #[serde(default)]
    pub(crate) image: ImageSection,
    #[serde(default)]
    pub(crate) deploy: DeploySection,
    #[serde(default)]
    pub(crate) tasks: BTreeMap<String, TaskConfig>,
    /// `[apps.NAME]`: one app's settings, in a uv workspace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) apps: BTreeMap<String, AppSection>,
    /// Where it was read from, for errors found after the parse.
    #[serde(skip)]
    pub(crate) source: Source,
}

impl Config {
    /// An error at a place of the file this config was read from, for a check made after
    /// the parse.
    pub(crate) fn error_at(&self, at: At, message: impl Into<String>) -> ConfigError {
        self.source.error(at, message)
    }
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

/// `[bundle] kind`: the name of a bundler. Which names exist is the steps' knowledge (one
/// backend each, registered in `steps/bundle/kinds.rs`), so a name is checked when a build
/// is planned, not here. Serialised as the bare name (`"kind":"pex"`), as part of the
/// bundle's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub(crate) struct BundleKind(pub(crate) String);

impl BundleKind {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for BundleKind {
    fn default() -> Self {
        BundleKind("pex".into())
    }
}

impl fmt::Display for BundleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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

/// What `[apps.NAME]` may set: the sections of an app's own steps.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bundle: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) image: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) deploy: Option<toml::Table>,
}

#[cfg(test)]
mod tests {

    use super::*;

    use crate::base::config::load::parse_text as parse;

    #[test]
    fn name_alone_gets_every_default() {
        let config = parse("[project]\nname = \"app\"\n").unwrap();
        assert_eq!(config.env.path, ".venv");
        assert_eq!(config.env.installer, Installer::Auto);
        assert_eq!(config.develop.mode, DevelopMode::Pip);
        assert_eq!(config.bundle.kind, BundleKind::default());
        assert_eq!(config.bundle.kind.to_string(), "pex");
        assert!(config.check.is_empty());
    }

    #[test]
    fn a_kind_is_a_name_serialised_as_it_was_written() {
        let config = parse(
            "[project]\nname = \"a\"\n[bundle]\nkind = \"pyinstaller\"\n\
             hidden-imports = [\"pkg.plugin\"]\npyinstaller-args = [\"--strip\"]\n",
        )
        .unwrap();
        assert_eq!(config.bundle.kind.as_str(), "pyinstaller");
        assert_eq!(config.bundle.hidden_imports, ["pkg.plugin"]);
        // Part of the bundle's fingerprint: as it was when the kind was an enum, so that no
        // existing bundle is rebuilt.
        assert_eq!(
            serde_json::to_string(&BundleSection::default()).unwrap(),
            "{\"kind\":\"pex\",\"console-script\":null,\"entry-point\":null,\"output\":null,\
             \"sources\":[],\"pex-args\":[],\"strategy\":\"auto\"}"
        );
        let config = parse("[project]\nname = \"a\"\n[bundle]\nkind = \"shiv\"\n").unwrap();
        assert_eq!(config.bundle.kind.to_string(), "shiv");
        let json = serde_json::to_string(&config.bundle).unwrap();
        assert!(json.starts_with("{\"kind\":\"shiv\","), "{json}");
    }
}
