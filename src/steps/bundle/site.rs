//! A site-packages directory holding the staged project and its dependencies, for the
//! kinds that zip one up (shiv, zipapp), and the shebang those archives start with.
//!
//! It is installed by the venv's own pip (`pip install --target DIR <stage>`), whatever
//! `[env] installer` says: one installer whose flags are known keeps the result stable.
//! pip builds the project's wheel from the clean stage, so nothing from the project's own
//! `build/` can leak in. What would make two builds of the same inputs differ,
//! or tie the archive to this machine, is left out: no `.pyc` (`--no-compile`: they embed
//! the sources' mtimes), no `bin/` (its scripts' shebangs name this venv's python), no
//! `direct_url.json` (it names the stage's absolute path), nor their lines in `RECORD`.
//! Offline (see `wheelhouse`), pip installs from the wheelhouse instead of the index.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::backend::Job;
use super::placement::stage_files;
use crate::args;
use crate::python::build::Build;
use crate::python::installed::normalize;
use crate::python::interpreter::Interpreter;
use crate::python::{closure, installed_wheel, own_requirement, path_deps, sources, wheelhouse};

/// Installs the staged project and its dependencies into `dir` (created), at the venv's
/// versions: every distribution installed in the venv is a constraint, and what the
/// `[env] requirements` files and those they include ask for is installed too (they are
/// the app's runtime): each requirement line, and a folder's install as the venv holds it.
pub(crate) fn install(cx: &Build, job: &Job, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let constraints = job.work.join("venv-constraints.txt");
    fs::write(&constraints, venv_constraints(cx, job))
        .with_context(|| format!("cannot write {}", constraints.display()))?;
    let mut argv = args!["-m", "pip", "install", "--no-compile", "--no-input"].to_vec();
    argv.extend(wheelhouse::pip_args(cx));
    // A requirement file's `-e .[extra]` asks for the project with those extras: so does
    // this install (see `own_requirement`).
    let deps: Vec<_> = job
        .path_deps
        .iter()
        .map(|inputs| inputs.dep.clone())
        .collect();
    let (_, extras) = own_requirement::for_bundler(
        &cx.sources(),
        cx.project.requirement_files(),
        &deps,
        &job.work.join("requirements"),
    )?;
    let project = match extras.is_empty() {
        true => job.stage.clone().into_os_string(),
        false => format!("{}[{}]", job.stage.display(), extras.join(",")).into(),
    };
    argv.extend(args!["--target", dir, "-c", &constraints, project]);
    // Each path dependency from a staged copy of its folder's input files, not the folder
    // (see `python::path_deps`).
    for inputs in job.path_deps.iter() {
        let stage = job.work.join("path-deps").join(&inputs.dep.name);
        stage_files(&inputs.dep.dir, &inputs.files_in_folder(), &stage)?;
        argv.push(stage.into());
    }
    argv.extend(installed_copies(cx, job)?.into_iter().map(Into::into));
    // Every requirement line of the files and of those they include, markers kept (pip
    // evaluates them); a line naming a folder is installed just above.
    let sources = cx.sources();
    for file in sources.requiring_files() {
        let lines = sources::requirement_lines(&sources.text(&file));
        argv.extend(lines.into_iter().map(Into::into));
    }
    cx.printer
        .phase("installing the app and its dependencies at the venv's versions");
    cx.runner
        .run(cx.project.venv_python(), &argv)
        .map_err(|err| wheelhouse::offline_failure(err, cx))?;
    remove_machine_specific(dir)
}

/// Wheels of the libraries the venv installed from a folder without `-e` that the app
/// asks for: the venv's copies (see `python::installed_wheel`), which no index has.
fn installed_copies(cx: &Build, job: &Job) -> Result<Vec<PathBuf>> {
    let env = cx.env_at(&job.site_packages);
    let folders = path_deps::folder_installs(&env, cx.project);
    let asked = closure::asked(cx.project, &cx.sources(), &folders);
    let reached = closure::reachable(&env, &asked.requirements);
    let dir = job.work.join("installed-wheels");
    folders
        .iter()
        .filter(|dep| !dep.editable)
        .filter(|dep| !asked.complete || reached.contains(&normalize(&dep.name)))
        .filter_map(|dep| env.find(&dep.name))
        .map(|dist| installed_wheel::write(dist, &job.site_packages, &dir))
        .collect()
}

/// `name==version` for each distribution in the venv but the project itself.
fn venv_constraints(cx: &Build, job: &Job) -> String {
    cx.env_at(&job.site_packages)
        .others(&cx.project.config.project.name)
        .map(|dist| format!("{}=={}\n", dist.name, dist.version))
        .collect()
}

fn remove_machine_specific(dir: &Path) -> Result<()> {
    let bin = dir.join("bin");
    if bin.exists() {
        fs::remove_dir_all(&bin).with_context(|| format!("cannot remove {}", bin.display()))?;
    }
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.extension().is_none_or(|e| e != "dist-info") {
            continue;
        }
        let direct_url = path.join("direct_url.json");
        if direct_url.exists() {
            fs::remove_file(&direct_url)
                .with_context(|| format!("cannot remove {}", direct_url.display()))?;
        }
        let record = path.join("RECORD");
        if let Ok(text) = fs::read_to_string(&record) {
            let kept: String = text
                .split_inclusive('\n')
                .filter(|line| {
                    let file = line.split(',').next().unwrap_or_default();
                    // `--target` records scripts as `../../bin/x` or `bin/x`.
                    !(file.starts_with("../")
                        || file.starts_with("bin/")
                        || file.ends_with(".dist-info/direct_url.json"))
                })
                .collect();
            fs::write(&record, kept)
                .with_context(|| format!("cannot write {}", record.display()))?;
        }
    }
    Ok(())
}

/// `#!/usr/bin/env python3.X`, X being the venv interpreter's minor version: the
/// dependencies were resolved for that version (markers, `requires-python`), and an
/// absolute interpreter path would tie the archive to this machine.
pub(crate) fn shebang(python: &Interpreter) -> String {
    format!("/usr/bin/env python{}", python.short_version())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_names_the_minor_version() {
        let python = Interpreter {
            path: "/root/.pyenv/versions/3.11.7/bin/python3.11".into(),
            version: "3.11.7".into(),
        };
        assert_eq!(shebang(&python), "/usr/bin/env python3.11");
    }

    #[test]
    fn leaves_out_scripts_and_the_stage_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("bin/greet"), "#!/venv/bin/python\n").unwrap();
        fs::create_dir_all(root.join("greeter-1.2.3.dist-info")).unwrap();
        fs::write(root.join("greeter-1.2.3.dist-info/direct_url.json"), "{}").unwrap();
        fs::write(root.join("greeter-1.2.3.dist-info/METADATA"), "").unwrap();
        fs::write(
            root.join("greeter-1.2.3.dist-info/RECORD"),
            "../../bin/greet,sha256=a,1\ngreeter-1.2.3.dist-info/direct_url.json,sha256=b,2\n\
             greeter/cli.py,sha256=c,3\n",
        )
        .unwrap();
        remove_machine_specific(root).unwrap();
        assert_eq!(
            fs::read_to_string(root.join("greeter-1.2.3.dist-info/RECORD")).unwrap(),
            "greeter/cli.py,sha256=c,3\n"
        );
        assert!(!root.join("bin").exists());
        assert!(
            !root
                .join("greeter-1.2.3.dist-info/direct_url.json")
                .exists()
        );
        assert!(root.join("greeter-1.2.3.dist-info/METADATA").exists());
    }
}
