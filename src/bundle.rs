//! The bundle step: one runnable file built from exactly the project's current inputs.
//!
//! setuptools reuses `build/lib*`, `build/bdist.*` and `*.egg-info/SOURCES.txt` in the
//! project tree for every wheel build, so a module deleted from the sources stays in a
//! bundle built in place, and an edit older than its copy in `build/` is ignored (DESIGN
//! §5). So the bundle is never built in the project tree: the fingerprinted input files
//! are copied into a fresh `.pybuild/stage/` and the backend builds from there, into a
//! temp file that replaces the output with a rename. Neither the project's own `build/`
//! nor the editable install's `*.egg-info` is touched.
//!
//! Its fingerprint: every input file, the `[bundle]` section, the interpreter, the
//! bundler's version, the entry point, and the venv it runs in.

use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context as _, Result};

use crate::config::{BundleKind, Config};
use crate::error::UserError;
use crate::fingerprint::Fingerprint;
use crate::step::{Context, Step};
use crate::venv;

mod pex;

/// What the bundle starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    ConsoleScript(String),
    EntryPoint(String),
}

/// One build for a backend to do.
pub struct Job {
    /// A clean copy of the project's input files.
    pub stage: PathBuf,
    /// The input files, relative to the root (and to `stage`).
    pub files: Rc<[String]>,
    pub entry: Entry,
    /// Where to write the bundle; the step moves it to the output path afterwards.
    pub out: PathBuf,
    /// This build's own scratch folder (it holds `stage` and `out`).
    pub work: PathBuf,
    /// The venv's site-packages, holding the tools and the project's editable install.
    pub site_packages: PathBuf,
    /// The interpreter, as fingerprints show it.
    pub interpreter: String,
}

/// A kind of bundle: builds a [`Job`] with tools installed in the venv.
pub trait Backend {
    /// Adds what the backend's result depends on beyond the bundle step's own inputs.
    fn fingerprint(&self, _cx: &mut Context, _fingerprint: &mut Fingerprint) -> Result<()> {
        Ok(())
    }

    fn build(&self, cx: &Context, job: &Job) -> Result<()>;
}

fn backend(kind: BundleKind) -> Box<dyn Backend> {
    match kind {
        BundleKind::Pex => Box::new(pex::Pex),
    }
}

/// `[bundle] output` when configured: it must be left out of the inputs.
pub fn configured_output(config: &Config) -> Option<String> {
    config.bundle.output.clone()
}

pub struct Bundle;

impl Bundle {
    /// The entry point: configured, or the console script the editable install declares.
    fn entry(cx: &mut Context) -> Result<Entry> {
        let bundle = &cx.project.config.bundle;
        if let Some(script) = &bundle.console_script {
            return Ok(Entry::ConsoleScript(script.clone()));
        }
        if let Some(entry) = &bundle.entry_point {
            return Ok(Entry::EntryPoint(entry.clone()));
        }
        let name = cx.project.config.project.name.clone();
        let scripts = venv::dist_info(&cx.site_packages()?, &name)
            .map(|d| venv::console_scripts(&d))
            .unwrap_or_default();
        let chosen = match scripts.as_slice() {
            [(only, _)] => Some(only.clone()),
            _ => scripts
                .iter()
                .find(|(s, _)| *s == name)
                .map(|(s, _)| s.clone()),
        };
        chosen.map(Entry::ConsoleScript).ok_or_else(|| {
            let found = if scripts.is_empty() {
                format!("{name} declares no console script")
            } else {
                let names: Vec<_> = scripts.iter().map(|(s, _)| s.as_str()).collect();
                format!(
                    "{name} declares several console scripts ({})",
                    names.join(", ")
                )
            };
            UserError::usage(format!("cannot tell what the bundle should run: {found}"))
                .hint("set `[bundle] console-script` or `[bundle] entry-point` in project.toml")
                .into()
        })
    }

