//! PEX bundles, built by the venv's `pex` from the staged project: pex builds the project's
//! wheel (so console scripts, `importlib.metadata` and package data work in the bundle)
//! and resolves its dependencies. `[bundle] pex-args` are passed through.

use anyhow::Result;

use super::{Backend, Entry, Job};
use crate::args;
use crate::step::Context;

pub struct Pex;

impl Backend for Pex {
    fn tool(&self) -> Option<&'static str> {
        Some("pex")
    }

    fn extension(&self) -> Option<&'static str> {
        Some("pex")
    }

    fn build(&self, cx: &Context, job: &Job) -> Result<()> {
        let pex = cx.project.venv().join("bin").join("pex");
        let mut argv = args![&job.stage].to_vec();
        match &job.entry {
            Entry::ConsoleScript(script) => argv.extend(args!["-c", script]),
            Entry::EntryPoint(entry) => argv.extend(args!["-e", entry]),
        }
        argv.extend(args!["-o", &job.out]);
        argv.extend(cx.project.config.bundle.pex_args.iter().map(Into::into));
        cx.runner.run("bundle", pex, &argv)
    }
}
