//! A requirement-file line naming the project itself (`.`, `-e .`, `-e .[test]`,
//! `./[a,b]`): pip resolves it against the directory it runs in, the project's root. In
//! the venv it is the project, installed with its extras (the develop step installs it in
//! any case). A bundler never gets it: the project's code reaches the bundle from the
//! stage, and pex refuses a local directory among the requirements it takes from a venv
//! ("Local project directory requirements cannot be resolved from venvs"). What such a
//! line brings besides the project, its extras' requirements, is asked for by name
//! instead ([`extras_requires`]).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::python::installed;
use crate::python::requirement::Requirement;
use crate::python::sources::Sources;

/// The extras of `line` when it names the project (empty for `-e .`), else `None`.
pub(crate) fn project_extras(line: &str) -> Option<Vec<String>> {
    let line = line.split(" #").next().unwrap_or(line).trim();
    let target = ["--editable", "-e"]
        .iter()
        .find_map(|option| line.strip_prefix(option))
        .map_or(line, |rest| rest.trim_start_matches([' ', '=']).trim());
    let rest = target
        .strip_prefix("./")
        .or_else(|| target.strip_prefix('.'))?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let extras = rest.strip_prefix('[')?.strip_suffix(']')?;
    Some(
        extras
            .split(',')
            .map(|extra| installed::normalize(extra.trim()))
            .filter(|extra| !extra.is_empty())
            .collect(),
    )
}

/// What `files` (relative to the root, read through `sources`) hand a bundler: each file
/// as it is, or, when it or a file it includes (`-r`, `-c`) names the project, a copy in
/// `dir` without those lines and with its includes made absolute; and the project's
/// extras those lines asked for.
pub(crate) fn for_bundler(
    sources: &Sources,
    files: &[String],
    dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let mut extras = Vec::new();
    let mut paths = Vec::new();
    for file in files {
        let file = sources.path(file);
        paths.push(copy_without_project(sources, &file, dir, &mut extras, 0)?);
    }
    extras.sort();
    extras.dedup();
    Ok((paths, extras))
}

/// `file`, or its copy without the lines naming the project (see [`for_bundler`]).
fn copy_without_project(
    sources: &Sources,
    file: &Path,
    dir: &Path,
    extras: &mut Vec<String>,
    depth: usize,
) -> Result<PathBuf> {
    // Unreadable, it is handed on as it is: the installer that reads it says why it cannot.
    let text = sources.text(&file.to_string_lossy());
    // A file including itself would recurse for ever; pip would refuse it anyway.
    if depth > 16 {
        return Ok(file.to_path_buf());
    }
    let base = file.parent().unwrap_or(Path::new(""));
    let mut changed = false;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if let Some(found) = project_extras(line) {
            extras.extend(found);
            changed = true;
            continue;
        }
        let trimmed = line.split(" #").next().unwrap_or(line).trim();
        let include = ["--requirement", "--constraint", "-r", "-c"]
            .iter()
            .find_map(|option| Some((*option, trimmed.strip_prefix(option)?)));
        match include {
            Some((option, rest)) if !rest.contains("://") => {
                let included = base.join(rest.trim_start_matches([' ', '=']).trim());
                let used = copy_without_project(sources, &included, dir, extras, depth + 1)?;
                changed |= used != included;
                out.push_str(&format!("{option} {}\n", used.display()));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !changed {
        return Ok(file.to_path_buf());
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let copy = dir.join(format!(
        "{}-{}",
        fs::read_dir(dir).map_or(0, Iterator::count),
        file.file_name().unwrap_or_default().to_string_lossy()
    ));
    fs::write(&copy, out).with_context(|| format!("cannot write {}", copy.display()))?;
    Ok(copy)
}

/// The `Requires-Dist` of `metadata` that one of `extras` asks for, as requirements that
/// apply without it: the `extra == "NAME"` clause of the marker is made true.
pub(crate) fn extras_requires(metadata: &str, extras: &[String]) -> Vec<String> {
    installed::requires_dist(metadata)
        .filter_map(Requirement::parse)
        .filter_map(|requirement| requirement.for_extras(extras))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_naming_the_project() {
        for (line, extras) in [
            (".", Some(vec![])),
            ("./", Some(vec![])),
            ("-e .", Some(vec![])),
            ("--editable=.", Some(vec![])),
            ("-e .[test]", Some(vec!["test".to_string()])),
            (
                "-e ./[Test_A, docs]  # dev",
                Some(vec!["test-a".into(), "docs".into()]),
            ),
            ("-e ../other", None),
            ("./vendor/x.whl", None),
            ("six", None),
            ("-r requirements/base.txt", None),
        ] {
            assert_eq!(project_extras(line), extras, "{line}");
        }
    }

    #[test]
    fn the_copy_leaves_the_project_out_and_keeps_includes() {
        let root = tempfile::tempdir().unwrap();
        let work = root.path().join("work");
        fs::create_dir(root.path().join("requirements")).unwrap();
        fs::write(root.path().join("requirements/base.txt"), "six\n-e .[a]\n").unwrap();
        fs::write(root.path().join("requirements/pins.txt"), "six==1.16.0\n").unwrap();
        fs::write(
            root.path().join("requirements.txt"),
            "-r requirements/base.txt\n-c requirements/pins.txt\nidna\n",
        )
        .unwrap();
        fs::write(root.path().join("plain.txt"), "idna\n").unwrap();
        let files = ["requirements.txt".to_string(), "plain.txt".into()];
        let sources = Sources::at(root.path());
        let (paths, extras) = for_bundler(&sources, &files, &work).unwrap();
        assert_eq!(extras, ["a"]);
        assert_eq!(paths[1], root.path().join("plain.txt"));
        let top = fs::read_to_string(&paths[0]).unwrap();
        assert!(paths[0].starts_with(&work), "{paths:?}");
        let pins = root.path().join("requirements/pins.txt");
        assert!(top.contains(&format!("-c {}", pins.display())), "{top}");
        let base = top.lines().next().unwrap().strip_prefix("-r ").unwrap();
        assert_eq!(fs::read_to_string(base).unwrap(), "six\n");
    }

    #[test]
    fn the_extras_requirements_apply_without_the_extra() {
        let metadata = "Name: app\nRequires-Dist: six\nRequires-Dist: idna; extra == \"a\"\n\
                        Requires-Dist: attrs; extra == 'b'\n\
                        Requires-Dist: tomli; python_version < \"3.11\" and extra == \"a\"\n\
                        \nRequires-Dist: not-a-header; extra == \"a\"\n";
        assert_eq!(
            extras_requires(metadata, &["a".into()]),
            ["idna", "tomli ; python_full_version < '3.11'"]
        );
    }
}
