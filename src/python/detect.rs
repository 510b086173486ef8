//! What `pybuild init` learns from an existing Python project, and the `project.toml` it
//! writes from that.
//!
//! [`detect`] reads the project's own files and never runs any of them:
//! - `pyproject.toml`: `[project]` `name`, `requires-python` and `[project.scripts]`;
//! - `setup.cfg`: `[metadata] name`, `[options] python_requires` and the `console_scripts`
//!   of `[options.entry_points]`;
//! - `setup.py`, by a scan of its text, because running it could do anything: the
//!   `name=` and `python_requires=` string arguments of the `setup(...)` call, and every
//!   string literal shaped like `"script = package.module:function"`;
//! - the requirement files (at the root and in `requirements/`), sorted into what the app
//!   runs with and what development uses (`directory::requirement_files`), and whether
//!   `src/` holds code;
//! - the names of the distributions the project depends on (`detect/dependencies`).
//!
//! Each field comes from the first of `pyproject.toml`, `setup.cfg`, `setup.py` that states
//! it. The console scripts are one field: the list of the first file that declares any,
//! never a merge. A missing file is not an error; a `pyproject.toml` or `setup.cfg` that
//! cannot be parsed is, and the error names the file. The `setup.py` scan is best-effort:
//! what it does not recognise is left out.
//!
//! [`render`] turns the result and the `[check]` entries `init` chose into the text of a
//! `project.toml` (see `template`).
//!
//! What is found is a [`Detected`] (in `detected`, which the readers and `template`
//! import: none of them imports this file).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;

use anyhow::{Context, Result};

use crate::base::workspace::Workspace;

mod dependencies;
mod detected;
mod directory;
mod metadata;
mod pyproject;
mod setup_cfg;
mod setup_py;
mod template;
mod workspace_template;

pub(crate) use detected::Detected;
pub(crate) use setup_cfg::Ini;
pub(crate) use template::render;
pub(crate) use workspace_template::render_workspace;

use metadata::Metadata;

type Reader = fn(&str) -> Result<Metadata>;

/// The metadata files, highest precedence first, each with its reader.
const METADATA_FILES: [(&str, Reader); 3] = [
    ("pyproject.toml", pyproject::read),
    ("setup.cfg", setup_cfg::read),
    ("setup.py", setup_py::read),
];

/// Learns what it can about the Python project at `root` (see the module doc).
pub(crate) fn detect(root: &Path) -> Result<Detected> {
    let mut metadata = Metadata::default();
    let mut sources = Vec::new();
    for (file, read) in METADATA_FILES {
        let path = root.join(file);
        let Some(text) = read_if_present(&path)? else {
            continue;
        };
        let found = read(&text).with_context(|| format!("cannot parse {}", path.display()))?;
        metadata = metadata.or(found);
        sources.push(file);
    }
    let files = directory::requirement_files(root)?;
    let all = [files.runtime.clone(), files.development.clone()].concat();
    Ok(Detected {
        name: metadata.name,
        console_scripts: metadata.console_scripts,
        dependencies: dependencies::read(root, &all),
        requirements: files.runtime,
        dev_requirements: files.development,
        other_requirements: files.other,
        env_lock: crate::base::project::EnvLock::find(root).map(|lock| lock.file_name()),
        layout: directory::layout(root)?,
        compiled: directory::compiled_source(root),
        python: metadata
            .python
            .or_else(|| directory::python_version_file(root)),
        sources,
    })
}

/// What `init` learns at the root of a uv workspace: the root's own files (its lock, its
/// requirement files, its Python), no name or console script (those are each app's), and
/// the dependencies of every member with the first member's compiled code, for `[check]`.
pub(crate) fn detect_workspace(root: &Path, workspace: &Workspace) -> Result<Detected> {
    let mut detected = detect(root)?;
    // The root's own name, when it is a project too; else the folder's.
    if !workspace.members.iter().any(|member| member.dir == ".") {
        detected.name = None;
    }
    detected.console_scripts.clear();
    for member in workspace.members.iter().filter(|member| member.dir != ".") {
        let found = detect(&root.join(&member.dir))?;
        detected.dependencies.extend(found.dependencies);
        if detected.compiled.is_none() {
            detected.compiled = found
                .compiled
                .map(|why| format!("{} ({})", why, member.dir));
        }
    }
    let members: BTreeSet<&str> = workspace.members.iter().map(|m| m.name.as_str()).collect();
    detected
        .dependencies
        .retain(|name| !members.contains(name.as_str()));
    detected.dependencies.sort();
    detected.dependencies.dedup();
    Ok(detected)
}

