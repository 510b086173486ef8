//! What decides a project's input files besides the built-in exclusions.

use std::path::PathBuf;

/// What to leave out besides the built-in exclusions.
pub(crate) struct Rules {
    /// The venv, if it is inside the project.
    pub(crate) venv: Option<PathBuf>,
    /// The bundle output and its manifest, relative to the root.
    pub(crate) outputs: Vec<PathBuf>,
    /// `[bundle] sources`.
    pub(crate) sources: Vec<String>,
    /// `[bundle] external-links`.
    pub(crate) external_links: Vec<String>,
}
