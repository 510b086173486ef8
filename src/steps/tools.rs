//! The tools step: the configured development tools, the bundler (the tool of
//! `[bundle] kind`'s backend, if it needs one), and the requirement files, installed into
//! the venv, in two installs (see [`Tools::run`]). Runs again when any of them, the installer, or the venv itself changed.

use std::ffi::OsString;

use anyhow::Result;

use crate::args;
use crate::base::error::UserError;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::step::Step;
use crate::python::build::Build;
use crate::python::installer::Installer;
use crate::python::pins;
use crate::python::requirement;
use crate::steps::bundle;

pub(crate) struct Tools;

impl Tools {
    /// Whether a requirement file (or one it includes) pins with `--hash`.
    fn hashed(&self, cx: &Build) -> bool {
        let sources = cx.sources();
        let files = sources.requirement_inputs();
        files
            .iter()
            .any(|file| sources.text(file).contains("--hash"))
    }

    /// The distributions the step installs by name: the tools, the bundler and what the
    /// requirement files ask for unconditionally.
    fn wanted(cx: &Build) -> Result<Vec<String>> {
        let mut names: Vec<String> = bundle::tool_packages(&cx.project.config)?
            .iter()
            .filter_map(|p| requirement::name(p))
            .collect();
        let sources = cx.sources();
        names.extend(sources.names_in(sources.requirement_files()));
        names.extend(sources.names_in(&sources.tool_files()));
        Ok(names)
    }
}

/// The step's name, in its log, state and messages.
const NAME: &str = "tools";

impl<'a> Step<Build<'a>> for Tools {
    fn name(&self) -> &str {
        NAME
    }

    fn deps(&self) -> Vec<String> {
        vec!["venv".into()]
    }

    /// A tool pinned at another version than the environment's source pins could never
    /// be installed beside it: each sync would undo the other. Refused before anything
    /// runs.
    fn preflight(&self, cx: &mut Build) -> Result<()> {
        let tools = cx.project.config.env.tools.clone();
        let pinned: Vec<(String, String)> = tools
            .iter()
            .filter_map(|tool| requirement::exact_pin(tool))
            .collect();
        if pinned.is_empty() {
            return Ok(());
        }
        let source = cx.pins()?;
        for (name, version) in pinned {
            if let Some(pin) = source.get(&name)
                && !pin.versions.contains(&version)
            {
                return Err(UserError::usage(format!(
                    "`[env] tools` in project.toml pins {name}=={version}, but {} pins {name} {}: the venv cannot hold both",
                    pin.file,
                    pin.versions.join(" or ")
                ))
                .hint(format!(
                    "list `{name}` in tools without a version (the environment's is installed), or change {}",
                    pin.file
                ))
                .into());
            }
        }
        Ok(())
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.part(
            "tools",
            bundle::tool_packages(&cx.project.config)?.join(" "),
        );
        fingerprint.part(
            "installer",
            Installer::describe(cx.project.config.env.installer),
        );
        let sources = cx.sources();
        let mut requirements = sources.requirement_inputs();
        requirements.extend(sources.tool_inputs());
        cx.add_files(&mut fingerprint, &requirements)?;
        Ok(fingerprint)
    }

    /// Without an environment lock, this step installs the requirement files: a
    /// distribution at another version than they pin runs it again, and their pins win
    /// again.
    fn damage(&self, cx: &mut Build) -> Result<Option<String>> {
        if cx.project.env_lock().is_some() {
            return Ok(None);
        }
        let pins = cx.pins()?;
        let env = cx.env()?;
        let dists = env.others(&cx.project.config.project.name);
        Ok(pins::drift(&pins, dists, |pin| {
            pin.file != pins::REQUIRES_DIST
        }))
    }

    fn run(&self, cx: &mut Build) -> Result<Vec<String>> {
        self.make(cx)?;
        self.outputs(cx)
    }
}

impl Tools {
    /// The tools and the requirement files in one install; in two when a requirement file
    /// is hash-pinned: one call would put the unpinned tools under its `--require-hashes`
    /// mode, which refuses them (the requirement files then come last, so their pins win
    /// over what a tool pulled in).
    fn make(&self, cx: &mut Build) -> Result<()> {
        let installer = Installer::resolve(cx)?;
        let project = cx.project.config.project.name.clone();
        installer.repair(cx, &project)?;
        if let Some(lock) = cx.project.env_lock()
            && !cx.project.config.env.requirements.is_empty()
        {
            cx.printer.warn(&format!(
                "`[env] requirements` are not installed: {} is the environment's source",
                lock.file_name()
            ));
        }
        let packages = bundle::tool_packages(&cx.project.config)?;
        let mut tools: Vec<OsString> = packages.iter().map(Into::into).collect();
        // Development requirement files (`tools = ["-r requirements-dev.txt"]`).
        let tool_files = cx.sources().tool_files();
        for file in &tool_files {
            tools.extend(args!["-r", file]);
        }
        let mut requirements: Vec<OsString> = Vec::new();
        for file in cx.project.requirement_files() {
            requirements.extend(args!["-r", file]);
        }
        let mut names = packages;
        names.extend(tool_files);
        names.extend(cx.project.requirement_files().iter().cloned());
        // Two installs under a hash-pinned file (see `run`'s doc); else one resolve for
        // both, which honours the files' pins (or says they conflict with a tool).
        let calls = if self.hashed(cx) {
            vec![tools, requirements]
        } else {
            vec![[tools, requirements].concat()]
        };
        cx.printer
            .phase(&format!("installing {}", names.join(", ")));
        // pip refuses an install of nothing (zipapp needs no tool, there may be no other).
        for install in calls.into_iter().filter(|install| !install.is_empty()) {
            installer.install(cx, &install)?;
        }
        Ok(())
    }

    /// The bundler's entry point and the `RECORD` of each distribution installed by name,
    /// so one uninstalled or replaced by hand makes the step run again.
    fn outputs(&self, cx: &mut Build) -> Result<Vec<String>> {
        let tool = bundle::backend(&cx.project.config)?.tool();
        let mut outputs: Vec<String> = tool
            .map(|tool| cx.project.key(&cx.project.venv().join("bin").join(tool)))
            .into_iter()
            .collect();
        let env = cx.env()?;
        for name in Tools::wanted(cx)? {
            if let Some(dist) = env.find(&name) {
                outputs.push(cx.project.key(&dist.dist_info.join("RECORD")));
            }
        }
        outputs.sort();
        outputs.dedup();
        Ok(outputs)
    }
}
