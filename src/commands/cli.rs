//! The command line, as clap types only: no file system access here.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::base::ui::{ColorChoice, Verbosity};

/// Build a Python application into one runnable file, driven by project.toml.
///
/// Every global option has an environment twin (shown as `env:`), for CI: the command line
/// wins over it. `FORCE_COLOR` colours without a terminal, `NO_COLOR` never (it wins).
#[derive(Debug, Parser)]
#[command(name = "pybuild", version, disable_help_subcommand = true)]
pub(crate) struct Cli {
    /// Run in DIR (or the nearest parent holding a project.toml)
    #[arg(
        short = 'C',
        long = "project",
        global = true,
        value_name = "DIR",
        env = "PYBUILD_PROJECT"
    )]
    pub(crate) project: Option<PathBuf>,

    /// Stream the output of the tools pybuild runs
    // `-q` and `-v` exclude each other, but the command line wins over the environment:
    // see [`verbosity`] (clap's `conflicts_with` would count the environment too).
    #[arg(short, long, global = true, action = ArgAction::Count, env = "PYBUILD_VERBOSE")]
    pub(crate) verbose: u8,

    /// Print only errors and warnings
    #[arg(short, long, global = true, env = "PYBUILD_QUIET", value_parser = FalseyValueParser::new())]
    pub(crate) quiet: bool,

    /// When to colour the output (`auto`: on a terminal, or with FORCE_COLOR; never with NO_COLOR)
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN",
        env = "PYBUILD_COLOR"
    )]
    pub(crate) color: ColorChoice,

    /// Say why each stale step runs
    #[arg(long, global = true, env = "PYBUILD_EXPLAIN", value_parser = FalseyValueParser::new())]
    pub(crate) explain: bool,

    /// Fail at once, instead of waiting, when another pybuild is working on the project
    #[arg(long, global = true, env = "PYBUILD_NO_WAIT", value_parser = FalseyValueParser::new())]
    pub(crate) no_wait: bool,

    /// Use no package index: resolve from pybuild's wheelhouse only
    #[arg(long, global = true, env = "PYBUILD_OFFLINE", value_parser = FalseyValueParser::new())]
    pub(crate) offline: bool,

    /// In a uv workspace: work on the app NAME (a member's name; repeatable). Default: the
    /// member the command runs in, else every app
    #[arg(
        short = 'p',
        long = "package",
        global = true,
        value_name = "NAME",
        action = ArgAction::Append,
        value_delimiter = ',',
        env = "PYBUILD_PACKAGE"
    )]
    pub(crate) packages: Vec<String>,

    /// In a uv workspace: build N apps at once (default: the number of cores)
    #[arg(
        short = 'j',
        long,
        global = true,
        value_name = "N",
        env = "PYBUILD_JOBS"
    )]
    pub(crate) jobs: Option<std::num::NonZeroUsize>,

    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// What `pybuild deploy` writes descriptors for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DeployTarget {
    Marathon,
    Kubernetes,
    Spark,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a commented project.toml for an existing project, then set it up
    ///
    /// Reads pyproject.toml, setup.cfg, setup.py and requirements*.txt; asks nothing.
    Init {
        /// Overwrite an existing project.toml
        #[arg(long)]
        force: bool,
        /// Only write project.toml
        #[arg(long)]
        no_setup: bool,
    },
    /// Create the venv, install the tools, check the system, install the project editable
    ///
    /// Each step runs only when what it depends on changed.
    Setup,
    /// Everything `setup` does, then build the bundle (each step only if stale)
    Bundle,
    /// Build the bundle, then an OCI image of it in dist/<name>.oci/, without Docker
    ///
    /// Three layers: `[image] base`, the bundle's dependencies, its code; tagged with the
    /// project's version and `latest`. Run it with `umoci unpack` + `runc run`, push it
    /// with `pybuild push` (see docs/deploy.md).
    Image {
        /// Pull a `docker://` base again (else the copy pulled once is used)
        #[arg(long)]
        refresh_base: bool,
    },
    /// Build the image, then its SBOM: dist/<name>.cdx.json (CycloneDX 1.6 JSON)
    ///
    /// The Python distributions the bundle's manifest lists (purl, version, licence, the
    /// hash of each one's RECORD, checked against the bundle) and the Debian packages of
    /// the image's base. `pybuild push` pushes it with the image (see docs/deploy.md).
    Sbom,
    /// Build the image and its SBOM, then push it to `[image] repository`, tagged with the version and `latest`
    ///
    /// Speaks the registry's API itself: uploads only the blobs the registry lacks (after
    /// an edit, the code layer and the config), the manifest last, and prints the image
    /// by digest, the SBOM as its referrer. Credentials come from the containers' or Docker's auth file (see
    /// docs/deploy.md). Fresh, and sends nothing, when the same image was pushed there.
    Push,
    /// Write the descriptors that deploy the bundle to TARGET into dist/
    ///
    /// `marathon`: an app definition; `kubernetes`: a Deployment and a Service of the
    /// image (built first); `spark`: a spark-submit script and its driver. Values come
    /// from `[deploy.TARGET]` in project.toml (see docs/deploy.md).
    Deploy {
        /// Where the bundle goes
        #[arg(value_enum)]
        target: DeployTarget,
    },
    /// Check the system prerequisites `[check]` lists; with --fix, install what is missing
    ///
    /// `--fix` prints the one command (apt-get or dnf, through sudo when not root) that
    /// installs the packages providing everything missing, runs it with `--yes` or after a
    /// yes on a terminal, then checks again.
    Check {
        /// Print the command that installs what is missing, and run it if confirmed
        #[arg(long)]
        fix: bool,
        /// With --fix: run the command without asking
        #[arg(long, requires = "fix")]
        yes: bool,
    },
    /// Build, then build again on every change to the inputs, until Ctrl-C
    ///
    /// Runs `bundle` unless `[watch] targets` in project.toml or the command line name
    /// other targets, e.g. `pybuild watch setup`. A change whose content is the same (a
    /// touch, a re-save) runs nothing; a change made during a run starts one more run.
    Watch(WatchArgs),
    /// Show which steps are fresh, and why the others are stale
    ///
    /// Reports on what `bundle` runs, or on what the targets named run (`setup`, a step or
    /// a task of project.toml, with the steps and tasks they depend on). Runs nothing.
    Status {
        /// Print JSON for machines (see docs/commands.md for its schema)
        #[arg(long)]
        json: bool,
        /// Exit with 1 when a step is stale, 0 when all are fresh (for CI)
        #[arg(long)]
        exit_code: bool,
        /// Targets to report on (default: bundle)
        targets: Vec<String>,
    },
    /// List the apps of a uv workspace whose bundle inputs differ from git REF's
    ///
    /// Compares the working tree (committed, staged, unstaged and untracked files) with
    /// REF: a member's files reach the apps depending on it, `uv.lock` the apps whose
    /// closure changed, project.toml every app (or one, for `[apps.NAME]`). Prints one
    /// name a line, for `pybuild bundle -p NAME`; e.g. `pybuild affected --base origin/main`.
    Affected {
        /// The git commit, branch or tag to compare with
        #[arg(long, value_name = "REF")]
        base: String,
        /// Print JSON for a CI matrix (see docs/commands.md for its schema)
        #[arg(long)]
        json: bool,
    },
    /// Run a task, or any command inside the project's venv, e.g. `pybuild run -- pytest -x`
    ///
    /// `pybuild run TASK [-- ARGS]` runs a task of project.toml, as `pybuild TASK` does.
    /// `pybuild run -- CMD [ARGS]` runs any program in the venv after `setup`, even one
    /// named like a task. `pybuild run CMD [-- ARGS]`, CMD being no task, runs the program.
    Run {
        /// A task of project.toml, or a program when no task has that name
        #[arg(value_name = "TASK")]
        task: Option<OsString>,
        /// After `--`: the program and its arguments, or the task's extra arguments
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<OsString>,
    },
    /// Remove the bundle, pybuild's state and setuptools' build leftovers
    Clean {
        /// Also remove the venv
        #[arg(long)]
        all: bool,
        /// List what would be removed, remove nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List the commands and the tasks of project.toml, or show the help of one
    Help {
        /// A command or task name
        topic: Option<String>,
        /// Print JSON for machines
        #[arg(long)]
        json: bool,
        /// Print the names of the commands and tasks, one a line (for shell completion)
        #[arg(long, hide = true, conflicts_with_all = ["json", "topic"])]
        names: bool,
    },
    /// Manage the remote cache's signing keys (see docs/remote-cache.md)
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Print a completion script for bash, zsh, fish, elvish or powershell
    ///
    /// e.g. `pybuild completions bash > ~/.local/share/bash-completion/completions/pybuild`.
    /// The script completes the commands and their options, and the tasks of the
    /// project.toml found where it is generated.
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print pybuild's man page, or write one page per command into a directory
    Man {
        /// Write pybuild.1 and pybuild-COMMAND.1 into DIR instead
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// A task of project.toml: `pybuild TASK [-- ARGS]`
    #[command(external_subcommand)]
    Task(Vec<OsString>),
}

/// `pybuild cache`'s subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Write a new ed25519 signing key to FILE and print its public key
    ///
    /// e.g. `pybuild cache keygen ci-2026 --out ci.key` writes the secret key (mode 600)
    /// and prints `ci-2026:BASE64`: the writer signs with it (`PYBUILD_CACHE_SIGNING_KEY_FILE`),
    /// readers list the printed line in `[cache] trusted-keys`.
    Keygen {
        /// The key's name, carried by its signatures (letters, digits, `.`, `_`, `-`)
        name: String,
        /// Where the secret key is written
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists
        #[arg(long)]
        force: bool,
    },
}

