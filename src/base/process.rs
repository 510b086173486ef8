//! The one way pybuild runs a program: inside the project's venv without activation
//! (`PATH` with the venv's `bin` first, `VIRTUAL_ENV` set, `PYTHONHOME` unset), its output
//! appended to `.pybuild/logs/<step>.log` and echoed with `-v`, the last lines kept for
//! the error when it fails. The command line, the log and the tail have the credentials of
//! their URLs masked (see `redact`). A build's commands can be cancelled as a whole, and
//! those a killed pybuild left running are ended by the next one (`children`).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use anyhow::{Context, Result};

use crate::base::redact::redact;
use crate::base::ui::Printer;

mod children;
mod identity;
mod leftovers;

pub(crate) use children::{cancel_all, isolate, resume};
pub(crate) use identity::{Identity, Liveness, untouched_for_long};
pub(crate) use leftovers::{end_leftovers, sweep_temporaries, temp_name};

/// How many of a failed command's last output lines the error shows.
const TAIL_LINES: usize = 25;

/// A command that ran and did not succeed.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` {status}")]
pub(crate) struct CommandFailed {
    pub(crate) command: String,
    pub(crate) status: String,
    pub(crate) code: Option<i32>,
    pub(crate) log: Option<PathBuf>,
    pub(crate) tail: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct Runner {
    root: PathBuf,
    /// The project's `.pybuild/`, where running commands are recorded.
    state_dir: PathBuf,
    venv: PathBuf,
    log_dir: PathBuf,
    printer: Printer,
    /// The step whose commands run now: their output goes to its log.
    step: String,
}

impl Runner {
    pub(crate) fn new(root: &Path, venv: &Path, log_dir: &Path, printer: &Printer) -> Runner {
        Runner {
            root: root.to_path_buf(),
            state_dir: crate::base::paths::state_dir(root),
            venv: venv.to_path_buf(),
            log_dir: log_dir.to_path_buf(),
            printer: printer.clone(),
            step: "pybuild".to_string(),
        }
    }

    /// Makes the commands run from now on `step`'s: the engine scopes the runner to each
    /// step before the step prepares or runs, so no step passes its name down.
    pub(crate) fn scope(&mut self, step: &str) {
        step.clone_into(&mut self.step);
    }

    /// `program args` in the project root, with the venv's environment.
    pub(crate) fn command(
        &self,
        program: impl AsRef<OsStr>,
        args: &[OsString],
    ) -> duct::Expression {
        self.command_in(&self.root, program, args)
    }

    /// `program args` in `dir`, with the venv's environment. (A `.dir()` added to the
    /// expression [`Runner::command`] returns would not apply: duct lets the innermost
    /// setting win.)
    pub(crate) fn command_in(
        &self,
        dir: &Path,
        program: impl AsRef<OsStr>,
        args: &[OsString],
    ) -> duct::Expression {
        let mut path = OsString::from(self.venv.join("bin"));
        if let Some(old) = std::env::var_os("PATH") {
            path.push(":");
            path.push(old);
        }
        duct::cmd(program.as_ref(), args)
            .dir(dir)
            .env("PATH", path)
            .env("VIRTUAL_ENV", &self.venv)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env_remove("PYTHONHOME")
    }

    /// Empties the step's log before the step runs.
    pub(crate) fn reset_log(&self) -> Result<()> {
        let path = self.log_path();
        fs::create_dir_all(&self.log_dir)
            .with_context(|| format!("cannot create {}", self.log_dir.display()))?;
        File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(())
    }

    fn log_path(&self) -> PathBuf {
        self.log_dir.join(format!("{}.log", self.step))
    }

    /// Runs a build command of the step in scope; its output goes to the step's log.
    pub(crate) fn run(&self, program: impl AsRef<OsStr>, args: &[OsString]) -> Result<()> {
        self.run_with_env(program, args, &[])
    }

