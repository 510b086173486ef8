//! `pybuild man`: the man pages, rendered by clap_mangen from the same definitions as
//! `--help`, so they never drift from the binary.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;
use crate::ui::Printer;

/// Prints `pybuild.1` to stdout, or with `out` writes it and `pybuild-COMMAND.1` for each
/// command into that directory.
pub fn write(out: Option<&Path>, printer: &Printer) -> Result<()> {
    let command = Cli::command();
    let Some(dir) = out else {
        clap_mangen::Man::new(command)
            .render(&mut std::io::stdout())
            .context("cannot write the man page")?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    printer.info(&format!("wrote the man pages into {}", dir.display()));
    Ok(())
}
