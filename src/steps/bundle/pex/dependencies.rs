//! The dependencies PEX of a layered or wheel build: the project's runtime closure taken
//! from the venv, built once per digest of what it is made of, kept in
//! the project's store (`engine::store`, `.pybuild/layers/`) and shared with the user's
//! other checkouts (`shared_layers`).

use std::ffi::OsString;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::audit::Here;
use super::invocation::{fast_start, pex_environment, run_pex};
use crate::args;
use crate::engine::statcache::hash_bytes;
use crate::engine::store::{Lookup, Store};
use crate::python::build::Build;
use crate::python::env::Env;
use crate::python::installed::Dist;
use crate::python::{own_requirement, path_deps};
use crate::steps::bundle::backend::Job;
use crate::steps::bundle::shared_layers;

/// The dependencies PEX: the app's runtime closure taken from the venv itself (`pex
/// --venv-repository`), so it holds exactly the versions the venv was tested with, and no
/// index or wheelhouse is asked. Its top-level requirements are the editable install's
/// `Requires-Dist` (pex evaluates their markers) and the `[env] requirements` files (the
/// app's runtime environment, pins, hashes and constraints included). Reused when one for
/// the same digest exists, else built into a temp file renamed into place, so a killed
/// build never leaves a truncated layer behind a valid name.
pub(super) fn dependencies_pex(cx: &Build, job: &Job, requires: &[String]) -> Result<PathBuf> {
    // Editable or not: pex takes what a folder installed from the venv, by name.
    let env = cx.env_at(&job.site_packages);
    let deps = path_deps::folder_installs(&env, cx.project);
    let (files, extras) = own_requirement::for_bundler(
        &cx.sources(),
        cx.project.requirement_files(),
        &deps,
        &job.work.join("requirements"),
    )?;
    // The requirements of the project's extras a requirement file asks for are the app's.
    let mut requires = requires.to_vec();
    if !extras.is_empty() {
        let metadata = env.find(&cx.project.config.project.name);
        let metadata = metadata.and_then(Dist::metadata).unwrap_or_default();
        requires.extend(own_requirement::extras_requires(metadata, &extras));
    }
    let requires = &requires;
    let digest = deps_digest(cx, &env, job, requires)?;
    let store = Store::at(cx.project.store_dir());
    let name = format!("deps-{digest}.pex");
    match store.get(&name) {
        Lookup::Intact(path) => {
            cx.printer.detail(&format!(
                "dependencies PEX {} reused",
                cx.project.key(&path)
            ));
            return Ok(path);
        }
        Lookup::Damaged => cx.printer.warn(&format!(
            "{} is damaged (it no longer matches what was written); building it again",
            cx.project.key(&store.path(&name))
        )),
        Lookup::Missing => {}
    }
    // What a layer fetched from the remote cache is checked against: it holds no code of
    // the project, so the input files are not needed.
    let here = Here::of(cx, Vec::new(), Some(job.site_packages.clone()));
    // One that holds a path dependency's code is not shared, here or through the remote
    // cache: no venv's `RECORD` vouches for that code (an editable install lists none).
    let shared = job.path_deps.is_empty();
    let path = if shared && shared_layers::take(cx, &store, &name, &here)? {
        let path = store.path(&name);
        cx.printer.detail(&format!(
            "dependencies PEX {} taken from another checkout's (same digest)",
            cx.project.key(&path)
        ));
        path
    } else {
        let partial = job.work.join(&name);
        cx.printer
            .phase("building the dependencies PEX from the venv");
        // With the options of the final PEX: then it already holds all the final PEX
        // holds but the code, and `layered_pex` can add that without starting pex.
        let mut argv = venv_closure_args(cx, &files, requires, &partial);
        argv.extend(fast_start(cx));
        run_pex(cx, argv).context("cannot build the dependencies PEX from the venv")?;
        let path = store.put(&name, &partial)?;
        if shared && let Err(err) = shared_layers::offer(cx, &store, &name) {
            cx.printer.detail(&format!(
                "the dependencies PEX is not shared with other checkouts: {err:#}"
            ));
        }
        path
    };
    // Only the current layer is of use; older ones would pile up with each requirement change.
    store.keep_only("deps-", &[&name]);
    Ok(path)
}

/// pex's arguments for the runtime closure of `requires` and the requirement `files`
/// (absolute: those naming the project are copies without it, see `own_requirement`:
/// pex refuses a local directory from a venv, and the code comes from the stage), taken
/// from the venv, into `out`.
fn venv_closure_args(
    cx: &Build,
    files: &[PathBuf],
    requires: &[String],
    out: &Path,
) -> Vec<OsString> {
    let mut argv = args!["--venv-repository", cx.project.venv()].to_vec();
    for file in files {
        argv.extend(args!["-r", file]);
    }
    argv.extend(requires.iter().map(Into::into));
    argv.extend(args!["-o", out]);
    argv
}

/// What the dependencies PEX is made of: the requirements, the requirement files, every
/// distribution installed in the venv (name and version: a pin changed or a package
/// installed by hand gives another digest), the files of the path dependencies (pex
/// builds them from their folders as they are) and what else decides how pex builds.
fn deps_digest(cx: &Build, env: &Env, job: &Job, requires: &[String]) -> Result<String> {
    let mut text = format!("deps-layer-v4\n{}\n", requires.join("\n"));
    let sources = cx.sources();
    for file in sources.requirement_inputs() {
        let hash = sources
            .hash(&file)
            .with_context(|| format!("cannot read {}", cx.project.root.join(&file).display()))?;
        text.push_str(&format!("{file} {hash}\n"));
    }
    // Each distribution's files too (its `RECORD`, which lists them with their hashes):
    // the same version built from other sources (a local path, a fork) is another layer.
    // Not the project's own, nor a workspace member's (an editable install names the
    // checkout's path), nor the scripts outside site-packages (their `#!` names the venv):
    // so two checkouts with the same environment share one layer (see `shared_layers`).
    for dist in env
        .others(&cx.project.config.project.name)
        .filter(|dist| !cx.project.is_member(&dist.name))
    {
        let files = dist.record_digest();
        text.push_str(&format!("{} {} {files}\n", dist.name, dist.version));
    }
    for inputs in job.path_deps.iter() {
        let dep = &inputs.dep;
        text.push_str(&format!("{} at {}: {}\n", dep.name, dep.rel, inputs.digest));
    }
    text.push_str(&pex_environment(cx, job));
    Ok(hash_bytes(text.as_bytes())[..16].to_string())
}
