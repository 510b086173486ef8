//! pybuild: a declarative `project.toml` drives a Python project from a fresh clone to one
//! runnable file: check → venv → tools → develop → bundle, each step only when stale.

mod base;
mod commands;
mod engine;
mod python;
mod steps;

use clap::FromArgMatches;

use crate::base::error;
use crate::base::ui::Printer;
use crate::commands::cli::{self, Cli};

/// Runs pybuild with the process's arguments; returns the exit code.
pub fn run() -> u8 {
    // A shell asking for completions (see `completions`) is answered here, and exits.
    commands::completions::answer();
    let color = match cli::color_before_parse(std::env::args_os()).explicit() {
        Some(true) => clap::ColorChoice::Always,
        Some(false) => clap::ColorChoice::Never,
        None => clap::ColorChoice::Auto,
    };
    let parsed = cli::command()
        .color(color)
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, cli::verbosity(&matches)?)));
    let (cli, verbosity) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                error::EXIT_USAGE
            } else {
                0
            };
        }
    };
    let printer = Printer::new(verbosity, cli.color);
    match commands::execute(cli, &printer) {
        Ok(code) => code,
        Err(err) => {
            eprint!("{}", error::render(&err));
            error::exit_code(&err)
        }
    }
}
