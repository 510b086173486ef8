//! The tools step: the configured development tools, the bundler, and the requirement
//! files, installed into the venv. Runs again when any of them, the installer, or the venv
//! itself changed.

use anyhow::Result;

use crate::args;
use crate::fingerprint::Fingerprint;
use crate::installer::Installer;
use crate::step::{Context, Step};

pub struct Tools;

impl Tools {
    /// The configured tools plus the bundler, in install order.
    fn packages(cx: &Context) -> Vec<String> {
        let config = &cx.project.config;
        let mut packages = config.env.tools.clone();
        packages.push(config.bundle.kind.tool().to_string());
        packages
    }
}

impl Step for Tools {
    fn name(&self) -> &'static str {
        "tools"
    }

    fn fingerprint(&self, cx: &mut Context) -> Result<Fingerprint> {
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("venv", cx.run_id("venv"));
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
        Installer::resolve(cx.project.config.env.installer)?.install(cx, self.name(), &install)
    }

    fn outputs(&self, cx: &mut Context) -> Result<Vec<String>> {
        let tool = cx.project.config.bundle.kind.tool();
        Ok(vec![
            cx.project.key(&cx.project.venv().join("bin").join(tool)),
        ])
    }
}