    fn output(cx: &mut Context) -> Result<String> {
        let config = &cx.project.config;
        if let Some(output) = configured_output(config) {
            return Ok(output);
        }
        let stem = match Bundle::entry(cx)? {
            Entry::ConsoleScript(script) => script,
            Entry::EntryPoint(_) => cx.project.config.project.name.clone(),
        };
        Ok(format!(
            "dist/{stem}.{}",
            cx.project.config.bundle.kind.extension()
        ))
    }
}

impl Step for Bundle {
    fn name(&self) -> &'static str {
        "bundle"
    }

    fn fingerprint(&self, cx: &mut Context) -> Result<Fingerprint> {
        let config = &cx.project.config;
        let tool = config.bundle.kind.tool();
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("venv", cx.run_id("venv"));
        fingerprint.part("bundle", serde_json::to_string(&config.bundle)?);
        fingerprint.part("interpreter", cx.interpreter()?.describe());
        let version = venv::installed_version(&cx.site_packages()?, tool);
        fingerprint.part(tool, version.unwrap_or_else(|| "not installed".into()));
        fingerprint.part("entry", format!("{:?}", Bundle::entry(cx)?));
        let files = cx.project_files()?;
        cx.add_files(&mut fingerprint, &files)?;
        backend(config.bundle.kind).fingerprint(cx, &mut fingerprint)?;
        Ok(fingerprint)
    }

    fn run(&self, cx: &mut Context) -> Result<()> {
        let work = work_dir(&cx.project.state_dir())?;
        let stage = work.join("stage");
        let files = cx.project_files()?;
        stage_files(&cx.project.root, &files, &stage)?;
        let output = cx.project.root.join(Bundle::output(cx)?);
        let file_name = output
            .file_name()
            .context("the bundle output has no file name")?;
        let job = Job {
            stage,
            files,
            entry: Bundle::entry(cx)?,
            out: work.join(file_name),
            site_packages: cx.site_packages()?,
            interpreter: cx.interpreter()?.describe(),
            work: work.clone(),
        };
        backend(cx.project.config.bundle.kind).build(cx, &job)?;
        if let Some(parent) = output.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        fs::rename(&job.out, &output).with_context(|| {
            format!("cannot move {} to {}", job.out.display(), output.display())
        })?;
        // A failed build's stage is left for inspection; a good one's is of no more use.
        fs::remove_dir_all(&work).with_context(|| format!("cannot remove {}", work.display()))
    }

    fn outputs(&self, cx: &mut Context) -> Result<Vec<String>> {
        Ok(vec![Bundle::output(cx)?])
    }

    fn summary(&self, cx: &Context) -> String {
        let config = &cx.project.config;
        match &config.bundle.output {
            Some(output) => format!(" → {output}"),
            None => cx
                .state
                .steps
                .get(self.name())
                .and_then(|r| r.outputs.keys().next())
                .map(|o| format!(" → {o}"))
                .unwrap_or_default(),
        }
    }
}

/// A fresh `.pybuild/tmp/<pid>/` for this build. What earlier builds left there is removed
/// first: we hold the project lock, so they are dead. The name is this process's own, so a
/// tool orphaned by a killed build can never write into this build's stage or output.
fn work_dir(state_dir: &Path) -> Result<PathBuf> {
    let temp = state_dir.join("tmp");
    if temp.exists() {
        fs::remove_dir_all(&temp).with_context(|| format!("cannot empty {}", temp.display()))?;
    }
    let work = temp.join(std::process::id().to_string());
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    Ok(work)
}

/// Replaces `stage` with a copy of `files` (relative to `root`).
fn stage_files(root: &Path, files: &[String], stage: &Path) -> Result<()> {
    if stage.exists() {
        fs::remove_dir_all(stage).with_context(|| format!("cannot empty {}", stage.display()))?;
    }
    for file in files {
        let target = stage.join(file);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        fs::copy(root.join(file), &target)
            .with_context(|| format!("cannot copy {file} to {}", stage.display()))?;
    }
    Ok(())
}
