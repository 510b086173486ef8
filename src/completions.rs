//! `pybuild completions SHELL`: a completion script from clap's definition of the command
//! line, plus the tasks of the project.toml found where it is generated.
//!
//! The task names are written into the script (static), not looked up at completion time:
//! a dynamic lookup would need a hand-written hook per shell around clap_complete's
//! output, and would run pybuild on every Tab. Generating the script from the shell's rc
//! file (`source <(pybuild completions bash)`) or again after adding a task keeps it
//! current; `pybuild help --names` prints the same names for scripts of one's own.

use std::path::Path;

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::help;
use crate::ui::Printer;

pub fn print(dir: &Path, printer: &Printer, shell: Shell) -> Result<()> {
    let tasks = help::project_tasks(dir, printer);
    let mut command = Cli::command();
    for (name, task) in &tasks {
        let about = task
            .help
            .clone()
            .unwrap_or_else(|| "(undocumented task)".into());
        command = command.subcommand(clap::Command::new(name.clone()).about(about));
    }
    clap_complete::generate(shell, &mut command, "pybuild", &mut std::io::stdout());
    Ok(())
}
