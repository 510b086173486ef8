//! The tools step: the configured development tools, the bundler (the tool of
//! `[bundle] kind`'s backend, if it needs one), and the requirement files, installed into
//! the venv, in two installs (see [`Tools::run`]). Runs again when any of them, the installer, or the venv itself changed.

use std::ffi::OsString;

use anyhow::Result;

use crate::args;
use crate::bundle;
use crate::error::UserError;
use crate::fingerprint::Fingerprint;
use crate::installer::Installer;
use crate::step::{Context, Step};
use crate::{installed, pins};

pub struct Tools;

impl Tools {
    /// Whether a requirement file (or one it includes) pins with `--hash`.
    fn hashed(&self, cx: &Context) -> bool {
        cx.project.requirement_inputs().iter().any(|file| {
            std::fs::read_to_string(cx.project.root.join(file))
                .is_ok_and(|text| text.contains("--hash"))
        })
    }

    /// The configured tools plus the bundler, in install order.
    pub fn packages(cx: &Context) -> Vec<String> {
        let config = &cx.project.config;
        let mut packages = config.env.tools.clone();
        packages.extend(bundle::backend(config.bundle.kind).tool().map(Into::into));
        packages
    }

    /// The distributions the step installs by name: the tools, the bundler and what the
    /// requirement files ask for unconditionally.
    fn wanted(cx: &Context) -> Vec<String> {
        let mut names: Vec<String> = Tools::packages(cx)
            .iter()
            .filter_map(|p| installed::requirement_name(p))
            .collect();
        names.extend(installed::names_in_requirement_files(
            &cx.project.root,
            cx.project.requirement_files(),
        ));
        names
    }
}

impl Step for Tools {
    fn name(&self) -> &'static str {
        "tools"
    }

    /// A tool pinned at another version than the environment's source pins could never
    /// be installed beside it: each sync would undo the other. Refused before anything
    /// runs.
    fn preflight(&self, cx: &mut Context) -> Result<()> {
        let tools = cx.project.config.env.tools.clone();
        let pinned: Vec<(String, String)> = tools
            .iter()
            .filter_map(|tool| pins::exact_pin(tool))
            .map(|(name, version)| (name.to_string(), version.to_string()))
            .collect();
        if pinned.is_empty() {
            return Ok(());
        }
        let site_packages = cx.site_packages()?;
        let source = pins::pins(cx, &site_packages)?;
        for (name, version) in pinned {
            if let Some(pin) = source.get(&installed::normalize(&name))
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

    fn fingerprint(&self, cx: &mut Context) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.ran("venv", cx.run_id("venv"));
        fingerprint.part("tools", Tools::packages(cx).join(" "));
        fingerprint.part(
            "installer",
            Installer::describe(cx.project.config.env.installer),
        );
        cx.add_files(&mut fingerprint, &cx.project.requirement_inputs())?;
        Ok(fingerprint)
    }

    /// The tools and the requirement files in one install; in two when a requirement file
    /// is hash-pinned: one call would put the unpinned tools under its `--require-hashes`
    /// mode, which refuses them (the requirement files then come last, so their pins win
    /// over what a tool pulled in).
    fn run(&self, cx: &mut Context) -> Result<()> {
        let installer = Installer::resolve(cx, self.name())?;
        let project = cx.project.config.project.name.clone();
        installer.repair(cx, self.name(), &project)?;
        if let Some(lock) = cx.project.env_lock()
            && !cx.project.config.env.requirements.is_empty()
        {
            cx.printer.warn(&format!(
                "`[env] requirements` are not installed: {} is the environment's source",
                lock.file_name()
            ));
        }
        let packages = Tools::packages(cx);
        let tools: Vec<OsString> = packages.iter().map(Into::into).collect();
        let mut requirements: Vec<OsString> = Vec::new();
        for file in cx.project.requirement_files() {
            requirements.extend(args!["-r", file]);
        }
        let mut names = packages;
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
            installer.install(cx, self.name(), &install)?;
        }
        Ok(())
    }

    /// Without an environment lock, this step installs the requirement files: a
    /// distribution at another version than they pin runs it again, and their pins win
    /// again.
    fn damage(&self, cx: &mut Context) -> Result<Option<String>> {
        if cx.project.env_lock().is_some() {
            return Ok(None);
        }
        let site_packages = cx.site_packages()?;
        pins::drift(cx, &site_packages, |pin| pin.file != pins::REQUIRES_DIST)
    }

    /// The bundler's entry point and the `RECORD` of each distribution installed by name,
    /// so one uninstalled or replaced by hand makes the step run again.
    fn outputs(&self, cx: &mut Context) -> Result<Vec<String>> {
        let tool = bundle::backend(cx.project.config.bundle.kind).tool();
        let mut outputs: Vec<String> = tool
            .map(|tool| cx.project.key(&cx.project.venv().join("bin").join(tool)))
            .into_iter()
            .collect();
        let dists = installed::list(&cx.site_packages()?);
        for name in Tools::wanted(cx) {
            if let Some(dist) = installed::find(&dists, &name) {
                outputs.push(cx.project.key(&dist.dist_info.join("RECORD")));
            }
        }
        outputs.sort();
        outputs.dedup();
        Ok(outputs)
    }
}
