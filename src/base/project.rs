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
    /// venv's source (see `env_lock`).
    pub(crate) fn requirement_files(&self) -> &[String] {
        match self.env_lock() {
            Some(_) => &[],
            None => &self.config.env.requirements,
        }
    }

    /// What the venv's environment is installed from, relative to the root: the
    /// environment lock, or the requirement files and every file they include (`-r`) or
    /// constrain with (`-c`), in the order met. Included files outside the project are
    /// left out (they are not the project's).
    pub(crate) fn requirement_inputs(&self) -> Vec<String> {
        if let Some(lock) = self.env_lock() {
            return vec![lock.file_name().to_string()];
        }
        self.with_includes(self.config.env.requirements.clone())
    }

    /// The requirement files `[env] tools` installs (`-r FILE`, `--requirement=FILE`: a
    /// development requirement file goes into the venv, never the bundle), relative to
    /// the root, in order.
    pub(crate) fn tool_files(&self) -> Vec<String> {
        self.config
            .env
            .tools
            .iter()
            .filter_map(|tool| tool_file(tool))
            .map(str::to_string)
            .collect()
    }

    /// The tool files and every file they include or constrain with, in the order met.
    pub(crate) fn tool_inputs(&self) -> Vec<String> {
        self.with_includes(self.tool_files())
    }

    /// `files` and every file they include (`-r`) or constrain with (`-c`) inside the
    /// project, in the order met.
    fn with_includes(&self, files: Vec<String>) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let mut queue: Vec<String> = files;
        while let Some(file) = queue.pop() {
            if found.contains(&file) {
                continue;
            }
            let text = std::fs::read_to_string(self.root.join(&file)).unwrap_or_default();
            let dir = Path::new(&file).parent().unwrap_or(Path::new(""));
            for included in included_files(&text) {
                let path = dir.join(included);
                if config::is_inside(&path) {
                    queue.push(normal(&path));
                }
            }
            found.push(file);
        }
        found
    }
}

/// The file of a tool entry `-r FILE` (`-rFILE`, `--requirement FILE`, `--requirement=FILE`).
pub(crate) fn tool_file(tool: &str) -> Option<&str> {
    let rest = ["--requirement", "-r"]
        .iter()
        .find_map(|option| tool.trim().strip_prefix(option))?;
    let file = rest.trim_start_matches([' ', '=']).trim();
    (!file.is_empty()).then_some(file)
}

/// The files a requirement file names with `-r`/`--requirement`/`-c`/`--constraint`.
fn included_files(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(" #").next().unwrap_or(line).trim();
            ["--requirement", "--constraint", "-r", "-c"]
                .iter()
                .find_map(|option| line.strip_prefix(option))
                .map(|rest| rest.trim_start_matches('=').trim())
        })
        .filter(|path| !path.is_empty() && !path.contains("://"))
        .collect()
}

/// `a/./b/../c` as `a/c`, with `/` separators.
fn normal(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(part) => parts.push(part.to_string_lossy().into()),
            _ => {}
        }
    }
    parts.join("/")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_and_constraints_are_found() {
        let text = "six\n-r base.txt\n--constraint=../c.txt\n-c  pins/c.txt # pinned\n\
                    --requirement other.txt\n-e .\n--hash=sha256:x\n";
        assert_eq!(
            included_files(text),
            ["base.txt", "../c.txt", "pins/c.txt", "other.txt"]
        );
        assert_eq!(normal(Path::new("req/../pins/./c.txt")), "pins/c.txt");
    }
}
