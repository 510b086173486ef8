//! What a bundle ships, proven against the venv it was built from, and written beside it.
//!
//! After a backend built an archive (PEX, shiv, zipapp), every distribution inside it
//! (each `*.dist-info/METADATA`, the dependencies PEX's wheels included, read back in
//! process by `archive`) must be installed in the venv at the same version, and every
//! distribution the app needs from the venv (`python::closure::needed`) must be inside:
//! one that differs or is missing fails the build with the list, and the previous bundle
//! stays in place. The same read-back lists the modules under the project's top-level names, which
//! `own_code` checks. The manifest
//! (`<output stem>.manifest.json`) then says what shipped and from which environment
//! files, which of them pins each version (see [`against_pins`]), which checks passed
//! (`verified`) and which could not be made (`unverified`). A PyInstaller executable is
//! not a zip: its distributions and modules are read back with PyInstaller's archive
//! reader, the distributions at the venv's versions, since the executable records no
//! versions (`dependencies` is unverified).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::args;
use crate::base::distribution_name::normalize;
use crate::base::error::UserError;
use crate::base::process;
use crate::engine::state;
use crate::python::build::Build;
use crate::python::pins::Pin;
use crate::python::uv_lock::UvLock;
use crate::python::{closure, path_deps, requirement};
use crate::steps::bundle::archive::{self, Contents};
use crate::steps::bundle::backend::{Backend, Job};
use crate::steps::bundle::lock_closure;
use crate::steps::bundle::own_code::Code;

/// Bumped when a key changes meaning.
pub(crate) const FORMAT: u32 = 3;

/// Lists `D<TAB>distribution` for each distribution whose top-level modules, packages or
/// files are inside a PyInstaller executable (its archive and the PYZ in it, read with
/// PyInstaller's own reader), by the venv's map from top-level names to distributions;
/// then `M<TAB>module` for each module in it whose top-level name is one of the arguments
/// after the executable.
const LIST_FROZEN: &str = r#"
import importlib.metadata as md, re, sys
from PyInstaller.archive.readers import CArchiveReader
archive = CArchiveReader(sys.argv[1])
wanted = set(sys.argv[2:])
names = set()
modules = set()
for name, entry in archive.toc.items():
    if entry[-1] == "z":
        inner = archive.open_embedded_archive(name).toc
        names.update(inner)
        modules.update(m for m in inner if m.split(".")[0] in wanted)
    else:
        names.add(name)
tops = {re.split(r"[./\\]", name)[0] for name in names}
owners = md.packages_distributions()
for top in sorted(tops):
    for dist in owners.get(top, []):
        print("D\t" + dist)
for module in sorted(modules):
    print("M\t" + module)
"#;

#[derive(Debug, Serialize)]
pub(crate) struct Manifest {
    pub(crate) format: u32,
    pub(crate) bundle: String,
    pub(crate) kind: String,
    /// What was read back from the bundle and proven (see [`Verified`]).
    pub(crate) verified: Vec<String>,
    /// What could not be proven of this kind of bundle, and why.
    pub(crate) unverified: Vec<String>,
    /// The files the venv's environment comes from, with their content hashes.
    pub(crate) environment: BTreeMap<String, String>,
    /// Name → version of what the bundle carries.
    pub(crate) distributions: BTreeMap<String, String>,
    /// Name → the environment file that pins the version shipped: the venv was synced to
    /// it (a version changed by hand in the venv was put back before the build).
    pub(crate) pinned: BTreeMap<String, String>,
    /// What shipped at the version the venv holds, which no environment file pins (an
    /// open requirement, resolved when the venv was set up, or changed by hand since).
    pub(crate) unpinned: Vec<String>,
}

