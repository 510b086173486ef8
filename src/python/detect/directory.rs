//! What the project's directory shows besides its metadata files: where the code lives,
//! which `requirements*.txt` files sit at the root, and the `.python-version` pin.

use std::fs;
use std::io;
use std::path::Path;

use anyhow::{Context, Result};

use super::detected::Layout;

pub(super) fn requirement_files(root: &Path) -> Result<Vec<String>> {
    let context = || format!("cannot list {}", root.display());
    let mut files = Vec::new();
    for entry in fs::read_dir(root).with_context(context)? {
        let entry = entry.with_context(context)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with("requirements") && name.ends_with(".txt") && entry.path().is_file() {
            files.push(name);
        }
    }
    // By stem, so the base `requirements.txt` comes before `requirements-dev.txt`.
    files.sort_by(|a, b| a.trim_end_matches(".txt").cmp(b.trim_end_matches(".txt")));
    Ok(files)
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
    let entries = match fs::read_dir(&src) {
        Ok(entries) => entries,
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Layout::Flat);
        }
        Err(err) => return Err(err).with_context(context),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::detect::tests::project;

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
