//! A project: its root (the directory holding `project.toml`), its checked configuration,
//! and the paths pybuild derives from them, each resolved physically once (see `paths`).
//!
//! At the root of a uv workspace (`base::workspace`), the project is the workspace: its
//! venv holds every member, and the steps that make it (`check`, `venv`, `tools`,
//! `develop`) run once for all. Each app is then a project of its own ([`Project::for_app`]):
//! the same root and venv, its configuration with its `[apps.NAME]` tables merged in, its
//! state in `.pybuild/apps/NAME/`, and its inputs the folders of its members.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::base::config::{self, At, Config};
use crate::base::error::UserError;
use crate::base::paths::state_dir;
use crate::base::paths::{self, Place};
use crate::base::workspace::Workspace;

pub(crate) struct Project {
    pub(crate) root: PathBuf,
    pub(crate) config: Config,
    /// `[env] path`, resolved: inside the project or not.
    venv: Place,
    /// Where its state is kept: `.pybuild/`, or `.pybuild/apps/NAME/` for an app.
    state: PathBuf,
    /// The uv workspace at the root, when it is one.
    pub(crate) workspace: Option<Arc<Workspace>>,
    /// The app of the workspace this project builds, for an app's own steps.
    pub(crate) app: Option<App>,
}

/// One app of a workspace: a member with a console script, and the members it needs.
#[derive(Debug, Clone)]
pub(crate) struct App {
    /// Its distribution name, normalised.
    pub(crate) name: String,
    /// Its folder, relative to the root (`.` for the root itself).
    pub(crate) dir: String,
    /// The members it depends on, transitively: (name, folder).
    pub(crate) libs: Vec<(String, String)>,
}

impl App {
    /// The folders of its members, its own first.
    pub(crate) fn dirs(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.dir.as_str()).chain(self.libs.iter().map(|(_, dir)| dir.as_str()))
    }

    /// Whether `name` is one of its members' (normalised) names.
    pub(crate) fn has_member(&self, name: &str) -> bool {
        let name = crate::base::distribution_name::normalize(name);
        self.name == name || self.libs.iter().any(|(lib, _)| *lib == name)
    }
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
        let workspace = Workspace::find(&root)?.map(Arc::new);
        check_apps(&config, workspace.as_deref())?;
        Ok(Project {
            state: state_dir(&root),
            root,
            config,
            venv,
            workspace,
            app: None,
        })
    }

    /// The app `name` of this workspace, as a project of its own (see the module's doc).
    pub(crate) fn for_app(&self, name: &str) -> Result<Project> {
        let workspace = self.workspace.as_ref().context("not a uv workspace")?;
        let member = workspace
            .member(name)
            .filter(|member| !member.scripts.is_empty())
            .with_context(|| format!("{name} is no app of the workspace"))?;
        let libs = workspace
            .closure(&member.name)
            .into_iter()
            .filter(|m| m.name != member.name)
            .map(|m| (m.name.clone(), m.dir.clone()))
            .collect();
        let config = self.config.for_app(&member.name)?;
        Ok(Project {
            root: self.root.clone(),
            venv: self.venv.clone(),
            state: self.state.join("apps").join(&member.name),
            workspace: Some(workspace.clone()),
            app: Some(App {
                name: member.name.clone(),
                dir: member.dir.clone(),
                libs,
            }),
            config,
        })
    }

    /// Whether `name` is a member of the workspace at the root: its editable install
    /// names this checkout's path, so no key shared between checkouts may hold its files.
    pub(crate) fn is_member(&self, name: &str) -> bool {
        self.workspace
            .as_ref()
            .is_some_and(|workspace| workspace.member(name).is_some())
    }

    pub(crate) fn state_dir(&self) -> PathBuf {
        self.state.clone()
    }

    /// The project's store of intermediate products (`engine::store`). An app's is its
    /// own: a store keeps only the last of a kind (a dependencies PEX), and apps built at
    /// once would remove each other's. Two apps with one closure share their dependencies
    /// PEX through the user's store of them (`bundle::shared_layers`), like two checkouts.
    pub(crate) fn store_dir(&self) -> PathBuf {
        self.state.join("layers")
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

/// `[apps.NAME]` names an app of the workspace: a table for anything else would be
/// silently ignored.
fn check_apps(config: &Config, workspace: Option<&Workspace>) -> Result<()> {
    let Some(key) = config.apps.keys().find(|key| {
        workspace
            .and_then(|w| w.member(key))
            .is_none_or(|member| member.scripts.is_empty())
    }) else {
        return Ok(());
    };
    let path = ["apps", key.as_str()];
    let Some(workspace) = workspace else {
        let err = config.error_at(
            At::Key(&path),
            format!("`[apps.{key}]`: this project is no uv workspace"),
        );
        return Err(err
            .hint("`[apps.NAME]` sets one app of a uv workspace (a pyproject.toml with `[tool.uv.workspace]` at the root); put the settings in the top-level sections")
            .into());
    };
    let apps: Vec<&str> = workspace.apps().map(|m| m.name.as_str()).collect();
    let what = match workspace.member(key) {
        Some(_) => "a member without a console script, which has no bundle",
        None => "no member of the workspace",
    };
    let mut err = config.error_at(At::Key(&path), format!("`[apps.{key}]` names {what}"));
    err = match config::nearest(key, &apps) {
        Some(best) => err.hint(format!("did you mean `{best}`?")),
        None => err.hint(format!("the workspace's apps: {}", apps.join(", "))),
    };
    Err(err.into())
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
