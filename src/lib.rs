//! pybuild: a declarative `project.toml` drives a Python project from a fresh clone to one
//! runnable file: check → venv → tools → develop → bundle, each step only when stale.

pub mod bundle;
pub mod check;
pub mod clean;
pub mod cli;
pub mod commands;
pub mod completions;
pub mod config;
pub mod detect;
pub mod develop;
pub mod editable;
pub mod env_lock;
pub mod error;
pub mod fileset;
pub mod fingerprint;
pub mod help;
pub mod init;
pub mod installed;
pub mod installer;
pub mod listing;
pub mod manpage;
pub mod metadata_sources;
pub mod paths;
pub mod pins;
pub mod process;
pub mod project;
pub mod prune;
pub mod python;
pub mod reason;
pub mod redact;
pub mod statcache;
pub mod state;
pub mod status;
pub mod step;
pub mod tasks;
pub mod tools;
pub mod ui;
pub mod uv;
pub mod venv;
pub mod watch;
pub mod wheelhouse;

use clap::FromArgMatches;

use crate::cli::Cli;
use crate::ui::Printer;

/// Runs pybuild with the process's arguments; returns the exit code.
pub fn run() -> u8 {
    // A shell asking for completions (see `completions`) is answered here, and exits.
    completions::answer();
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
