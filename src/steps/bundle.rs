//! The bundle step: one runnable file built from exactly the project's current inputs.
//!
//! setuptools reuses `build/lib*`, `build/bdist.*` and `*.egg-info/SOURCES.txt` in the
//! project tree for every wheel build, so a module deleted from the sources stays in a
//! bundle built in place, and an edit older than its copy in `build/` is ignored. So the
//! bundle is never built in the project tree: the fingerprinted input files
//! are copied into a fresh `.pybuild/tmp/<pid>/stage/` and the backend builds from there, into a
//! temp file that replaces the output with a rename. Neither the project's own `build/`
//! nor the editable install's `*.egg-info` is touched.
//!
//! Its fingerprint: every input file, the `[bundle]` section, the interpreter, the
//! versions of the distributions the kind's backend builds with, the entry point, the
//! venv it runs in, and the files of its path dependencies (`python::path_deps`: the
//! venv runs their folders' code as it is now).
//!
//! Each kind is a [`Backend`] in `bundle/<kind>.rs`, registered in [`backend`]: it names
//! the tool the tools step installs, its default output extension and the versions that
//! matter, and builds a [`Job`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context as _, Result};

use crate::base::config::Config;
use crate::base::paths::{self, Place};
use crate::engine::fingerprint::Fingerprint;
use crate::engine::step::{CacheKey, EarlyKey, FetchCheck, Prepared, Step};
use crate::python::build::Build;
use crate::python::closure;
use crate::python::env::Env;
use crate::python::interpreter::Interpreter;
use crate::python::path_deps::PathDepInputs;
use crate::python::{requirement, sources};

mod archive;
mod backend;
mod cache_keys;
mod kinds;
mod lock_closure;
mod manifest;
mod own_code;
mod pex;
mod placement;
mod target;

use backend::{Job, Target};
pub(crate) use kinds::backend;
pub(crate) use manifest::path_for as manifest_path;
use own_code::Code;
use placement::{output_path, pex_output_args, stage_files, work_dir};
pub(crate) use target::target;
mod pyinstaller;
mod shared_layers;
mod shiv;
mod site;
mod zipapp;

/// The distributions (normalised name → version) inside the zip bundle at `path`, read
/// back in process as the bundle step proves them.
pub(crate) fn shipped_distributions(path: &Path) -> Result<BTreeMap<String, String>> {
    Ok(archive::read(path, &[])?.distributions)
}

/// `[bundle] output` when configured.
pub(crate) fn configured_output(config: &Config) -> Option<String> {
    config.bundle.output.clone()
}

/// `[bundle] output` and its manifest, when configured: they must be left out of the
/// inputs (the default output is in `dist/`, which is left out whole).
pub(crate) fn configured_outputs(config: &Config) -> Vec<PathBuf> {
    configured_output(config)
        .map(|output| {
            let output = PathBuf::from(output);
            vec![manifest::path_for(&output), output]
        })
        .unwrap_or_default()
}

pub(crate) struct Bundle;

/// The names the app asks for by name: its `Requires-Dist` and its requirement files.
fn app_names(cx: &Build, env: &Env) -> Vec<String> {
    let sources = cx.sources();
    let mut names = sources.names_in(sources.requirement_files());
    let requires = env.requires(&cx.project.config.project.name);
    names.extend(requires.iter().filter_map(|r| requirement::name(r)));
    names
}

impl Bundle {
    /// The bundle file, relative to the root: configured, or the default for the kind (see
    /// [`target`]).
    pub(crate) fn output(cx: &mut Build) -> Result<String> {
        Ok(target(cx)?.output.clone())
    }
}

/// Removes the bundles this project built before at another path (another kind, another
/// `output`) and their manifests: left in `dist/`, a stale bundle would pass for the
/// current one. Only files the bundle step recorded as its own (`state::produced_outputs`)
/// that are, as `clean` requires, inside the project, reached through no link, and none
/// of its inputs.
fn remove_previous_bundles(cx: &mut Build, current: &[String]) -> Result<()> {
    let produced = crate::engine::state::produced_outputs(&cx.project.state_dir(), NAME);
    let stale: Vec<&String> = produced
        .iter()
        .filter(|old| !current.contains(old))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let inputs = cx.project_files()?;
    for old in stale {
        if inputs.contains(old) {
            continue;
        }
        let Place::Inside(path) = paths::resolve(&cx.project.root, old) else {
            continue;
        };
        let is_file = path.symlink_metadata().is_ok_and(|m| m.is_file());
        if is_file && fs::remove_file(&path).is_ok() {
            cx.printer
                .info(&format!("removed {old}, the bundle's previous output"));
        }
    }
    Ok(())
}

/// What the tools step installs by name: `[env] tools` but their requirement files
/// (`-r FILE`, see `Sources::tool_files`), then the bundle kind's bundler.
pub(crate) fn tool_packages(config: &Config) -> Result<Vec<String>> {
    let mut packages = sources::tool_packages(config);
    packages.extend(backend(config)?.tool().map(Into::into));
    Ok(packages)
}

/// The step's name, in its log, state and messages.
const NAME: &str = "bundle";

impl<'a> Step<Build<'a>> for Bundle {
    fn name(&self) -> &str {
        NAME
    }

    fn deps(&self) -> Vec<String> {
        vec!["venv".into()]
    }

    /// It writes only its outputs (nothing in the venv).
    fn keeps_derived(&self) -> bool {
        true
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        Ok(self.prepare(cx)?.fingerprint)
    }

