//! What `pybuild affected` asks git: the commit a revision names, the files that differ
//! between it and the working tree, and files as they were at it. Paths are relative to
//! the project's root (which may lie below the repository's top), `/`-separated.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::Result;

use crate::base::error::UserError;

/// The git repository holding a project's root.
pub(super) struct Git {
    root: PathBuf,
    /// The root relative to the repository's top, with a trailing `/` (empty at the top).
    prefix: String,
}

impl Git {
    pub(super) fn open(root: &Path) -> Result<Git> {
        let out = run(root, &["rev-parse", "--show-prefix"])?;
        if !out.status.success() {
            return Err(UserError::usage(format!(
                "`pybuild affected` compares with git, and {} is in no git repository (`git rev-parse --show-prefix` said: {})",
                root.display(),
                stderr(&out)
            ))
            .into());
        }
        Ok(Git {
            root: root.to_path_buf(),
            prefix: String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
        })
    }

    /// Checks that `rev` names a commit, and gives its hash.
    pub(super) fn commit(&self, rev: &str) -> Result<String> {
        let spec = format!("{rev}^{{commit}}");
        let out = run(
            &self.root,
            &["rev-parse", "--verify", "--end-of-options", &spec],
        )?;
        if !out.status.success() {
            return Err(UserError::usage(format!(
                "--base {rev}: no such commit (`git rev-parse --verify {spec}` said: {})",
                stderr(&out)
            ))
            .hint("give a branch, a tag or a commit the clone has (a shallow CI clone may need `git fetch` first)")
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The files under the root that differ between `commit` and the working tree:
    /// committed since, staged, unstaged, and untracked but not ignored ones.
    pub(super) fn changed(&self, commit: &str) -> Result<Vec<String>> {
        let tracked = self.capture(&[
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            commit,
            "--",
            ".",
        ])?;
        let untracked = self.capture(&[
            "ls-files",
            "--others",
            "--exclude-standard",
            "-z",
            "--full-name",
            "--",
            ".",
        ])?;
        let mut paths: Vec<String> = tracked
            .split(|byte| *byte == 0)
            .chain(untracked.split(|byte| *byte == 0))
            .filter(|path| !path.is_empty())
            .filter_map(|path| {
                let path = String::from_utf8_lossy(path);
                path.strip_prefix(self.prefix.as_str()).map(str::to_string)
            })
            .collect();
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    /// The file `rel` (under the root) as it was at `commit`; `None` when it was not there.
    pub(super) fn file_at(&self, commit: &str, rel: &str) -> Result<Option<String>> {
        let object = format!("{commit}:./{rel}");
        if !run(&self.root, &["cat-file", "-e", &object])?
            .status
            .success()
        {
            return Ok(None);
        }
        let bytes = self.capture(&["show", &object])?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Writes every `pyproject.toml` under the root as it was at `commit` into `into`, at
    /// the same relative paths: enough to find the workspace's members then.
    pub(super) fn pyprojects_at(&self, commit: &str, into: &Path) -> Result<()> {
        let tar = self.capture(&[
            "archive",
            "--format=tar",
            commit,
            "--",
            ":(glob)**/pyproject.toml",
        ])?;
        tar::Archive::new(tar.as_slice())
            .unpack(into)
            .map_err(|err| anyhow::anyhow!("cannot unpack `git archive {commit}`: {err}"))
    }

    /// `git ARGS`'s output; its failure a clear error naming the command.
    fn capture(&self, args: &[&str]) -> Result<Vec<u8>> {
        let out = run(&self.root, args)?;
        if !out.status.success() {
            return Err(UserError::failure(format!(
                "`git {}` failed: {}",
                args.join(" "),
                stderr(&out)
            ))
            .into());
        }
        Ok(out.stdout)
    }
}

fn run(root: &Path, args: &[&str]) -> Result<Output> {
    Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args.iter().map(OsStr::new))
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .map_err(|err| {
            UserError::failure(format!("cannot run git: {err}"))
                .hint("`pybuild affected` needs git on PATH")
                .into()
        })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .trim()
        .replace('\n', "; ")
}
