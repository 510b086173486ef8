//! `pybuild affected --base REF [--json]`: the apps of a uv workspace whose bundle inputs
//! differ between the commit REF and the working tree (committed since, staged, unstaged,
//! and untracked files git does not ignore), for a CI matrix to build only those.
//!
//! What counts (`affected/impact.rs`): a changed input file inside a member (the files
//! the build's file set admits: not a git-ignored file, nor pybuild's or Python's
//! byproducts) reaches every app whose closure holds that member; `uv.lock`, read at REF
//! and now, reaches the apps whose third-party closure differs; the root
//! `pyproject.toml` reaches the apps whose place in the workspace differs (members found
//! again from the `pyproject.toml` files as they were at REF; every app when that fails);
//! `project.toml` reaches every app when it changed outside `[apps]`, else the apps whose
//! `[apps.NAME]` changed. It reads files and asks git; it needs no venv, runs no build and
//! takes no lock.

mod git;
mod impact;

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::base::config;
use crate::base::error::UserError;
use crate::base::project::Project;
use crate::base::workspace::Workspace;
use crate::engine::fileset::admission::Admission;
use crate::python::uv_lock::UvLock;
use git::Git;
use impact::Why;

const LOCK: &str = "uv.lock";
const PYPROJECT: &str = "pyproject.toml";

/// Prints the affected apps' names, one a line, or the JSON document.
pub(crate) fn run(dir: &Path, base: &str, json: bool) -> Result<u8> {
    let project = Project::discover(dir)?;
    let root = &project.root;
    let workspace = project.workspace.as_deref().ok_or_else(|| {
        UserError::usage(format!(
            "`pybuild affected` is for uv workspaces, and {} has no `[tool.uv.workspace]`",
            root.join(PYPROJECT).display()
        ))
        .hint("a project of one app is affected by any change to its inputs: `pybuild status` says whether its bundle is stale")
    })?;
    let git = Git::open(root)?;
    let commit = git.commit(base)?;
    let changed = git.changed(&commit)?;
    let why = affected(&project, workspace, &git, &commit, &changed)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report(workspace, base, &why))?
        );
    } else {
        for app in why.keys() {
            println!("{app}");
        }
    }
    Ok(0)
}

fn affected(
    project: &Project,
    workspace: &Workspace,
    git: &Git,
    commit: &str,
    changed: &[String],
) -> Result<Why> {
    let root = &workspace.root;
    let mut admission = Admission::new(root, &crate::steps::file_rules(project))?;
    let inputs = changed
        .iter()
        .filter(|path| admission.admits(path, false))
        .map(String::as_str);
    let mut why = impact::by_files(workspace, inputs);
    for file in changed {
        let found = match file.as_str() {
            LOCK => {
                let now = match root.join(LOCK).exists() {
                    true => Some(UvLock::read(&root.join(LOCK))?),
                    false => None,
                };
                match git.file_at(commit, LOCK)? {
                    None => impact::by_lock(workspace, None, now.as_ref(), LOCK),
                    Some(text) => match UvLock::parse(&text) {
                        Ok(before) => impact::by_lock(workspace, Some(&before), now.as_ref(), LOCK),
                        // What cannot be read then might have held anything.
                        Err(_) => impact::every_app(workspace, LOCK),
                    },
                }
            }
            PYPROJECT => {
                let before = workspace_at(git, commit);
                impact::by_workspace(before.as_ref(), workspace, PYPROJECT)
            }
            config::FILE_NAME => {
                let path = root.join(config::FILE_NAME);
                let now: toml::Table = std::fs::read_to_string(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|text| Ok(toml::from_str(&text)?))
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let before = git
                    .file_at(commit, config::FILE_NAME)?
                    .and_then(|text| toml::from_str::<toml::Table>(&text).ok());
                impact::by_config(workspace, before.as_ref(), &now, config::FILE_NAME)
            }
            _ => continue,
        };
        impact::merge(&mut why, found);
    }
    Ok(why)
}

/// The workspace as its `pyproject.toml` files were at `commit`; `None` when it cannot be
/// told (it was no workspace then, or not a valid one).
fn workspace_at(git: &Git, commit: &str) -> Option<Workspace> {
    let dir = tempfile::tempdir().ok()?;
    git.pyprojects_at(commit, dir.path()).ok()?;
    Workspace::find(dir.path()).ok().flatten()
}

/// `pybuild affected --json`: versioned, for a CI matrix.
#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    base: &'a str,
    apps: Vec<AppReport<'a>>,
}

#[derive(Serialize)]
struct AppReport<'a> {
    name: &'a str,
    dir: &'a str,
    scripts: &'a [String],
    why: Vec<&'a str>,
}

fn report<'a>(workspace: &'a Workspace, base: &'a str, why: &'a Why) -> Report<'a> {
    Report {
        version: 1,
        base,
        apps: why
            .iter()
            .filter_map(|(name, files)| {
                let member = workspace.member(name)?;
                Some(AppReport {
                    name: &member.name,
                    dir: &member.dir,
                    scripts: &member.scripts,
                    why: files.iter().map(String::as_str).collect(),
                })
            })
            .collect(),
    }
}