// `pybuild watch`'s arguments (the variant's doc comment is its help).
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// What to run: `setup`, a step or a task [default: `[watch] targets`, or bundle]
    pub(crate) targets: Vec<String>,
    /// Cancel a running build when a change arrives, and start it again
    #[arg(long)]
    pub(crate) restart: bool,
    /// Clear the screen before each run
    #[arg(long)]
    pub(crate) clear: bool,
    /// How long the files must be quiet after a change before a run starts
    /// [default: `[watch] debounce-ms`, or 50]
    #[arg(long, value_name = "MS")]
    pub(crate) debounce: Option<u64>,
}

/// The command line to parse: [`Cli`]'s, with the environment twins that are set but
/// empty left unread, as unset (CI templates often set a variable to nothing), where clap
/// would reject the empty value.
pub(crate) fn command() -> clap::Command {
    let empty: Vec<_> = Cli::command()
        .get_arguments()
        .filter(|arg| {
            arg.get_env()
                .and_then(std::env::var_os)
                .is_some_and(|value| value.is_empty())
        })
        .map(|arg| arg.get_id().clone())
        .collect();
    empty.into_iter().fold(Cli::command(), |command, id| {
        command.mut_arg(id, |arg| arg.env(None))
    })
}

/// `-q` or `-v`: the one given on the command line wins over the other's environment twin
/// (`PYBUILD_QUIET=1 pybuild -v bundle` is verbose); both from the same place are an error.
pub(crate) fn verbosity(matches: &ArgMatches) -> Result<Verbosity, clap::Error> {
    let quiet = matches
        .get_flag("quiet")
        .then(|| matches.value_source("quiet"));
    let verbose = (matches.get_count("verbose") > 0).then(|| matches.value_source("verbose"));
    let command_line = |source: Option<ValueSource>| source == Some(ValueSource::CommandLine);
    Ok(match (quiet, verbose) {
        (None, None) => Verbosity::Normal,
        (Some(_), None) => Verbosity::Quiet,
        (None, Some(_)) => Verbosity::Verbose,
        (Some(q), Some(v)) if command_line(q) != command_line(v) => match command_line(q) {
            true => Verbosity::Quiet,
            false => Verbosity::Verbose,
        },
        (Some(q), Some(_)) => {
            let (quiet, verbose) = match command_line(q) {
                true => ("--quiet", "--verbose"),
                false => ("PYBUILD_QUIET", "PYBUILD_VERBOSE"),
            };
            return Err(Cli::command().error(
                ErrorKind::ArgumentConflict,
                format!("`{quiet}` and `{verbose}` cannot be used together"),
            ));
        }
    })
}

/// The colour asked for before clap parses the command line, for clap's own help and
/// errors: the last `--color WHEN` before `--` (a bad one is left to clap), else
/// `PYBUILD_COLOR`.
pub(crate) fn color_before_parse(args: impl IntoIterator<Item = OsString>) -> ColorChoice {
    let mut chosen = None;
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str() else { continue };
        let value = match arg {
            "--" => break,
            "--color" => args.next().and_then(|v| v.into_string().ok()),
            _ => arg.strip_prefix("--color=").map(str::to_string),
        };
        if let Some(value) = value {
            chosen = ColorChoice::from_str(&value, false).ok().or(chosen);
        }
    }
    let from_env = || {
        let value = std::env::var("PYBUILD_COLOR").ok()?;
        ColorChoice::from_str(&value, false).ok()
    };
    chosen.or_else(from_env).unwrap_or(ColorChoice::Auto)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_configuration_knows_every_command_name() {
        let command = Cli::command();
        let mut names: Vec<&str> = command
            .get_subcommands()
            .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_all_aliases()))
            .collect();
        names.sort();
        assert_eq!(names, crate::base::config::task::COMMANDS);
    }
}
