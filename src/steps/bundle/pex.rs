//! PEX bundles, built by the venv's `pex` from the staged project, in one of two ways
//! (`[bundle] strategy`, decided by `strategy`):
//!
//! - **layered** (the default whenever the project allows it): the project's dependencies
//!   go into a *dependencies PEX* taken from the venv itself (`--venv-repository`: the
//!   runtime closure of the editable install's `Requires-Dist` and of the `[env]
//!   requirements` files, at exactly the venv's versions, with no resolve and no index),
//!   built once per digest of (those requirements, the venv's installed versions,
//!   interpreter, pex version, `pex-args`) and kept in `.pybuild/layers/`
//!   (`dependencies`); each build adds the project's own code on top (`code_layer`), as
//!   `--requirements-pex deps.pex -D layer -e module:function` would (written by
//!   `layered_pex` without starting pex when it can: the dependencies PEX is built with
//!   the final PEX's options). An edit costs no pex run (one that resolves and builds
//!   nothing where `layered_pex` does not apply; `bash benches/edit.sh` measures it
//!   against `pex .`).
//! - **wheel**: `pex STAGE -c SCRIPT`, which builds the project's wheel every time. `auto`
//!   falls back to it, saying why with `-v`, for what a layer cannot reproduce: compiled
//!   sources or custom build steps in the project itself, a build backend pybuild does not
//!   know, an editable install whose layout cannot be read.
//!
//! The wheel build resolves only from the wheelhouse (`wheelhouse_resolve`), filled from
//! the index when the requirements change, so later builds need no network. Both run pex
//! with one pinned `PEX_ROOT` (`invocation`). pex output is byte-identical for identical
//! inputs, and the layer holds no absolute path, so two checkouts build the same bytes.

use std::ffi::OsString;
use std::fs;

use anyhow::{Context as _, Result};

use super::backend::{Backend, Entry, Job};
use crate::args;
use crate::engine::fingerprint::Fingerprint;
use crate::python::build::Build;
use crate::python::editable::Editable;
use crate::python::metadata_sources::versioned_by_vcs;
use crate::python::requirement::Requirement;
use crate::python::wheelhouse;

pub(super) mod audit;
mod boot;
mod code_layer;
mod dependencies;
mod invocation;
mod layered_pex;
mod pex_info;
mod strategy;
mod wheelhouse_resolve;
mod zip;

use code_layer::{DIST_INFO_FILES, count_files, stage_layer};
use dependencies::dependencies_pex;
use invocation::{fast_start, run_pex};
use strategy::{Lib, Plan, build_requires};
use wheelhouse_resolve::{pex_from_wheelhouse, stock_build_requirements};

pub(crate) struct Pex;

impl Backend for Pex {
    fn name(&self) -> &'static str {
        "pex"
    }

    fn tool(&self) -> Option<&'static str> {
        Some("pex")
    }

    fn extension(&self) -> Option<&'static str> {
        Some("pex")
    }

    fn fingerprint(&self, cx: &mut Build, fingerprint: &mut Fingerprint) -> Result<()> {
        let env = cx.env()?;
        let mut names = vec![cx.project.config.project.name.clone()];
        if let Some(app) = &cx.project.app {
            names.extend(app.libs.iter().map(|(lib, _)| lib.clone()));
        }
        // The layer's metadata comes from the editable installs, which pybuild does not stage.
        for name in names {
            if let Some(dist_info) = env.find(&name).map(|dist| &dist.dist_info) {
                let keys: Vec<String> = DIST_INFO_FILES
                    .iter()
                    .map(|f| dist_info.join(f).to_string_lossy().into_owned())
                    .collect();
                cx.add_files(fingerprint, &keys)?;
            }
        }
        // A version hook's file (git-ignored, so not an input) goes into the layer.
        let generated = strategy::hook_outputs_in(&cx.project.root).unwrap_or_default();
        let generated: Vec<String> = generated
            .into_iter()
            .filter(|file| cx.project.root.join(file).is_file())
            .collect();
        cx.add_files(fingerprint, &generated)?;
        Ok(())
    }

    fn build(&self, cx: &Build, job: &Job) -> Result<()> {
        let plan = strategy::plan(cx, &job.site_packages, &job.target, &job.files, &job.stage)?;
        cx.printer
            .detail(&format!("pex strategy: {}", plan.describe()));
        let result = match plan {
            Plan::Layered {
                editable,
                packages,
                libs,
                entry_point,
                generated,
            } => {
                let code = Code {
                    editable: &editable,
                    packages: &packages,
                    libs: &libs,
                };
                build_layered(cx, job, &code, &entry_point, &generated)
            }
            Plan::Wheel { requires, .. } => build_wheel(cx, job, requires),
        };
        result.map_err(|err| wheelhouse::offline_failure(err, cx))
    }
}

/// What the layer holds: the project's code (an app's, with the workspace members it
/// depends on).
struct Code<'p> {
    editable: &'p Editable,
    packages: &'p [(String, String)],
    libs: &'p [Lib],
}

impl Code<'_> {
    /// The requirements of the code the layer holds, for the dependencies PEX: its
    /// members' `Requires-Dist`, less those naming a member (in the layer already).
    fn requires(&self, cx: &Build) -> Vec<String> {
        let mut requires = self.editable.requires.clone();
        for lib in self.libs {
            requires.extend(lib.editable.requires.iter().cloned());
        }
        match &cx.project.app {
            Some(app) => requires
                .into_iter()
                .filter(|r| Requirement::parse(r).is_none_or(|r| !app.has_member(r.name())))
                .fold(Vec::new(), |mut kept, r| {
                    if !kept.contains(&r) {
                        kept.push(r);
                    }
                    kept
                }),
            None => requires,
        }
    }
}