    /// The fingerprint, and the job that builds from what it read: the target, the input
    /// files, the interpreter and the venv's site-packages.
    fn prepare<'s>(&'s self, cx: &mut Build<'a>) -> Result<Prepared<'s, Build<'a>>> {
        let config = &cx.project.config;
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("bundle", serde_json::to_string(&config.bundle)?);
        let python = cx.interpreter()?;
        fingerprint.part("interpreter", python.describe());
        let env = cx.env()?;
        let site_packages = env.site_packages().to_path_buf();
        for dist in backend(config)?.versioned() {
            let version = env.version(dist).unwrap_or("not installed");
            fingerprint.part(dist, version.to_string());
        }
        // What the venv holds: a version changed by hand, which no step's install
        // restores, ships only in a rebuilt bundle (and the manifest says so).
        // The development tools aside (a new pytest rebuilds nothing), unless the app asks
        // for them too.
        let app = app_names(cx, &env);
        let sources = cx.sources();
        let mut tools: Vec<String> = tool_packages(&cx.project.config)?
            .iter()
            .filter_map(|tool| requirement::name(tool))
            .collect();
        tools.extend(sources.names_in(&sources.tool_inputs()));
        tools.retain(|name| !app.contains(name));
        let mut venv: Vec<String> = env
            .dists()
            .iter()
            .filter(|dist| !tools.contains(&dist.key))
            .map(|dist| format!("{} {}", dist.key, dist.version))
            .collect();
        venv.sort();
        fingerprint.part("the venv's distributions", venv.join("\n"));
        let target = target(cx)?;
        fingerprint.part("entry", format!("{:?}", target.entry));
        let files = cx.project_files()?;
        cx.add_files(&mut fingerprint, &files)?;
        let mut deps = Vec::new();
        for dep in closure::shipped_path_deps(&env, cx.project, &cx.sources()) {
            let dep_files = dep.files(&cx.project.root)?;
            cx.add_files(&mut fingerprint, &dep_files)?;
            fingerprint.part(&format!("path dependency {}", dep.name), dep.rel.clone());
            deps.push(PathDepInputs::new(dep, dep_files, &fingerprint));
        }
        target.backend.fingerprint(cx, &mut fingerprint)?;
        let read = Read {
            target,
            files,
            python,
            site_packages,
            path_deps: deps.into(),
        };
        Ok(Prepared::new(fingerprint, move |cx| self.make(cx, read)))
    }

    fn cache_key(&self, cx: &mut Build, fingerprint: &Fingerprint) -> Result<Option<CacheKey>> {
        let output = Bundle::output(cx)?;
        cache_keys::late(cx, NAME, fingerprint, &output)
    }

    fn early_key(&self, cx: &mut Build) -> Result<Option<EarlyKey>> {
        cache_keys::early(cx, NAME)
    }

    fn fetch_check(&self, cx: &mut Build) -> Result<FetchCheck> {
        cache_keys::fetch_check(cx)
    }

    fn preflight(&self, cx: &mut Build) -> Result<()> {
        match configured_output(&cx.project.config) {
            Some(output) => output_path(cx, &output).map(drop),
            None => pex_output_args(&cx.project.config),
        }
    }

    fn summary(&self, cx: &Build) -> String {
        let config = &cx.project.config;
        match &config.bundle.output {
            Some(output) => format!(" → {output}"),
            None => cx
                .state
                .steps
                .get(NAME)
                .and_then(|r| {
                    let mut outputs = r.outputs.keys();
                    outputs.find(|o| !o.ends_with(".manifest.json"))
                })
                .map(|o| format!(" → {o}"))
                .unwrap_or_default(),
        }
    }

    fn run(&self, cx: &mut Build<'a>) -> Result<Vec<String>> {
        let job = self.prepare(cx)?.job;
        job(cx)
    }
}

/// What the bundle's fingerprint read that its job builds with.
struct Read {
    target: Rc<Target>,
    files: Rc<[String]>,
    python: Interpreter,
    site_packages: PathBuf,
    path_deps: Rc<[PathDepInputs]>,
}

impl Bundle {
    /// Builds the bundle from what its fingerprint read; returns its outputs.
    fn make(&self, cx: &mut Build, read: Read) -> Result<Vec<String>> {
        let Read {
            target: bundle,
            files,
            python,
            site_packages,
            path_deps,
        } = read;
        let output_key = bundle.output.clone();
        let (outputs, target) = output_path(cx, &output_key)?;
        let output = target.path().to_path_buf();
        // What the bundle must carry of the project's own code, first among the inputs:
        // a file left out is named with the rule that left it out.
        let code = Code::of(cx, &site_packages, &bundle);
        code.check_inputs(cx, &files, &output_key)?;
        let work = work_dir(&cx.project.state_dir())?;
        let stage = work.join("stage");
        stage_files(&cx.project.root, &files, &stage)?;
        let file_name = output
            .file_name()
            .context("the bundle output has no file name")?;
        let job = Job {
            stage,
            files,
            target: bundle.clone(),
            out: work.join(file_name),
            python,
            site_packages,
            work: work.clone(),
            path_deps,
        };
        let backend = bundle.backend;
        backend.build(cx, &job)?;
        cx.printer
            .phase("checking what the bundle ships against the venv");
        // Proven before it replaces the previous bundle.
        let manifest = manifest::prove(cx, backend, &job, &code, output_key)?;
        if let Some(parent) = output.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        outputs.place_file(&target, &job.out)?;
        manifest::write(&manifest::path_for(&output), &manifest)?;
        let current = outputs_at(&bundle.output);
        remove_previous_bundles(cx, &current)?;
        // A failed build's stage is left for inspection; a good one's is of no more use.
        fs::remove_dir_all(&work).with_context(|| format!("cannot remove {}", work.display()))?;
        Ok(current)
    }
}

/// The bundle at `output` and its manifest.
fn outputs_at(output: &str) -> Vec<String> {
    let manifest = manifest::path_for(Path::new(output));
    vec![output.to_string(), manifest.to_string_lossy().into_owned()]
}
