//! What Python and its tools write in a project that is never an input: compiled files,
//! tool caches, build metadata, and the `pyvenv.cfg` that marks a virtualenv. Passed down
//! to the engine's file set as data (`fileset::ToolFiles`), which knows no language.

use crate::engine::fileset::ToolFiles;

/// Python's by-products among a project's files.
pub(crate) fn tool_files() -> ToolFiles {
    ToolFiles {
        dirs: vec![
            "__pycache__",
            ".eggs",
            ".tox",
            ".nox",
            ".mypy_cache",
            ".pytest_cache",
            ".ruff_cache",
        ],
        dir_endings: vec![".egg-info"],
        file_endings: vec![".pyc", ".pyo"],
        env_marker: Some("pyvenv.cfg"),
    }
}
