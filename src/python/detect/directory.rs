//! What the project's directory shows besides its metadata files: where the code lives,
//! which `requirements*.txt` files sit at the root, and the `.python-version` pin.

use std::fs;
use std::io;
use std::path::Path;

use anyhow::{Context, Result};

use super::detected::Layout;

/// The requirement files of the project, sorted by what they are for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct RequirementFiles {
    /// What the app runs with: `requirements.txt`, and in `requirements/` the files whose
    /// name says base, prod, production, main, common or runtime.
    pub(super) runtime: Vec<String>,
    /// What developers work with (a name word among [`DEVELOPMENT_WORDS`]): into the
    /// venv, never the bundle.
    pub(super) development: Vec<String>,
    /// The others, which `init` names but leaves for the user to sort.
    pub(super) other: Vec<String>,
}

/// Words of a requirement file's name (split at `-`, `_`, `.`, `/`) that mean it serves
/// development, not the running app.
const DEVELOPMENT_WORDS: &[&str] = &[
    "dev",
    "devel",
    "develop",
    "development",
    "test",
    "tests",
    "testing",
    "lint",
    "linting",
    "linters",
    "doc",
    "docs",
    "typing",
    "types",
    "mypy",
    "style",
    "ci",
    "bench",
    "benchmark",
    "benchmarks",
    "coverage",
    "tox",
    "local",
    "tools",
];

/// Words of a name in `requirements/` that mean the app's runtime.
const RUNTIME_WORDS: &[&str] = &[
    "base",
    "prod",
    "production",
    "main",
    "common",
    "runtime",
    "requirements",
];

/// The `*.txt` requirement files at the root (named `requirements*`, `*-requirements`,
/// `*_requirements`) and in `requirements/`, each sorted (see [`RequirementFiles`]).
pub(super) fn requirement_files(root: &Path) -> Result<RequirementFiles> {
    let mut found = Vec::new();
    for name in txt_files(root)? {
        let stem = name.trim_end_matches(".txt");
        if stem.starts_with("requirements") || stem.ends_with("requirements") {
            found.push(name);
        }
    }
    for name in txt_files(&root.join("requirements"))? {
        found.push(format!("requirements/{name}"));
    }
    // By stem, so the base `requirements.txt` comes before `requirements-dev.txt`.
    found.sort_by(|a, b| a.trim_end_matches(".txt").cmp(b.trim_end_matches(".txt")));
    let mut files = RequirementFiles::default();
    for file in found {
        let lower = file.to_lowercase();
        let words: Vec<&str> = lower
            .trim_end_matches(".txt")
            .split(['-', '_', '.', '/'])
            .collect();
        let in_folder = lower.strip_prefix("requirements/");
        let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
        let runtime_name = in_folder.is_some_and(|name| {
            let stem = name.trim_end_matches(".txt");
            stem.split(['-', '_', '.'])
                .any(|w| RUNTIME_WORDS.contains(&w) || w.starts_with("prod"))
        });
        if has(DEVELOPMENT_WORDS) {
            files.development.push(file);
        } else if file == "requirements.txt" || runtime_name {
            files.runtime.push(file);
        } else {
            files.other.push(file);
        }
    }
    Ok(files)
}

/// The names of the `*.txt` files in `dir` (none when it is not a directory).
fn txt_files(dir: &Path) -> Result<Vec<String>> {
    let context = || format!("cannot list {}", dir.display());
    let Some(entries) = entries_if_any(dir)? else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.with_context(context)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.ends_with(".txt") && entry.path().is_file() {
            files.push(name);
        }
    }
    Ok(files)
}

/// Suffixes of the sources a C compiler builds into an extension module.
const C_SOURCES: &[&str] = &[".c", ".cc", ".cpp", ".cxx", ".pyx"];