    /// [`Runner::run`] with extra environment variables, shown before the command.
    pub(crate) fn run_with_env(
        &self,
        program: impl AsRef<OsStr>,
        args: &[OsString],
        env: &[(&str, &OsStr)],
    ) -> Result<()> {
        let mut display = display_command(program.as_ref(), args);
        for (name, value) in env.iter().rev() {
            display = format!("{name}={} {display}", quote(&value.to_string_lossy()));
        }
        let display = redact(&display).into_owned();
        self.printer.detail(&format!("$ {display}"));
        let log_path = self.log_path();
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        writeln!(log, "$ {display}")
            .with_context(|| format!("cannot write {}", log_path.display()))?;

        let command = env.iter().fold(
            self.command(program.as_ref(), args),
            |command, (name, value)| command.env(name, value),
        );
        let (reader, _running) = children::start(
            command.stdin_null().stderr_to_stdout().unchecked(),
            &self.state_dir,
            &display,
            duct::Expression::reader,
            |r| r.pids(),
        )
        .with_context(|| format!("cannot start `{display}`"))?;
        let mut tail = VecDeque::with_capacity(TAIL_LINES);
        let mut lines = BufReader::new(&reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = lines
                .read_until(b'\n', &mut line)
                .with_context(|| format!("cannot read the output of `{display}`"))?;
            if read == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let shown = redact(&text);
            // As the tool wrote it, unless a credential had to be masked.
            let logged = match &shown {
                Cow::Borrowed(_) => &line[..],
                Cow::Owned(masked) => masked.as_bytes(),
            };
            log.write_all(logged)
                .with_context(|| format!("cannot write {}", log_path.display()))?;
            let text = shown.trim_end().to_string();
            self.printer.detail(&text);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(text);
        }
        let output = reader
            .try_wait()
            .with_context(|| format!("cannot wait for `{display}`"))?
            .context("the command's output ended before it exited")?;
        check_status(&display, output.status, Some(log_path), tail.into())
    }

    /// Runs a user's command (a task's, `pybuild run`'s) on the terminal's stdin, stdout
    /// and stderr, as a tracked child: it dies with pybuild and `watch` can cancel it.
    pub(crate) fn run_attached(
        &self,
        expression: duct::Expression,
        display: &str,
    ) -> Result<ExitStatus> {
        let (handle, _running) = children::start(
            expression.unchecked(),
            &self.state_dir,
            display,
            duct::Expression::start,
            duct::Handle::pids,
        )
        .with_context(|| format!("cannot start `{display}`"))?;
        let output = handle
            .wait()
            .with_context(|| format!("cannot wait for `{display}`"))?;
        Ok(output.status)
    }

    /// Runs a query and returns its standard output; on failure the error holds its stderr.
    pub(crate) fn capture(&self, program: impl AsRef<OsStr>, args: &[OsString]) -> Result<String> {
        self.capture_in(&self.root, program, args)
    }

    /// [`Runner::capture`] in `dir`: where an interpreter found on PATH is the one the
    /// directory asks for (pyenv's shims read its `.python-version`).
    pub(crate) fn capture_in(
        &self,
        dir: &Path,
        program: impl AsRef<OsStr>,
        args: &[OsString],
    ) -> Result<String> {
        let display = display_command(program.as_ref(), args);
        self.printer.detail(&format!("$ {display}"));
        let expression = self
            .command_in(dir, program.as_ref(), args)
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        let (handle, _running) = children::start(
            expression,
            &self.state_dir,
            &display,
            duct::Expression::start,
            duct::Handle::pids,
        )
        .with_context(|| format!("cannot start `{display}`"))?;
        let output = handle
            .into_output()
            .with_context(|| format!("cannot wait for `{display}`"))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail = redact(&stderr).lines().map(str::to_string).collect();
        check_status(&display, output.status, None, tail)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

fn check_status(
    command: &str,
    status: ExitStatus,
    log: Option<PathBuf>,
    tail: Vec<String>,
) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    let description = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "failed".to_string(),
    };
    Err(CommandFailed {
        command: command.to_string(),
        status: description,
        code: status.code(),
        log,
        tail,
    }
    .into())
}

/// The exit code a shell would report for `status`: the program's own, or 128 + the
/// signal that killed it.
pub(crate) fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128 + signal as u8,
        (None, None) => 1,
    }
}

