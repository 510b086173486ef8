//! A project: its root (the directory holding `project.toml`), its checked configuration,
//! and the paths pybuild derives from them, each resolved physically once (see `paths`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::base::config::{self, Config};
use crate::base::error::UserError;
use crate::base::paths::state_dir;
use crate::base::paths::{self, Place};

pub(crate) struct Project {
    pub(crate) root: PathBuf,
    pub(crate) config: Config,
    /// `[env] path`, resolved: inside the project or not.
    venv: Place,
}

impl Project {
    /// Finds `project.toml` in `start` or the nearest parent that has one, and loads it.
    pub(crate) fn discover(start: &Path) -> Result<Project> {
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

    pub(crate) fn state_dir(&self) -> PathBuf {
        state_dir(&self.root)
    }

    pub(crate) fn log_dir(&self) -> PathBuf {
        self.state_dir().join("logs")
    }

    pub(crate) fn venv(&self) -> PathBuf {
        self.venv.path().to_path_buf()
    }

    /// The venv's path relative to the root, when it lies inside the project.
    pub(crate) fn venv_in_project(&self) -> Option<PathBuf> {
        let venv = self.venv.inside()?;
        venv.strip_prefix(&self.root).ok().map(Path::to_path_buf)
    }

    pub(crate) fn venv_python(&self) -> PathBuf {
        self.venv().join("bin").join("python")
    }

    /// How a path appears in the state: relative to the root when inside it.
    pub(crate) fn key(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    /// The environment lock at the root (`uv.lock`, `pylock.toml`), if there is one.
    pub(crate) fn env_lock(&self) -> Option<EnvLock> {
        EnvLock::find(&self.root)
    }

    /// `[env] requirements`, relative to the root; none when an environment lock is the
    /// venv's source (see `env_lock`). What they say, and the files they include, is
    /// `python::sources`'.
    pub(crate) fn requirement_files(&self) -> &[String] {
        match self.env_lock() {
            Some(_) => &[],
            None => &self.config.env.requirements,
        }
    }
}

/// The project's environment lock (see `python::env_lock`), found at the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnvLock {
    /// `uv.lock`: synced with `uv sync --locked` (`--frozen --offline` when offline).
    Uv,
    /// `pylock.toml`: installed with `uv pip install -r pylock.toml`.
    Pylock,
}

impl EnvLock {
    /// The lock at `root`, if any (two `stat`s: cheap enough for every build).
    pub(crate) fn find(root: &Path) -> Option<EnvLock> {
        if root.join("uv.lock").is_file() && root.join("pyproject.toml").is_file() {
            Some(EnvLock::Uv)
        } else if root.join("pylock.toml").is_file() {
            Some(EnvLock::Pylock)
        } else {
            None
        }
    }

    /// The lock's file name, relative to the root.
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            EnvLock::Uv => "uv.lock",
            EnvLock::Pylock => "pylock.toml",
        }
    }
}