fn read_if_present(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::detected::Layout;
    use super::*;

    pub(super) fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    pub(super) fn scripts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn pyproject_flat_layout_keeps_script_order() {
        let dir = project(&[
            (
                "pyproject.toml",
                "[project]\nname = \"clicker\"\nrequires-python = \">=3.9\"\n\n\
                 [project.scripts]\nzeta = \"clicker.app:cli\"\nalpha = \"clicker.admin:main\"\n",
            ),
            ("clicker/__init__.py", ""),
            ("requirements-dev.txt", "pytest\n"),
            ("requirements.txt", "click\n"),
            ("notes-requirements-of-mine.txt", "not matched\n"),
        ]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name.as_deref(), Some("clicker"));
        assert_eq!(
            detected.console_scripts,
            scripts(&[("zeta", "clicker.app:cli"), ("alpha", "clicker.admin:main")])
        );
        assert_eq!(detected.requirements, ["requirements.txt"]);
        assert_eq!(detected.dev_requirements, ["requirements-dev.txt"]);
        assert_eq!(detected.layout, Layout::Flat);
        assert_eq!(detected.python, None);
        assert_eq!(detected.sources, ["pyproject.toml"]);
    }

    const SETUP_PY: &str = r#"import os
from setuptools import find_packages, setup

# "commented = not.a:script"
def helper(name="not-the-name"):
    """A docstring with "quotes" and 'fake = fake.mod:run'."""
    return dict(name="nested")

setup(
    name="legacy-tool",
    version="0.4.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    python_requires=">=3.8",
    entry_points={"console_scripts": ["legacy-tool = legacy_tool.main:run"]},
)
"#;

    #[test]
    fn setup_py_src_layout() {
        let dir = project(&[
            ("setup.py", SETUP_PY),
            ("src/legacy_tool/__init__.py", ""),
            ("src/legacy_tool/main.py", "def run(): pass\n"),
        ]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name.as_deref(), Some("legacy-tool"));
        assert_eq!(
            detected.console_scripts,
            scripts(&[("legacy-tool", "legacy_tool.main:run")])
        );
        assert_eq!(detected.layout, Layout::Src);
        assert_eq!(detected.python, None);
        assert!(detected.requirements.is_empty());
        assert_eq!(detected.sources, ["setup.py"]);
    }

    #[test]
    fn setup_cfg_multiline_console_scripts() {
        let dir = project(&[
            (
                "setup.cfg",
                "# comment\n[metadata]\nName = cfg-tool\ndescription = A tool:\n  on two lines\n\n\
                 [options]\npython_requires = ==3.10.*\n\n\
                 [options.entry_points]\nconsole_scripts =\n    cfg-tool = cfg_tool.cli:main\n\n\
                 \x20   cfg-admin=cfg_tool.admin:run [extra]\n; a comment\ngui_scripts =\n    gui = cfg_tool.gui:main\n\n\
                 [flake8]\nmax-line-length: 100\n",
            ),
            ("src/cfg_tool.py", ""),
        ]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name.as_deref(), Some("cfg-tool"));
        assert_eq!(
            detected.console_scripts,
            scripts(&[
                ("cfg-tool", "cfg_tool.cli:main"),
                ("cfg-admin", "cfg_tool.admin:run")
            ])
        );
        assert_eq!(detected.python.as_deref(), Some("3.10"));
        assert_eq!(detected.layout, Layout::Src);
        assert_eq!(detected.sources, ["setup.cfg"]);
    }

    #[test]
    fn each_field_comes_from_the_first_file_stating_it() {
        let dir = project(&[
            (
                "pyproject.toml",
                "[project]\nname = \"from-pyproject\"\ndynamic = [\"scripts\"]\n",
            ),
            (
                "setup.cfg",
                "[metadata]\nname = from-cfg\n[options.entry_points]\nconsole_scripts =\n  cfg = cfg.cli:main\n",
            ),
            (
                "setup.py",
                "setup(name='from-py', python_requires='~=3.12.1', scripts=['py = py.cli:main'])\n",
            ),
        ]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name.as_deref(), Some("from-pyproject"));
        assert_eq!(
            detected.console_scripts,
            scripts(&[("cfg", "cfg.cli:main")])
        );
        assert_eq!(detected.python.as_deref(), Some("3.12"));
        assert_eq!(
            detected.sources,
            ["pyproject.toml", "setup.cfg", "setup.py"]
        );
    }

    #[test]
    fn nothing_to_read_is_not_an_error() {
        let dir = project(&[("src/README", "")]);
        let detected = detect(dir.path()).unwrap();
        assert_eq!(detected.name, None);
        assert!(detected.console_scripts.is_empty() && detected.sources.is_empty());
        assert_eq!(detected.layout, Layout::Flat);
    }

    #[test]
    fn malformed_pyproject_error_names_the_file() {
        let dir = project(&[("pyproject.toml", "[project\nname = \"x\"\n")]);
        let err = format!("{:#}", detect(dir.path()).unwrap_err());
        assert!(err.contains("pyproject.toml"), "{err}");
    }

    #[test]
    fn wrong_type_in_pyproject_names_file_line_and_key() {
        let dir = project(&[(
            "pyproject.toml",
            "[project]\nname = \"x\"\n\n[project.scripts]\nx = 1\n",
        )]);
        let err = format!("{:#}", detect(dir.path()).unwrap_err());
        assert!(err.contains("pyproject.toml"), "{err}");
        assert!(
            err.contains("line 5: `project.scripts.x` must be a string"),
            "{err}"
        );
    }

    #[test]
    fn malformed_setup_cfg_error_names_the_file_and_line() {
        let dir = project(&[("setup.cfg", "[metadata]\nname = x\nthis is not ini\n")]);
        let err = format!("{:#}", detect(dir.path()).unwrap_err());
        assert!(err.contains("setup.cfg") && err.contains("line 3"), "{err}");
        let dir = project(&[("setup.cfg", "name = x\n")]);
        let err = format!("{:#}", detect(dir.path()).unwrap_err());
        assert!(
            err.contains("setup.cfg") && err.contains("before any [section]"),
            "{err}"
        );
    }
}
