//! Which files of the project are inputs: the set the bundle is built from, and that
//! `develop` derives its top-level packages from.
//!
//! Every file under the root, minus build outputs and tool state that never belong in a
//! bundle (the list in [`is_excluded_dir`] and [`is_excluded_file`]), minus git-ignored
//! files (the project's own `.gitignore` files, with or without a `.git`), minus pybuild's
//! own `project.toml` (what steps use of it is in their fingerprints). `[bundle]
//! sources` adjusts it: `pattern` adds git-ignored files that match, `!pattern` removes
//! files that match. Paths are relative to the root, with `/` separators, sorted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::{DirEntry, WalkBuilder};

/// What to leave out besides the built-in exclusions.
pub struct Rules {
    /// The venv, if it is inside the project.
    pub venv: Option<PathBuf>,
    /// The bundle output, relative to the root.
    pub output: Option<PathBuf>,
    /// `[bundle] sources`.
    pub sources: Vec<String>,
}

const EXCLUDED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".pybuild",
    "__pycache__",
    ".eggs",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
];

/// Directories excluded only at the top: setuptools' and the bundlers' outputs.
const EXCLUDED_TOP_DIRS: &[&str] = &["build", "dist"];

pub fn project_files(root: &Path, rules: &Rules) -> Result<Vec<String>> {
    let (include, exclude) = split_patterns(&rules.sources)?;
    let mut files = walk(root, rules, true, |_| true)?;
    if let Some(include) = include {
        files.extend(walk(root, rules, false, |rel| include.is_match(rel))?);
    }
    if let Some(exclude) = exclude {
        files.retain(|rel| !exclude.is_match(rel));
    }
    Ok(files.into_iter().collect())
}

/// The top-level importable names the files provide (`pkg` for `src/pkg/x.py` or
/// `pkg/x.py`, `mod` for `mod.py`): adding or removing one needs a new editable install.
pub fn top_level_names(files: &[String]) -> BTreeSet<String> {
    files
        .iter()
        .filter(|f| f.ends_with(".py"))
        .filter_map(|f| {
            let rel = f.strip_prefix("src/").unwrap_or(f);
            let first = rel.split('/').next()?;
            let name = first.strip_suffix(".py").unwrap_or(first);
            let importable = name.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            importable.then(|| name.to_string())
        })
        .collect()
}

fn split_patterns(patterns: &[String]) -> Result<(Option<GlobSet>, Option<GlobSet>)> {
    let mut include = GlobSetBuilder::new();
    let mut exclude = GlobSetBuilder::new();
    let (mut any_include, mut any_exclude) = (false, false);
    for pattern in patterns {
        let (builder, any, glob) = match pattern.strip_prefix('!') {
            Some(glob) => (&mut exclude, &mut any_exclude, glob),
            None => (&mut include, &mut any_include, pattern.as_str()),
        };
        builder.add(Glob::new(glob).with_context(|| format!("bad glob `{pattern}`"))?);
        *any = true;
    }
    let build = |builder: GlobSetBuilder, any: bool| -> Result<Option<GlobSet>> {
        Ok(if any { Some(builder.build()?) } else { None })
    };
    Ok((build(include, any_include)?, build(exclude, any_exclude)?))
}

fn walk(
    root: &Path,
    rules: &Rules,
    honour_gitignore: bool,
    keep: impl Fn(&str) -> bool,
) -> Result<BTreeSet<String>> {
    let mut builder = WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .hidden(false)
        .parents(false)
        .follow_links(false)
        .git_ignore(honour_gitignore)
        .git_exclude(honour_gitignore)
        .require_git(false);
    let filter_root = root.to_path_buf();
    let venv = rules.venv.clone();
    builder.filter_entry(move |entry| !is_excluded_dir(&filter_root, venv.as_deref(), entry));

    let mut files = BTreeSet::new();
    for entry in builder.build() {
        let entry = entry.with_context(|| format!("cannot list files under {}", root.display()))?;
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        // A link to a directory is not walked into; a link to a file is an input.
        if file_type.is_dir() || (file_type.is_symlink() && entry.path().is_dir()) {
            continue;
        }
        let Some(rel) = relative(root, entry.path()) else {
            continue;
        };
        if !is_excluded_file(&rel, rules.output.as_deref()) && keep(&rel) {
            files.insert(rel);
        }
    }
    Ok(files)
}

fn is_excluded_dir(root: &Path, venv: Option<&Path>, entry: &DirEntry) -> bool {
    if !entry.file_type().is_some_and(|t| t.is_dir()) || entry.depth() == 0 {
        return false;
    }
    let name = entry.file_name().to_string_lossy();
    EXCLUDED_DIRS.contains(&name.as_ref())
        || name.ends_with(".egg-info")
        || (entry.depth() == 1 && EXCLUDED_TOP_DIRS.contains(&name.as_ref()))
        || venv.is_some_and(|v| entry.path() == root.join(v))
        || entry.path().join("pyvenv.cfg").exists()
}

fn is_excluded_file(rel: &str, output: Option<&Path>) -> bool {
    // pybuild's own configuration: the sections a step uses are part of its fingerprint,
    // so editing another section (adding a dev tool) must not rebuild the bundle.
    rel == crate::config::FILE_NAME
        || rel.ends_with(".pyc")
        || rel.ends_with(".pyo")
        || output.is_some_and(|o| Path::new(rel) == o)
}

/// `path` relative to `root`, as UTF-8 with `/` separators (what Unix paths already are).
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path
        .as_os_str()
        .as_encoded_bytes()
        .strip_prefix(root.as_os_str().as_encoded_bytes())?;
    let rel = rel.strip_prefix(b"/")?;
    std::str::from_utf8(rel).ok().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x").unwrap();
        }
        dir
    }

    fn rules(sources: &[&str]) -> Rules {
        Rules {
            venv: Some(".venv".into()),
            output: Some("out/app.pex".into()),
            sources: sources.iter().map(|s| s.to_string()).collect(),
        }
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
        let files = project_files(dir.path(), &rules(&[])).unwrap();
        assert_eq!(
            files,
            vec!["docs/build/index.txt", "setup.py", "src/app/__init__.py"]
        );
    }

    #[test]
    fn gitignore_applies_and_sources_adjust() {
        let dir = tree(&[
            "app/__init__.py",
            "app/_version.py",
            "notes.txt",
            "tests/test_app.py",
        ]);
        fs::write(dir.path().join(".gitignore"), "_version.py\nnotes.txt\n").unwrap();
        let files = project_files(dir.path(), &rules(&[])).unwrap();
        assert_eq!(
            files,
            vec![".gitignore", "app/__init__.py", "tests/test_app.py"]
        );
        let files = project_files(dir.path(), &rules(&["app/_version.py", "!tests/**"])).unwrap();
        assert_eq!(
            files,
            vec![".gitignore", "app/__init__.py", "app/_version.py"]
        );
    }

    #[test]
    fn top_level_names_cover_src_and_flat_layouts() {
        let files: Vec<String> = [
            "src/app/cli.py",
            "src/app/sub/x.py",
            "tool.py",
            "README.md",
            "clicker/app.py",
            "my-scripts/run.py",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let names: Vec<String> = top_level_names(&files).into_iter().collect();
        assert_eq!(names, vec!["app", "clicker", "tool"]);
    }
}