/// Reads the bundle `job` built back and proves it against the venv, the source pins and
/// the project's `code`: fails on the first thing it lacks or carries at another
/// version; else the manifest of what it ships, for `output`.
pub(crate) fn prove(
    cx: &Build,
    backend: &dyn Backend,
    job: &Job,
    code: &Code,
    output: String,
) -> Result<Manifest> {
    let venv = cx.env_at(&job.site_packages).versions();
    let (mut verified, mut unverified) = (Vec::new(), Vec::new());
    let frozen = !backend.is_zip();
    let contents = if frozen {
        unverified.push(format!(
            "dependencies: a {} bundle records no versions; those listed are the venv's",
            backend.name()
        ));
        let mut contents = read_executable(cx, &job.out, &venv, &code.tops())?;
        // The project ships (its code frozen from the stage, its metadata copied),
        // though an editable install maps none of its modules to it.
        let project = normalize(&cx.project.config.project.name);
        if let Some(version) = venv.get(&project) {
            contents.distributions.insert(project, version.clone());
        }
        contents
    } else {
        let contents = archive::read(&job.out, &code.tops())?;
        check(&contents.distributions, &venv, &output)?;
        verified.push("dependencies".to_string());
        let needed = needed_from_venv(cx, job)?;
        complete(&contents.distributions, &needed, &venv, &output)?;
        verified.push("closure: venv".to_string());
        if let Some(app) = &cx.project.app {
            let lock = UvLock::read(&cx.project.root.join("uv.lock"))?;
            lock_closure::check(&lock, app, &contents.distributions, &output)?;
            verified.push(format!("closure: uv.lock ({})", app.name));
            let env = cx.env_at(&job.site_packages);
            let workspace = cx.project.workspace.as_deref();
            let plugins = workspace.map(|w| lock_closure::plugins_left_out(&env, w, app));
            if let Some(plugins) = plugins.filter(|p| !p.is_empty()) {
                cx.printer.warn(&format!(
                    "{output} leaves out workspace members that {} does not depend on but that register entry points: {}; the venv the tests run in has them, the bundle does not",
                    app.name,
                    plugins.join(", ")
                ));
                unverified.push(format!(
                    "plugins: members outside the closure register entry points: {}",
                    plugins.join(", ")
                ));
            }
        }
        contents
    };
    let name = &cx.project.config.project.name;
    let pins = cx.pins_at(&job.site_packages)?;
    let (pinned, unpinned) = against_pins(&contents.distributions, &pins, name, &output)?;
    if !pins.is_empty() {
        verified.push("pins".to_string());
    }
    code.check_bundle(
        cx,
        &contents.modules,
        frozen,
        &output,
        &mut verified,
        &mut unverified,
    )?;
    Ok(Manifest {
        format: FORMAT,
        bundle: output,
        kind: backend.name().to_string(),
        verified,
        unverified,
        environment: environment(cx),
        distributions: contents.distributions,
        pinned,
        unpinned,
    })
}

/// Splits what shipped (the project itself aside) into what the environment's source
/// pins and what it does not; fails, naming each, when a shipped version is not the
/// pinned one (the venv was not synced to its source: never ship that).
pub(crate) fn against_pins(
    shipped: &BTreeMap<String, String>,
    pins: &BTreeMap<String, Pin>,
    project: &str,
    output: &str,
) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    let project = normalize(project);
    let mut pinned = BTreeMap::new();
    let mut unpinned = Vec::new();
    let mut differences = Vec::new();
    for (name, version) in shipped.iter().filter(|(name, _)| **name != project) {
        match pins.get(name) {
            Some(pin) if pin.versions.contains(version) => {
                pinned.insert(name.clone(), pin.file.clone());
            }
            Some(pin) => differences.push(format!(
                "{name}: {version} in the venv and the bundle, {} pins {}",
                pin.file,
                pin.versions.join(" or ")
            )),
            None => unpinned.push(name.clone()),
        }
    }
    if differences.is_empty() {
        return Ok((pinned, unpinned));
    }
    Err(UserError::failure(format!(
        "{output} would ship other versions than the environment's source pins:\n  {}",
        differences.join("\n  ")
    ))
    .hint("the previous bundle was left in place; `pybuild develop` syncs the venv again")
    .into())
}

/// The distributions a PyInstaller executable holds modules of, at the venv's versions
/// (PyInstaller took them from the venv's site-packages): the executable records no
/// versions of its own. And its modules under the top-level names `tops`.
pub(crate) fn read_executable(
    cx: &Build,
    executable: &Path,
    venv: &BTreeMap<String, String>,
    tops: &[&str],
) -> Result<Contents> {
    let mut argv = args!["-c", LIST_FROZEN, executable].to_vec();
    argv.extend(tops.iter().map(Into::into));
    let out = cx
        .runner
        .capture(cx.project.venv_python(), &argv)
        .with_context(|| format!("cannot list the modules in {}", executable.display()))?;
    let mut contents = Contents {
        distributions: BTreeMap::new(),
        modules: BTreeSet::new(),
    };
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("D\t") {
            let name = normalize(name);
            if let Some(version) = venv.get(&name) {
                contents.distributions.insert(name, version.clone());
            }
        } else if let Some(module) = line.strip_prefix("M\t") {
            contents.modules.insert(module.to_string());
        }
    }
    Ok(contents)
}

