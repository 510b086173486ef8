//! A requirement-file line naming the project itself (`.`, `-e .`, `-e .[test]`,
//! `./[a,b]`): pip resolves it against the directory it runs in, the project's root. In
//! the venv it is the project, installed with its extras (the develop step installs it in
//! any case). A bundler never gets it: the project's code reaches the bundle from the
//! stage, and pex refuses a local directory among the requirements it takes from a venv
//! ("Local project directory requirements cannot be resolved from venvs"). What such a
//! line brings besides the project, its extras' requirements, is asked for by name
//! instead ([`extras_requires`]). A line naming the folder of a path dependency
//! (`-e ../lib`, see `path_deps`) is the same to pex: it becomes the distribution's name,
//! which the venv holds.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::python::installed;
use crate::python::path_deps::{self, PathDep};
use crate::python::requirement::Requirement;
use crate::python::sources::{Sources, install_target};

/// The extras of `line` when it names the project (empty for `-e .`), else `None`.
pub(crate) fn project_extras(line: &str) -> Option<Vec<String>> {
    let target = install_target(line);
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

/// The line for pex when `line` installs one of `deps` from its folder (see
/// [`path_deps::named_by`]): the distribution's name, with the line's extras.
fn path_dep_line(line: &str, bases: &[&Path], deps: &[PathDep]) -> Option<String> {
    let (dep, extras) = path_deps::named_by(line, bases, deps)?;
    Some(format!("{}{extras}", dep.name))
}

/// What `files` (relative to the root, read through `sources`) hand a bundler: each file
/// as it is, or, when it or a file it includes (`-r`, `-c`) names the project or the
/// folder of one of `deps`, a copy in `dir` without the project's lines, with the name of
/// the dependency for a folder's, and with its includes made absolute; and the project's
/// extras those lines asked for.
pub(crate) fn for_bundler(
    sources: &Sources,
    files: &[String],
    deps: &[PathDep],
    dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let mut extras = Vec::new();
    let mut paths = Vec::new();
    let copy = Copy { sources, deps, dir };
    for file in files {
        let file = sources.path(file);
        paths.push(copy.of(&file, &mut extras, 0)?);
    }
    extras.sort();
    extras.dedup();
    Ok((paths, extras))
}

/// What [`for_bundler`] copies with.
struct Copy<'a> {
    sources: &'a Sources,
    deps: &'a [PathDep],
    dir: &'a Path,
}

impl Copy<'_> {
    /// `file`, or its copy for the bundler (see [`for_bundler`]).
    fn of(&self, file: &Path, extras: &mut Vec<String>, depth: usize) -> Result<PathBuf> {
        let Copy { sources, deps, dir } = *self;
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
            if let Some(name) = path_dep_line(line, &[base, &sources.path("")], deps) {
                out.push_str(&name);
                out.push('\n');
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
                    let used = self.of(&included, extras, depth + 1)?;
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
        let (paths, extras) = for_bundler(&sources, &files, &[], &work).unwrap();
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
    fn a_line_naming_a_path_dependencys_folder_becomes_its_name() {
        let top = tempfile::tempdir().unwrap();
        let (root, lib) = (top.path().join("app"), top.path().join("lib"));
        fs::create_dir_all(root.join("requirements")).unwrap();
        fs::create_dir_all(&lib).unwrap();
        let deps = [PathDep {
            name: "My_Lib".into(),
            dir: lib.clone(),
            rel: "../lib".into(),
            editable: true,
        }];
        let bases = [root.join("requirements"), root.clone()];
        let bases: Vec<&Path> = bases.iter().map(PathBuf::as_path).collect();
        let lib_url = format!("file://{}", lib.display());
        for (line, want) in [
            ("-e ../lib", Some("My_Lib")),
            ("--editable=../lib  # ours", Some("My_Lib")),
            ("../../lib[fast]", Some("My_Lib[fast]")),
            ("file:../lib", Some("My_Lib")),
            (lib_url.as_str(), Some("My_Lib")),
            ("-e ../other", None),
            ("lib", None),
            ("-e .", None),
        ] {
            assert_eq!(
                path_dep_line(line, &bases, &deps).as_deref(),
                want,
                "{line}"
            );
        }
        fs::write(root.join("requirements.txt"), "six\n-e ../lib\n").unwrap();
        let sources = Sources::at(&root);
        let work = root.join("work");
        let (paths, _) = for_bundler(&sources, &["requirements.txt".into()], &deps, &work).unwrap();
        assert_eq!(fs::read_to_string(&paths[0]).unwrap(), "six\nMy_Lib\n");
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
