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
    /// The part of the tree that is this build's: one app of a workspace and the members
    /// it depends on. `None`: the whole tree.
    pub(crate) scope: Option<Scope>,
}

/// Folders of the tree (relative to the root, `/`-separated) whose files are the inputs,
/// less folders inside them that are not: an app's members, less another member nested in
/// one of them (the root, a member too, holds the others).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) include: Vec<String>,
    pub(crate) exclude: Vec<String>,
}

impl Scope {
    /// Whether the file or folder `rel` is in the scope.
    pub(crate) fn holds(&self, rel: &str) -> bool {
        self.include.iter().any(|dir| is_within(rel, dir))
            && !self.exclude.iter().any(|dir| is_within(rel, dir))
    }

    /// Whether the folder `rel` must be walked: it is in the scope, or holds part of it.
    pub(crate) fn reaches(&self, rel: &str) -> bool {
        self.holds(rel) || self.include.iter().any(|dir| is_within(dir, rel))
    }
}

/// Whether `path` is `dir` or lies inside it (`"."` holds everything).
fn is_within(path: &str, dir: &str) -> bool {
    dir == "."
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_holds_its_members_less_the_nested_others() {
        let scope = Scope {
            include: vec!["apps/api".into(), "libs/core".into()],
            exclude: vec!["apps/api/plugins".into()],
        };
        assert!(scope.holds("apps/api/src/api/cli.py"));
        assert!(scope.holds("libs/core"));
        assert!(!scope.holds("apps/api-old/x.py"));
        assert!(!scope.holds("apps/api/plugins/p.py"));
        assert!(!scope.holds("apps/worker/x.py"));
        assert!(!scope.holds("uv.lock"));
        assert!(scope.reaches("apps"));
        assert!(scope.reaches("libs"));
        assert!(!scope.reaches("apps/worker"));
        let root = Scope {
            include: vec![".".into()],
            exclude: vec!["apps/worker".into()],
        };
        assert!(root.holds("src/app.py"));
        assert!(!root.holds("apps/worker/x.py"));
    }
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
