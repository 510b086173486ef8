//! shiv bundles: a zipapp of the staged project and its dependencies, extracted at run
//! time into `~/.shiv/<name>_<build id>/` (or `SHIV_ROOT`) and reused from there.
//!
//! shiv is given a site-packages directory pybuild installed itself (see `site`) rather
//! than pip arguments, so the archive holds nothing that names the stage's path. Its build
//! id is shiv's default: a SHA-256 over every file's name and content. So a rebuilt bundle
//! whose content changed (an edit, a deleted module) gets a new id, and is never served the
//! code an older bundle extracted; identical content gets the same id and may share it.
//! `--reproducible` fixes the archive's timestamps, so identical inputs give identical
//! bytes. `[bundle] shiv-args` come last, so they can override any of this (`-p`, `--root`).

use anyhow::Result;

use super::backend::{Backend, Entry, Job};
use super::site;
use crate::args;
use crate::python::build::Build;

pub(crate) struct Shiv;

impl Backend for Shiv {
    fn name(&self) -> &'static str {
        "shiv"
    }

    fn tool(&self) -> Option<&'static str> {
        Some("shiv")
    }

    fn extension(&self) -> Option<&'static str> {
        Some("pyz")
    }

    fn versioned(&self) -> Vec<&'static str> {
        vec!["shiv", "pip"]
    }

    fn build(&self, cx: &Build, job: &Job) -> Result<()> {
        let site_dir = job.work.join(".site");
        site::install(cx, job, &site_dir)?;
        let mut argv = args![
            "--site-packages",
            &site_dir,
            "--reproducible",
            "-p",
            site::shebang(&job.python),
            "-o",
            &job.out
        ]
        .to_vec();
        match &job.target.entry {
            Entry::ConsoleScript(script) => argv.extend(args!["-c", script]),
            Entry::EntryPoint(entry) => argv.extend(args!["-e", entry]),
        }
        argv.extend(cx.project.config.bundle.shiv_args.iter().map(Into::into));
        let shiv = cx.project.venv().join("bin").join("shiv");
        cx.runner.run(shiv, &argv)
    }
}
