//! A project: its root (the directory holding `project.toml`), its checked configuration,
//! and the paths pybuild derives from them, each resolved physically once (see `paths`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::{self, Config};
use crate::error::UserError;
use crate::paths::{self, Place};
use crate::state::state_dir;

pub struct Project {
    pub root: PathBuf,
    pub config: Config,
    /// `[env] path`, resolved: inside the project or not.
    venv: Place,
}

impl Project {
    /// Finds `project.toml` in `start` or the nearest parent that has one, and loads it.
    pub fn discover(start: &Path) -> Result<Project> {
        let start = start
            .canonicalize()
            .with_context(|| format!("cannot open the project directory {}", start.display()))?;
        let root = start
            .ancestors()
            .find(|dir| dir.join(config::FILE_NAME).is_file())
            .ok_or_else(|| {
                UserError::usage(format!(
                    "no {} in {} or any parent directory",
                    config::FILE_NAME,
                    start.display()
                ))
                .hint("run `pybuild init` at the project's root to write one")
            })?
            .to_path_buf();
        let config = Config::load(&root.join(config::FILE_NAME))?;
        let venv = paths::resolve(&root, &config.env.path);
        Ok(Project { root, config, venv })
    }

    pub fn state_dir(&self) -> PathBuf {
        state_dir(&self.root)
    }

    pub fn log_dir(&self) -> PathBuf {
        self.state_dir().join("logs")
    }

    pub fn venv(&self) -> PathBuf {
        self.venv.path().to_path_buf()
    }

    /// The venv's path relative to the root, when it lies inside the project.
    pub fn venv_in_project(&self) -> Option<PathBuf> {
        let venv = self.venv.inside()?;
        venv.strip_prefix(&self.root).ok().map(Path::to_path_buf)
    }

    pub fn venv_python(&self) -> PathBuf {
        self.venv().join("bin").join("python")
    }

    /// How a path appears in the state: relative to the root when inside it.
    pub fn key(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    /// `[env] requirements`, relative to the root.
    pub fn requirement_files(&self) -> &[String] {
        &self.config.env.requirements
    }
}
