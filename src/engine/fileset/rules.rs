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
    /// What the project's language and its tools write in the tree.
    pub(crate) tool_files: ToolFiles,
}

/// What a language and its tools write among the sources that is never an input (compiled
/// files, caches, build metadata) and what marks a directory as an environment: the engine
/// knows no language, so the layer that does passes this down.
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolFiles {
    /// Directory names left out at any depth.
    pub(crate) dirs: Vec<&'static str>,
    /// Endings of directory names left out at any depth.
    pub(crate) dir_endings: Vec<&'static str>,
    /// Endings of file names left out.
    pub(crate) file_endings: Vec<&'static str>,
    /// A file whose presence makes its directory (below the root) an environment, with
    /// nothing in it an input.
    pub(crate) env_marker: Option<&'static str>,
}
