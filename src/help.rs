//! `pybuild help`: every command with its one-line description, grouped, the way
//! `make help` listed a Makefile's targets; `pybuild help COMMAND` for the details.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::UserError;
use crate::ui::{Printer, Style};

const GROUPS: &[(&str, &[&str])] = &[
    ("Build", &["bundle", "setup", "watch", "status"]),
    ("Project", &["init", "run", "clean"]),
    ("Other", &["help"]),
];

pub fn overview(printer: &Printer) -> String {
    let command = Cli::command();
    let mut out = String::from(
        "pybuild: build a Python application into one runnable file, driven by project.toml\n\n\
         Usage: pybuild [OPTIONS] <COMMAND>\n",
    );
    let width = command
        .get_subcommands()
        .map(|c| c.get_name().len())
        .max()
        .unwrap_or(0);
    for (group, names) in GROUPS {
        out.push_str(&format!("\n{}:\n", printer.paint(group, Style::Bold)));
        for name in *names {
            let about = command
                .find_subcommand(name)
                .and_then(|c| c.get_about())
                .map(|a| a.to_string())
                .unwrap_or_default();
            out.push_str(&format!("  {name:width$}  {about}\n"));
        }
    }
    out.push_str(&format!("\n{}:\n", printer.paint("Options", Style::Bold)));
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        let mut flags = Vec::new();
        if let Some(short) = arg.get_short() {
            flags.push(format!("-{short}"));
        }
        if let Some(long) = arg.get_long() {
            flags.push(format!("--{long}"));
        }
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        out.push_str(&format!("  {:22}  {help}\n", flags.join(", ")));
    }
    out.push_str("\nRun `pybuild help COMMAND` for a command's options.\n");
    out
}

pub fn topic(name: &str) -> Result<String> {
    let mut command = Cli::command();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let Some(sub) = command.find_subcommand_mut(name) else {
        let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut err = UserError::usage(format!("no command `{name}`"));
        if let Some(best) = crate::config::nearest(name, &candidates) {
            err = err.hint(format!("did you mean `{best}`?"));
        }
        return Err(err.hint("`pybuild help` lists the commands").into());
    };
    let mut sub = sub.clone().bin_name(format!("pybuild {name}"));
    Ok(sub.render_long_help().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_lists_every_command() {
        let text = overview(&Printer::silent());
        for command in Cli::command().get_subcommands() {
            assert!(text.contains(command.get_name()), "{}", command.get_name());
        }
        let listed: usize = GROUPS.iter().map(|(_, names)| names.len()).sum();
        assert_eq!(listed, Cli::command().get_subcommands().count());
    }

    #[test]
    fn unknown_topic_suggests() {
        let err = topic("bundel").unwrap_err();
        let user = err.downcast_ref::<UserError>().unwrap();
        assert_eq!(user.hints[0], "did you mean `bundle`?");
    }
}