/// What makes the project compile an extension of its own, if anything: a C, C++ or
/// Cython source in its tree (outside tests, docs, the venv and hidden folders, at most a
/// few levels deep), or `setup.py` declaring `ext_modules`.
pub(super) fn compiled_source(root: &Path) -> Option<String> {
    if let Ok(setup) = fs::read_to_string(root.join("setup.py"))
        && ["ext_modules", "Extension("]
            .iter()
            .any(|w| setup.contains(w))
    {
        return Some("setup.py declares extension modules".into());
    }
    let skipped = [
        "build",
        "dist",
        "docs",
        "doc",
        "tests",
        "test",
        "venv",
        "node_modules",
    ];
    let mut todo = vec![(root.to_path_buf(), 0)];
    let mut seen = 0;
    while let Some((dir, depth)) = todo.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            seen += 1;
            if seen > 20_000 {
                return None;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth < 6 && !name.starts_with('.') && !skipped.contains(&name.as_str()) {
                    todo.push((entry.path(), depth + 1));
                }
            } else if kind.is_file() && C_SOURCES.iter().any(|s| name.ends_with(s)) {
                let path = entry.path();
                let rel = path.strip_prefix(root).unwrap_or(&path);
                return Some(rel.display().to_string());
            }
        }
    }
    None
}

/// `X.Y` from a `.python-version` file (pyenv's, uv's), when it names one CPython version
/// (`3.10`, `3.10.4`): the version the project is developed with.
pub(super) fn python_version_file(root: &Path) -> Option<String> {
    let text = fs::read_to_string(root.join(".python-version")).ok()?;
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let mut parts = first.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let rest_ok = parts.all(numeric);
    (numeric(major) && numeric(minor) && rest_ok).then(|| format!("{major}.{minor}"))
}

pub(super) fn layout(root: &Path) -> Result<Layout> {
    let src = root.join("src");
    let context = || format!("cannot list {}", src.display());
    let Some(entries) = entries_if_any(&src)? else {
        return Ok(Layout::Flat);
    };
    for entry in entries {
        let path = entry.with_context(context)?.path();
        let is_code = if path.is_dir() {
            path.join("__init__.py").is_file()
        } else {
            path.extension().is_some_and(|ext| ext == "py")
        };
        if is_code {
            return Ok(Layout::Src);
        }
    }
    Ok(Layout::Flat)
}

/// The entries of `dir`, or none when there is no such directory (an error otherwise).
fn entries_if_any(dir: &Path) -> Result<Option<fs::ReadDir>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(Some(entries)),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(err).with_context(|| format!("cannot list {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::detect::tests::project;

    #[test]
    fn requirement_files_are_sorted_by_what_they_are_for() {
        let dir = project(&[
            ("requirements.txt", ""),
            ("requirements-dev.txt", ""),
            ("dev-requirements.txt", ""),
            ("requirements_test.txt", ""),
            ("requirements-py38.txt", ""),
            ("requirements/base.txt", ""),
            ("requirements/production.txt", ""),
            ("requirements/lint.txt", ""),
            ("requirements/docs.txt", ""),
            ("requirements/extras.txt", ""),
            ("notes.txt", ""),
        ]);
        let files = requirement_files(dir.path()).unwrap();
        assert_eq!(
            files.runtime,
            [
                "requirements.txt",
                "requirements/base.txt",
                "requirements/production.txt"
            ]
        );
        assert_eq!(
            files.development,
            [
                "dev-requirements.txt",
                "requirements-dev.txt",
                "requirements/docs.txt",
                "requirements/lint.txt",
                "requirements_test.txt"
            ]
        );
        assert_eq!(
            files.other,
            ["requirements-py38.txt", "requirements/extras.txt"]
        );
    }

    #[test]
    fn a_python_version_file_gives_the_interpreter() {
        for (text, expected) in [
            ("3.10\n", Some("3.10")),
            ("# pinned\n3.12.4\n", Some("3.12")),
            ("pypy3.10\n", None),
            ("system\n", None),
        ] {
            let dir = project(&[(".python-version", text)]);
            assert_eq!(
                python_version_file(dir.path()).as_deref(),
                expected,
                "{text}"
            );
        }
    }
}
