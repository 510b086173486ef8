//! The parts of a workspace's `pyproject.toml` files that discovery reads, parsed once
//! with the places of the values an error may point at.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;

use crate::base::config::ConfigError;
use crate::base::distribution_name::normalize;

pub(super) const PYPROJECT: &str = "pyproject.toml";

/// The parts of a `pyproject.toml` discovery reads.
#[derive(Deserialize)]
pub(super) struct PyProject {
    pub(super) project: Option<Spanned<ProjectTable>>,
    #[serde(rename = "build-system")]
    pub(super) build_system: Option<IgnoredAny>,
    #[serde(default)]
    pub(super) tool: ToolTable,
}

#[derive(Deserialize, Default)]
pub(super) struct ToolTable {
    #[serde(default)]
    pub(super) uv: UvTable,
}

#[derive(Deserialize, Default)]
pub(super) struct UvTable {
    pub(super) workspace: Option<Spanned<WorkspaceTable>>,
    pub(super) package: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
pub(super) struct WorkspaceTable {
    pub(super) members: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) exclude: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
pub(super) struct ProjectTable {
    pub(super) name: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) dependencies: Vec<Spanned<String>>,
    #[serde(default, rename = "optional-dependencies")]
    pub(super) optional_dependencies: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) scripts: BTreeMap<Spanned<String>, IgnoredAny>,
}

/// Whether a pyproject.toml that does not parse as discovery reads it still says it makes
/// a workspace.
pub(super) fn declares_workspace(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        tool: Option<ProbeTool>,
    }
    #[derive(Deserialize)]
    struct ProbeTool {
        uv: Option<ProbeUv>,
    }
    #[derive(Deserialize)]
    struct ProbeUv {
        workspace: Option<IgnoredAny>,
    }
    match toml::from_str::<Probe>(text) {
        Ok(probe) => probe
            .tool
            .and_then(|tool| tool.uv)
            .is_some_and(|uv| uv.workspace.is_some()),
        Err(_) => text.contains("[tool.uv.workspace]"),
    }
}

pub(super) fn parse_error(file: &Path, text: &str, err: &toml::de::Error) -> ConfigError {
    ConfigError::at(file, text, err.span(), err.message().to_string())
}

/// One member's pyproject.toml, read and parsed.
pub(super) struct Read {
    pub(super) file: PathBuf,
    pub(super) text: String,
    pub(super) parsed: PyProject,
}

impl Read {
    pub(super) fn error(&self, span: Option<Range<usize>>, message: String) -> ConfigError {
        ConfigError::at(&self.file, &self.text, span, message)
    }

    /// `file:line:col` of a place in this file (the file alone without one), to name it
    /// in another file's error.
    pub(super) fn place(&self, span: Option<Range<usize>>) -> String {
        match ConfigError::at(&self.file, &self.text, span, String::new()).location {
            Some((line, col, _)) => format!("{}:{line}:{col}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }

    pub(super) fn project(&self) -> Option<&Spanned<ProjectTable>> {
        self.parsed.project.as_ref()
    }

    /// Where to point at this member: its name, else its `[project]`.
    pub(super) fn name_span(&self) -> Option<Range<usize>> {
        let project = self.project()?;
        Some(
            project
                .get_ref()
                .name
                .as_ref()
                .map_or(project.span(), Spanned::span),
        )
    }

    /// What makes uv install it as a virtual project (its dependencies, not its code), if
    /// anything.
    pub(super) fn virtual_because(&self) -> Option<Virtual> {
        match &self.parsed.tool.uv.package {
            Some(package) if !package.get_ref() => Some(Virtual {
                span: Some(package.span()),
                what: "sets `[tool.uv] package = false`",
                fix: format!("remove `package = false` from {}", self.file.display()),
            }),
            Some(_) => None,
            None if self.parsed.build_system.is_none() => Some(Virtual {
                span: self.name_span(),
                what: "has no `[build-system]`",
                fix: format!(
                    "add to {}:\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"",
                    self.file.display()
                ),
            }),
            None => None,
        }
    }
}

/// Why a member is virtual, where, and what makes it a package.
pub(super) struct Virtual {
    pub(super) span: Option<Range<usize>>,
    pub(super) what: &'static str,
    pub(super) fix: String,
}

/// A requirement string's name (normalised) and its extras (normalised); `None` for what
/// PEP 508 does not accept.
pub(super) fn requirement(text: &str) -> Option<(String, Vec<String>)> {
    let parsed: pep508_rs::Requirement = pep508_rs::Requirement::from_str(text.trim()).ok()?;
    Some((
        parsed.name.to_string(),
        parsed
            .extras
            .iter()
            .map(|extra| normalize(extra.as_ref()))
            .collect(),
    ))
}
