//! The tools step: the configured development tools, the bundler (the tool of
//! `[bundle] kind`'s backend, if it needs one), and the requirement files, installed into
//! the venv. Runs again when any of them, the installer, or the venv itself changed.

use anyhow::Result;

use crate::args;
use crate::bundle;
use crate::fingerprint::Fingerprint;
use crate::installer::Installer;
use crate::step::{Context, Step};

pub struct Tools;

impl Tools {
    /// The configured tools plus the bundler, in install order.
    fn packages(cx: &Context) -> Vec<String> {
        let config = &cx.project.config;
        let mut packages = config.env.tools.clone();
        packages.extend(bundle::backend(config.bundle.kind).tool().map(Into::into));
        packages
    }
}

impl Step for Tools {
    fn name(&self) -> &'static str {
        "tools"
    }

    fn fingerprint(&self, cx: &mut Context) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.ran("venv", cx.run_id("venv"));
        fingerprint.part("tools", Tools::packages(cx).join(" "));
        let installer = Installer::resolve(cx.project.config.env.installer)?;
        fingerprint.part("installer", installer.describe());
        cx.add_files(&mut fingerprint, cx.project.requirement_files())?;
        Ok(fingerprint)
    }

    fn run(&self, cx: &mut Context) -> Result<()> {
        let mut install: Vec<std::ffi::OsString> = Vec::new();
        install.extend(Tools::packages(cx).into_iter().map(Into::into));
        for requirements in cx.project.requirement_files() {
            install.extend(args!["-r", requirements]);
        }
        if install.is_empty() {
            // pip refuses an install of nothing (zipapp needs no tool, there may be no other).
            return Ok(());
        }
        Installer::resolve(cx.project.config.env.installer)?.install(cx, self.name(), &install)
    }

    fn outputs(&self, cx: &mut Context) -> Result<Vec<String>> {
        let tool = bundle::backend(cx.project.config.bundle.kind).tool();
        Ok(tool
            .map(|tool| cx.project.key(&cx.project.venv().join("bin").join(tool)))
            .into_iter()
            .collect())
    }
}
