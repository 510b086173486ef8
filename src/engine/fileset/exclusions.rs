//! The built-in exclusions: build outputs, tool state and editors' files that never belong
//! in a bundle, whatever the project's `.gitignore` says. Decided per entry as a directory
//! is read (and by [`Admission`](crate::engine::fileset::admission::Admission) for a path
//! not listed yet), so a left-out directory is never walked.

use std::path::{Component, Path, PathBuf};

use super::rules::{Rules, Scope, ToolFiles};

/// Directories left out at any depth: version control, pybuild's state, node's packages
/// (the language's own tools' caches come with the rules, `ToolFiles`).
const EXCLUDED_DIRS: &[&str] = &[".git", ".hg", ".svn", ".pybuild", "node_modules"];

/// Directories excluded only at the top: setuptools' and the bundlers' outputs.
const EXCLUDED_TOP_DIRS: &[&str] = &["build", "dist"];

/// Editors' swap, backup and lock files (vim's `.x.py.swp` and `x.py~`, emacs' `.#x.py`
/// and `#x.py#`): never part of an application, and rewritten as the user types, which
/// `watch` would otherwise take for edits. Which names these are is part of the listing's
/// rules digest.
const EDITOR_FILES: &str = "*.swp *.swo *.swx *~ .#* #*#";

/// The built-in exclusions, with the project's venv and outputs and what the language's
/// tools write.
pub(super) struct Exclusions {
    venv: Option<String>,
    outputs: Vec<PathBuf>,
    tool_files: ToolFiles,
    scope: Option<Scope>,
}

impl Exclusions {
    pub(super) fn new(rules: &Rules) -> Exclusions {
        Exclusions {
            venv: rules.venv.as_deref().map(normal_path),
            outputs: rules.outputs.clone(),
            tool_files: rules.tool_files.clone(),
            scope: rules.scope.clone(),
        }
    }

    /// What decides the answers, for the listing's rules digest: a remembered listing made
    /// under other exclusions is not reused.
    pub(super) fn digest(&self) -> String {
        format!(
            "{:?} {:?} {EXCLUDED_DIRS:?} {EXCLUDED_TOP_DIRS:?} {EDITOR_FILES} {:?} {:?}",
            self.venv, self.outputs, self.tool_files, self.scope
        )
    }

    /// Whether the directory `name` in `parent` (at `depth`, 1 for the root's entries) is
    /// left out.
    pub(super) fn dir(&self, parent: &str, name: &str, depth: usize) -> bool {
        EXCLUDED_DIRS.contains(&name)
            || self.tool_files.dirs.contains(&name)
            || self
                .tool_files
                .dir_endings
                .iter()
                .any(|end| name.ends_with(end))
            || (depth == 1 && EXCLUDED_TOP_DIRS.contains(&name))
            || self
                .venv
                .as_deref()
                .is_some_and(|venv| is_child(venv, parent, name))
            || self.scope.as_ref().is_some_and(|scope| {
                let path = match parent {
                    "" => name.to_string(),
                    parent => format!("{parent}/{name}"),
                };
                !scope.reaches(&path)
            })
    }

    /// Whether the file at `rel` is left out.
    pub(super) fn file(&self, rel: &str) -> bool {
        // pybuild's own configuration: the sections a step uses are part of its fingerprint,
        // so editing another section (adding a dev tool) must not rebuild the bundle.
        rel == crate::base::config::FILE_NAME
            || self
                .tool_files
                .file_endings
                .iter()
                .any(|end| rel.ends_with(end))
            || is_editor_file(rel.rsplit('/').next().unwrap_or(rel))
            || self.outputs.iter().any(|o| Path::new(rel) == o)
            || self.scope.as_ref().is_some_and(|scope| !scope.holds(rel))
    }
}

/// Whether `name` is one of [`EDITOR_FILES`].
fn is_editor_file(name: &str) -> bool {
    [".swp", ".swo", ".swx", "~"]
        .iter()
        .any(|end| name.ends_with(end))
        || name.starts_with(".#")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
}

/// A relative path as `/`-separated normal components (`./.venv` → `.venv`).
fn normal_path(path: &Path) -> String {
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Whether `path` is `parent/name` (or `name` at the root).
fn is_child(path: &str, parent: &str, name: &str) -> bool {
    match path.strip_suffix(name) {
        Some("") => parent.is_empty(),
        Some(prefix) => prefix.strip_suffix('/') == Some(parent),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fileset::tests::{list, rules, tree};

    #[test]
    fn venv_path_is_matched_by_its_components() {
        assert!(is_child(".venv", "", ".venv"));
        assert!(is_child("envs/dev", "envs", "dev"));
        assert!(!is_child("envs/dev", "", "dev"));
        assert!(!is_child("xdev", "", "dev"));
        assert_eq!(normal_path(Path::new("./envs/dev/")), "envs/dev");
    }

    #[test]
    fn build_outputs_and_tool_state_are_not_inputs() {
        let dir = tree(&[
            "setup.py",
            "project.toml",
            "src/app/__init__.py",
            "src/app/__pycache__/x.pyc",
            "src/app.egg-info/SOURCES.txt",
            "build/lib/app/__init__.py",
            "dist/app.pex",
            "out/app.pex",
            ".venv/bin/python",
            "other-venv/pyvenv.cfg",
            ".pybuild/state.json",
            ".git/HEAD",
            "docs/build/index.txt",
        ]);
        let files = list(dir.path(), &rules(&[]));
        assert_eq!(
            files,
            vec!["docs/build/index.txt", "setup.py", "src/app/__init__.py"]
        );
    }

    #[test]
    fn what_a_language_leaves_out_is_what_the_rules_say() {
        let dir = tree(&[
            "src/app/__init__.py",
            "src/app/__pycache__/x.pyc",
            "src/app.egg-info/SOURCES.txt",
            "other-venv/pyvenv.cfg",
            "other-venv/lib/x.py",
        ]);
        // Told nothing of Python, the engine leaves none of its by-products out.
        let mut told_nothing = rules(&[]);
        told_nothing.tool_files = ToolFiles::default();
        assert_eq!(
            list(dir.path(), &told_nothing),
            vec![
                "other-venv/lib/x.py",
                "other-venv/pyvenv.cfg",
                "src/app.egg-info/SOURCES.txt",
                "src/app/__init__.py",
                "src/app/__pycache__/x.pyc",
            ]
        );
        assert_eq!(list(dir.path(), &rules(&[])), vec!["src/app/__init__.py"]);
    }
}
