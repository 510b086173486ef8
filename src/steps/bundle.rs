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
//! versions of the distributions the kind's backend builds with, the entry point, and the
//! venv it runs in.
//!
//! Each kind is a [`Backend`] in `bundle/<kind>.rs`, registered in [`backend`]: it names
//! the tool the tools step installs, its default output extension and the versions that
//! matter, and builds a [`Job`].

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::base::config::Config;
use crate::base::error::UserError;
use crate::base::paths::{self, Place};
use crate::engine::fingerprint::Fingerprint;
use crate::engine::step::{CacheKey, EarlyKey, FetchCheck, Step};
use crate::python::build::Build;
use crate::python::env::Env;
use crate::python::installed::Dist;
use crate::python::{requirement, sources};

mod archive;
mod backend;
mod cache_keys;
mod kinds;
mod manifest;
mod own_code;
mod pex;
mod placement;

use backend::{Entry, Job};
pub(crate) use kinds::backend;
use own_code::Code;
use placement::{output_path, pex_output_args, stage_files, work_dir};
mod pyinstaller;
mod shared_layers;
mod shiv;
mod site;
mod zipapp;

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
    /// The entry point: configured, or the console script the editable install declares.
    fn entry(cx: &mut Build) -> Result<Entry> {
        let bundle = &cx.project.config.bundle;
        if let Some(script) = &bundle.console_script {
            return Ok(Entry::ConsoleScript(script.clone()));
        }
        if let Some(entry) = &bundle.entry_point {
            return Ok(Entry::EntryPoint(entry.clone()));
        }
        let name = cx.project.config.project.name.clone();
        let env = cx.env()?;
        let dist = env.find(&name);
        let scripts = dist.map(Dist::console_scripts).unwrap_or_default();
        let chosen = match scripts {
            [(only, _)] => Some(only.clone()),
            _ => scripts
                .iter()
                .find(|(s, _)| *s == name)
                .map(|(s, _)| s.clone()),
        };
        chosen
            .map(Entry::ConsoleScript)
            .ok_or_else(|| no_entry(&name, scripts, dist).into())
    }

    /// The bundle file, relative to the root: configured, or the default for the kind.
    pub(crate) fn output(cx: &mut Build) -> Result<String> {
        let config = &cx.project.config;
        if let Some(output) = configured_output(config) {
            return Ok(output);
        }
        let stem = match Bundle::entry(cx)? {
            Entry::ConsoleScript(script) => script,
            Entry::EntryPoint(_) => cx.project.config.project.name.clone(),
        };
        Ok(match backend(&cx.project.config)?.extension() {
            Some(extension) => format!("dist/{stem}.{extension}"),
            None => format!("dist/{stem}"),
        })
    }
}

/// The configuration problem of a bundle that cannot tell what to run: the project
/// declares no console script, or several and none named like it.
fn no_entry(name: &str, scripts: &[(String, String)], dist: Option<&Dist>) -> UserError {
    if !scripts.is_empty() {
        let names: Vec<String> = scripts.iter().map(|(s, _)| format!("`{s}`")).collect();
        return UserError::usage(format!(
            "project.toml does not say which console script the bundle runs: {name} declares \
             several ({}), none named `{name}`",
            names.join(", ")
        ))
        .hint(format!(
            "set `console-script = \"{}\"` (or another of them) in `[bundle]`",
            scripts[0].0
        ));
    }
    let mut err = UserError::usage(format!(
        "project.toml does not say what the bundle runs, and {name} declares no console script"
    ))
    .hint("set `entry-point = \"package.module:function\"` in `[bundle]`: the function the bundle starts");
    let plain = dist.map(Dist::bin_scripts).unwrap_or_default();
    if !plain.is_empty() {
        err = err.hint(format!(
            "{} declares only plain scripts ({}: `scripts=` in setup.py or setup.cfg, \
             `script-files` in pyproject.toml), which a bundle cannot start: \
             name the function they call as `entry-point`",
            name,
            plain.join(", ")
        ));
    }
    err
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

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        let config = &cx.project.config;
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("bundle", serde_json::to_string(&config.bundle)?);
        fingerprint.part("interpreter", cx.interpreter()?.describe());
        let env = cx.env()?;
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
        fingerprint.part("entry", format!("{:?}", Bundle::entry(cx)?));
        let files = cx.project_files()?;
        cx.add_files(&mut fingerprint, &files)?;
        backend(config)?.fingerprint(cx, &mut fingerprint)?;
        Ok(fingerprint)
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

    fn run(&self, cx: &mut Build) -> Result<Vec<String>> {
        self.make(cx)?;
        self.outputs(cx)
    }
}

impl Bundle {
    fn make(&self, cx: &mut Build) -> Result<()> {
        let output_key = Bundle::output(cx)?;
        let (outputs, target) = output_path(cx, &output_key)?;
        let output = target.path().to_path_buf();
        let files = cx.project_files()?;
        let entry = Bundle::entry(cx)?;
        let site_packages = cx.site_packages()?;
        // What the bundle must carry of the project's own code, first among the inputs:
        // a file left out is named with the rule that left it out.
        let code = Code::of(cx, &site_packages, &entry);
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
            entry,
            out: work.join(file_name),
            python: cx.interpreter()?,
            site_packages,
            work: work.clone(),
        };
        let backend = backend(&cx.project.config)?;
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
        let current = self.outputs(cx)?;
        remove_previous_bundles(cx, &current)?;
        // A failed build's stage is left for inspection; a good one's is of no more use.
        fs::remove_dir_all(&work).with_context(|| format!("cannot remove {}", work.display()))
    }

    fn outputs(&self, cx: &mut Build) -> Result<Vec<String>> {
        let output = Bundle::output(cx)?;
        let manifest = manifest::path_for(Path::new(&output));
        Ok(vec![output, manifest.to_string_lossy().into_owned()])
    }
}