/// A command line as a user would type it, quoting what needs quotes.
pub(crate) fn display_command(program: &OsStr, args: &[OsString]) -> String {
    let line = std::iter::once(program)
        .chain(args.iter().map(OsString::as_os_str))
        .map(|arg| quote(&arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");
    redact(&line).into_owned()
}

/// One shell word: as is when safe, else single-quoted.
fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The values the arguments `args` of a command give its long option `option`, in order, in
/// both spellings (`--exclude NAME`, `--exclude=NAME`): what `[bundle] pex-args` tell pex.
pub(crate) fn option_values<'a>(args: &'a [String], option: &str) -> Vec<&'a str> {
    let joined = format!("{option}=");
    let mut values = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.strip_prefix(&joined) {
            Some(value) => values.push(value),
            None if arg == option => values.extend(args.next().map(String::as_str)),
            None => {}
        }
    }
    values
}

/// Builds an argument array from anything string-like.
#[macro_export]
macro_rules! args {
    ($($arg:expr),* $(,)?) => {
        [$(::std::ffi::OsString::from($arg)),*]
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let args = args!["-c", "print('hi there')", "a/b.py"];
        assert_eq!(
            display_command(OsStr::new("python"), &args),
            r#"python -c 'print('\''hi there'\'')' a/b.py"#
        );
    }

    /// A runner whose root, venv and logs are in `dir`, scoped to step `t` with a fresh log.
    fn runner_in(dir: &Path) -> Runner {
        let mut runner = Runner::new(dir, dir, &dir.join("logs"), &Printer::silent());
        runner.scope("t");
        runner.reset_log().unwrap();
        runner
    }

    #[test]
    fn failure_keeps_tail_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner_in(dir.path());
        let err = runner
            .run("sh", &args!["-c", "echo one; echo two >&2; exit 3"])
            .unwrap_err();
        let failed = err.downcast_ref::<CommandFailed>().unwrap();
        assert_eq!(failed.code, Some(3));
        assert_eq!(failed.tail, vec!["one", "two"]);
        let log = fs::read_to_string(dir.path().join("logs/t.log")).unwrap();
        assert!(log.contains("one\ntwo\n"), "{log}");
    }

    #[test]
    fn credentials_are_masked_in_the_log_and_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner_in(dir.path());
        let script = "echo \"Looking in http://alice:S3cr3t@h/simple\"; exit 1";
        let err = runner
            .run("sh", &args!["-c", script, "http://bob:hunter2@h/"])
            .unwrap_err();
        let failed = err.downcast_ref::<CommandFailed>().unwrap();
        assert_eq!(failed.tail, ["Looking in http://alice:****@h/simple"]);
        assert!(!failed.command.contains("hunter2"), "{}", failed.command);
        let log = fs::read_to_string(dir.path().join("logs/t.log")).unwrap();
        assert!(!log.contains("S3cr3t") && !log.contains("hunter2"), "{log}");
        assert!(
            log.ends_with("Looking in http://alice:****@h/simple\n"),
            "{log}"
        );
    }

    #[test]
    fn commands_see_the_venv_first_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let runner = Runner::new(
            dir.path(),
            &venv,
            &dir.path().join("logs"),
            &Printer::silent(),
        );
        let out = runner
            .capture("sh", &args!["-c", "echo $VIRTUAL_ENV; echo $PATH"])
            .unwrap();
        let mut lines = out.lines();
        assert_eq!(lines.next().unwrap(), venv.to_str().unwrap());
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with(venv.join("bin").to_str().unwrap())
        );
    }
}
