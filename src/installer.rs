//! Installing packages into the venv: pip by default, uv when configured (or, with
//! `installer = "auto"`, when it is on PATH). Both take pip's `install` arguments.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;

use crate::args;
use crate::config::Installer as Choice;
use crate::error::UserError;
use crate::installed;
use crate::step::Context;
use crate::wheelhouse;

pub enum Installer {
    Pip,
    Uv(PathBuf),
}

impl Installer {
    pub fn resolve(choice: Choice) -> Result<Installer> {
        match choice {
            Choice::Pip => Ok(Installer::Pip),
            Choice::Auto => Ok(which::which("uv").map_or(Installer::Pip, Installer::Uv)),
            Choice::Uv => which::which("uv").map(Installer::Uv).map_err(|_| {
                UserError::usage(
                    "`[env] installer = \"uv\"` in project.toml, but `uv` is not on PATH",
                )
                .hint("install uv (`pip install --user uv`), or set `installer = \"pip\"`")
                .into()
            }),
        }
    }

    /// How the installer appears in fingerprints.
    pub fn describe(&self) -> String {
        match self {
            Installer::Pip => "pip".into(),
            Installer::Uv(path) => format!("uv {}", path.display()),
        }
    }

    /// `pip install ARGS` into the project's venv, logged under `step`.
    pub fn install(&self, cx: &Context, step: &str, install_args: &[OsString]) -> Result<()> {
        let python = cx.project.venv_python();
        let (program, mut argv) = match self {
            Installer::Pip => (
                python.into_os_string(),
                args!["-m", "pip", "install"].to_vec(),
            ),
            Installer::Uv(uv) => (
                uv.clone().into_os_string(),
                args!["pip", "install", "--python", python].to_vec(),
            ),
        };
        argv.extend(wheelhouse::pip_args(cx));
        argv.extend_from_slice(install_args);
        cx.runner
            .run(step, program, &argv)
            .map_err(|err| wheelhouse::offline_failure(err, cx))
    }

    /// Reinstalls, at the same version and without their dependencies, the distributions
    /// an interrupted install left incomplete (see `installed::broken`); `except` is the
    /// project itself, which its editable install replaces anyway.
    pub fn repair(&self, cx: &mut Context, step: &str, except: &str) -> Result<()> {
        let site_packages = cx.site_packages()?;
        let except = installed::normalize(except);
        let broken: Vec<OsString> = installed::broken(&site_packages)
            .into_iter()
            .filter(|dist| installed::normalize(&dist.name) != except)
            .map(|dist| format!("{}=={}", dist.name, dist.version).into())
            .collect();
        if broken.is_empty() {
            return Ok(());
        }
        cx.printer.warn(&format!(
            "reinstalling what an interrupted install left incomplete: {}",
            broken
                .iter()
                .map(|b| b.to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let flag = match self {
            Installer::Pip => "--force-reinstall",
            Installer::Uv(_) => "--reinstall",
        };
        let mut argv = args![flag, "--no-deps"].to_vec();
        argv.extend(broken);
        self.install(cx, step, &argv)
    }
}