/// What the app needs from the venv (`closure::needed`): what it asks for, as its bundler
/// is asked, and what that leads to there, the project itself and the workspace members
/// it depends on included (their metadata ships with their code); not what pex is told to
/// `--exclude`.
fn needed_from_venv(cx: &Build, job: &Job) -> Result<BTreeSet<String>> {
    let env = cx.env_at(&job.site_packages);
    let folders = path_deps::folder_installs(&env, cx.project);
    let asked = closure::asked(cx.project, &cx.sources(), &folders);
    let left_out = excluded(&cx.project.config.bundle.pex_args);
    closure::needed(cx, &env, &asked.requirements, &left_out)
}

/// The names pex's `--exclude` options leave out of the PEX (`--exclude pyspark`,
/// `--exclude=pyspark>=3`), with what only they need.
fn excluded(pex_args: &[String]) -> Vec<String> {
    process::option_values(pex_args, "--exclude")
        .into_iter()
        .filter_map(requirement::name)
        .collect()
}

/// Fails, naming each, unless every distribution the app `needed` from the venv ships: a
/// bundle that drops one would fail where the tests passed.
pub(crate) fn complete(
    shipped: &BTreeMap<String, String>,
    needed: &BTreeSet<String>,
    venv: &BTreeMap<String, String>,
    output: &str,
) -> Result<()> {
    let missing: Vec<String> = needed
        .iter()
        .filter(|name| !shipped.contains_key(*name))
        .map(|name| match venv.get(name) {
            Some(version) => format!("{name} {version}"),
            None => name.clone(),
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(UserError::failure(format!(
        "{output} would leave out what the app runs with in the venv:\n  {}",
        missing.join("\n  ")
    ))
    .hint("the previous bundle was left in place; `pybuild -v bundle` shows how it was built (a bundler's arguments such as `--no-deps` leave dependencies out)")
    .into())
}

/// Fails, naming each difference, unless every shipped distribution is in the venv at the
/// same version.
pub(crate) fn check(
    shipped: &BTreeMap<String, String>,
    venv: &BTreeMap<String, String>,
    output: &str,
) -> Result<()> {
    let differences: Vec<String> = shipped
        .iter()
        .filter_map(|(name, version)| match venv.get(name) {
            Some(installed) if installed == version => None,
            Some(installed) => Some(format!(
                "{name}: the bundle has {version}, the venv {installed}"
            )),
            None => Some(format!(
                "{name}: the bundle has {version}, the venv has none"
            )),
        })
        .collect();
    if differences.is_empty() {
        return Ok(());
    }
    Err(UserError::failure(format!(
        "{output} would ship other versions than the venv was tested with:\n  {}",
        differences.join("\n  ")
    ))
    .hint("the previous bundle was left in place; `pybuild -v bundle` shows how it was built")
    .into())
}

/// Where the manifest of `output` goes: beside it, `<stem>.manifest.json`.
pub(crate) fn path_for(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!("{stem}.manifest.json"))
}

/// The environment files (requirement files and what they include) with their hashes.
pub(crate) fn environment(cx: &Build) -> BTreeMap<String, String> {
    let sources = cx.sources();
    let mut files = sources.requirement_inputs();
    files.push("pyproject.toml".into());
    files
        .into_iter()
        .filter_map(|file| Some((file.clone(), sources.hash(&file)?)))
        .collect()
}

pub(crate) fn write(path: &Path, manifest: &Manifest) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(manifest).context("cannot serialise the manifest")?;
    text.push(b'\n');
    state::write_shared(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn what_the_app_needs_from_the_venv_must_ship() {
        let venv = map(&[("six", "1.16.0"), ("saylib", "0.1")]);
        let needed: BTreeSet<String> = ["six", "saylib"].map(String::from).into();
        complete(&venv, &needed, &venv, "dist/a.pyz").unwrap();
        // More than needed (what pex's resolve adds) is the other check's business.
        let needed_one: BTreeSet<String> = ["six".to_string()].into();
        complete(&venv, &needed_one, &venv, "dist/a.pyz").unwrap();
        let mut needed_gone = needed.clone();
        needed_gone.insert("gone".into());
        let err = complete(
            &map(&[("six", "1.16.0")]),
            &needed_gone,
            &venv,
            "dist/a.pyz",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "dist/a.pyz would leave out what the app runs with in the venv:\n  gone\n  saylib 0.1"
        );
    }

    #[test]
    fn pex_s_excludes_are_left_out() {
        let args = [
            "--exclude",
            "PySpark>=3",
            "--no-strip",
            "--exclude=Py4J",
            "--exclude",
        ];
        let args: Vec<String> = args.map(String::from).into();
        assert_eq!(excluded(&args), ["pyspark", "py4j"]);
        assert_eq!(excluded(&["--excluded".to_string()]), Vec::<String>::new());
    }

    #[test]
    fn a_version_the_venv_does_not_have_is_named() {
        let venv = map(&[("six", "1.15.0"), ("idna", "3.4")]);
        check(&map(&[("six", "1.15.0")]), &venv, "dist/app.pex").unwrap();
        let err = check(
            &map(&[("six", "1.17.0"), ("click", "8")]),
            &venv,
            "dist/app.pex",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("six: the bundle has 1.17.0, the venv 1.15.0"),
            "{err}"
        );
        assert!(
            err.contains("click: the bundle has 8, the venv has none"),
            "{err}"
        );
    }

    #[test]
    fn what_ships_is_split_by_the_pins_and_a_wrong_version_is_named() {
        let pins: BTreeMap<String, Pin> = [(
            "six".to_string(),
            Pin {
                versions: vec!["1.16.0".into()],
                file: "requirements.txt".into(),
            },
        )]
        .into();
        let shipped = map(&[("six", "1.16.0"), ("idna", "3.4"), ("app", "1.0")]);
        let (pinned, unpinned) = against_pins(&shipped, &pins, "App", "dist/app.pex").unwrap();
        assert_eq!(pinned, map(&[("six", "requirements.txt")]));
        assert_eq!(unpinned, ["idna"]);
        let err = against_pins(&map(&[("six", "1.15.0")]), &pins, "app", "dist/app.pex")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("six: 1.15.0 in the venv and the bundle, requirements.txt pins 1.16.0"),
            "{err}"
        );
    }

    /// A wheel installs `Foo__Bar==1.0` as `foo_bar-1.0.dist-info` (its name escaped):
    /// the pin and the shipped distribution are one name under PEP 503, runs of `-_.`
    /// collapsed, so a version changed by hand is caught and the pin is named.
    #[test]
    fn a_pin_spelled_with_a_run_of_separators_is_the_venvs_distribution() {
        let venv = tempfile::tempdir().unwrap();
        for dir in ["foo_bar-1.0.dist-info", "zope.interface-7.0.dist-info"] {
            std::fs::create_dir(venv.path().join(dir)).unwrap();
        }
        let shipped = crate::python::env::Env::read(venv.path()).versions();
        let mut pins = BTreeMap::new();
        crate::python::pins::add_requirement_pins(
            &mut pins,
            "Foo__Bar==1.0\nzope-interface==7.0\n",
            "requirements.txt",
        );
        let (pinned, unpinned) = against_pins(&shipped, &pins, "app", "dist/app.pex").unwrap();
        assert_eq!(
            pinned,
            map(&[
                ("foo-bar", "requirements.txt"),
                ("zope-interface", "requirements.txt")
            ])
        );
        assert!(unpinned.is_empty(), "{unpinned:?}");
        let mut drifted = BTreeMap::new();
        crate::python::pins::add_requirement_pins(&mut drifted, "foo..bar==2.0\n", "req.txt");
        let err = against_pins(&shipped, &drifted, "app", "dist/app.pex")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("foo-bar: 1.0 in the venv and the bundle, req.txt pins 2.0"),
            "{err}"
        );
    }

    #[test]
    fn the_manifest_sits_beside_the_bundle() {
        assert_eq!(
            path_for(Path::new("/p/dist/greet.pex")),
            Path::new("/p/dist/greet.manifest.json")
        );
        assert_eq!(
            path_for(Path::new("/p/dist/greet")),
            Path::new("/p/dist/greet.manifest.json")
        );
    }
}