/// The project's code, staged as a layer, on the dependencies PEX: written by `layered_pex`
/// when it applies, else by pex.
fn build_layered(
    cx: &Build,
    job: &Job,
    code: &Code,
    entry_point: &str,
    generated: &[String],
) -> Result<()> {
    let layer = job.work.join("layer");
    // A version hook's file is git-ignored, so not staged: the editable install's copy,
    // written with the venv's version, is the one the wheel would hold.
    let mut files = job.files.to_vec();
    for file in generated.iter().filter(|file| !job.files.contains(file)) {
        let (from, to) = (cx.project.root.join(file), job.stage.join(file));
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        fs::copy(&from, &to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        files.push(file.clone());
    }
    stage_layer(&job.stage, &files, code.packages, code.editable, &layer)?;
    for lib in code.libs {
        stage_layer(&job.stage, &files, &lib.packages, &lib.editable, &layer)?;
    }
    let files = count_files(&layer);
    let mut argv = Vec::new();
    let mut deps = None;
    let requires = code.requires(cx);
    if !requires.is_empty() || !cx.project.requirement_files().is_empty() {
        let path = dependencies_pex(cx, job, &requires)?;
        argv.extend(args!["--requirements-pex", &path]);
        deps = Some(path);
    }
    cx.printer
        .phase(&format!("layering {files} files on the dependencies PEX"));
    let written = match deps {
        Some(deps) if layered_pex::applies(&cx.project.config.bundle.pex_args) => {
            layered_pex::write(&deps, &layer, entry_point, &job.out)
                .inspect_err(|why| {
                    cx.printer
                        .detail(&format!("pex writes the layer, not pybuild: {why:#}"))
                })
                .is_ok()
        }
        _ => false,
    };
    if !written {
        argv.extend(args!["-D", &layer, "-e", entry_point, "-o", &job.out]);
        argv.extend(fast_start(cx));
        run_pex(cx, argv)?;
    }
    if let Err(err) = stock_build_requirements(cx, job) {
        cx.printer.warn(&format!(
            "the bundle is built, but its build requirements could not be put in the wheelhouse for offline builds: {err:#}"
        ));
    }
    Ok(())
}

/// The project's wheel, built by pex from the stage (its build requirements from the
/// wheelhouse), on the dependencies PEX taken from the venv; `--intransitive`, so pex
/// resolves nothing else. Without an editable install to read the requirements from, pex
/// resolves them from the wheelhouse, as `pex .` would.
fn build_wheel(cx: &Build, job: &Job, requires: Option<Vec<String>>) -> Result<()> {
    let mut argv = Vec::new();
    let wanted: Vec<Vec<String>> = match &cx.project.app {
        Some(app) => app
            .dirs()
            .map(|dir| build_requires(&job.stage.join(dir)))
            .collect(),
        None => vec![build_requires(&job.stage)],
    };
    let has_editable = requires.is_some();
    match requires {
        Some(requires) => {
            if !requires.is_empty() || !cx.project.requirement_files().is_empty() {
                let deps = dependencies_pex(cx, job, &requires)?;
                argv.extend(args!["--requirements-pex", deps]);
            }
            argv.push("--intransitive".into());
        }
        None => {
            cx.printer.warn(
                "no editable install to read the requirements from: pex resolves them from the wheelhouse, not the venv",
            );
        }
    }
    // An app of a workspace: its folder and those of the members it depends on, each a
    // wheel pex builds.
    match &cx.project.app {
        Some(app) => argv.extend(app.dirs().map(|dir| job.stage.join(dir).into())),
        None => argv.push(job.stage.clone().into()),
    }
    match &job.target.entry {
        Entry::ConsoleScript(script) => argv.extend(args!["-c", script]),
        Entry::EntryPoint(entry) => argv.extend(args!["-e", entry]),
    }
    argv.extend(args!["-o", &job.out]);
    argv.extend(fast_start(cx));
    cx.printer.phase("building the project's wheel and the PEX");
    let env = match has_editable {
        true => pretend_version(cx, job),
        false => Vec::new(),
    };
    pex_from_wheelhouse(cx, job, &wanted, argv, &env)
}

/// The stage has no `.git`: a project versioned from version control (setuptools-scm,
/// hatch-vcs) is told its version the way those tools allow, as the editable install
/// found it in the checkout. `--intransitive` makes the project the one distribution pex
/// builds from source, so the unnamed variable (hatch-vcs passes setuptools-scm no
/// name) reaches no other. What the user set already is left as it is.
fn pretend_version(cx: &Build, job: &Job) -> Vec<(String, OsString)> {
    let versioned = std::fs::read_to_string(job.stage.join("pyproject.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|table| versioned_by_vcs(&table));
    let name = &cx.project.config.project.name;
    let env = cx.env_at(&job.site_packages);
    let Some(version) = env.version(name) else {
        return Vec::new();
    };
    if !versioned {
        return Vec::new();
    }
    let suffix: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_uppercase(),
            false => '_',
        })
        .collect();
    [
        format!("SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{suffix}"),
        "SETUPTOOLS_SCM_PRETEND_VERSION".to_string(),
    ]
    .into_iter()
    .filter(|key| std::env::var_os(key).is_none())
    .map(|key| (key, OsString::from(&version)))
    .collect()
}
