//! `pybuild watch`: run the targets now, then again after every change to their inputs,
//! until Ctrl-C.
//!
//! The contract:
//! - Only changes to inputs start a run (`inputs`: exactly the files the fingerprints read).
//!   Whether a step runs is still decided by its fingerprint, so a touch or a re-save
//!   that leaves the content as it was starts a run that finds everything fresh: it runs
//!   no process, and watch prints one "nothing to do" line for it.
//! - A burst of changes (a checkout, a formatter over the tree) is one run: a run starts
//!   once no relevant event arrived for the debounce time ([`Settings::debounce`]), or at
//!   the latest [`MAX_DELAY`] after the burst began, so a file rewritten without pause
//!   cannot hold builds back forever.
//! - No change is ever dropped: a change during a run makes one more run after it (the
//!   engine fingerprints inputs as they were when a step *started*, so an edit made while
//!   the step ran is seen as stale). With `restart`, the run is cancelled instead: its
//!   commands are ended with their whole process group and it starts again. A step cut
//!   short is never taken for fresh: the engine removes its record before it runs.
//! - A failing run prints its error; watch goes on, and the next change retries.
//! - Each run ends with one status line: what changed, what ran, how long, ok or failed.
//! - Each run takes the project lock (`.pybuild/lock`) and releases it when it ends, so a
//!   manual `pybuild bundle` waits for the run in progress, or runs between two.
//! - Ctrl-C (SIGINT, SIGTERM, SIGHUP) ends every running command with its process group
//!   (SIGTERM, then SIGKILL after `process::children::GRACE`), then exits with 130.
//! - When the project root or its `project.toml` disappears (an `rm -rf` of the project, a
//!   move), watch says so and exits with 1 at once, not waiting for a run in progress (its
//!   commands die with it, `PR_SET_PDEATHSIG`), and starts no other run: none puts a lock,
//!   state or venv back. A missing `project.toml` has [`GONE_GRACE`] to come back (an editor
//!   may rename the old one away before writing the new one). As a deletion can be silent
//!   for long (the venv, `.git` and `.pybuild` are not watched), a burst in which a watched
//!   directory vanished, or after which `.pybuild` is gone, runs only after [`MAX_DELAY`] of
//!   quiet, by when an `rm -rf` has reached `project.toml`. A run that started before the
//!   deletion did may still write in the project until watch sees `project.toml` go.
//!
//! Runs happen on a thread of their own; this thread only waits for events and for the
//! end of the run, so events are taken off the queue while a build is running.

mod inputs;

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};

use crate::base::config::WatchSection;
use crate::base::error;
use crate::base::process;
use crate::base::project::Project;
use crate::base::ui::{Printer, Style};
use crate::commands::cli::WatchArgs;
use inputs::Inputs;

/// The longest a run waits for a burst of changes to end.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(2);

/// How long a missing `project.toml` has to come back before watch takes it for gone.
pub(crate) const GONE_GRACE: Duration = Duration::from_millis(100);

/// Runs the targets once; returns the names of the steps that ran (none: all fresh).
pub(crate) type Build = dyn Fn(&Printer) -> Result<Vec<String>> + Send + Sync;

/// `watch`'s settings: `[watch]` in project.toml, overridden by the command line.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) targets: Vec<String>,
    pub(crate) debounce: Duration,
    pub(crate) restart: bool,
    pub(crate) clear: bool,
}

impl Settings {
    pub(crate) fn resolve(config: &WatchSection, args: WatchArgs) -> Settings {
        Settings {
            targets: if args.targets.is_empty() {
                config.targets.clone()
            } else {
                args.targets
            },
            debounce: Duration::from_millis(args.debounce.unwrap_or(config.debounce_ms)),
            restart: args.restart || config.restart,
            clear: args.clear,
        }
    }
}

/// Set on Ctrl-C: the run that ends now was cut short by it, and says nothing.
static STOPPING: AtomicBool = AtomicBool::new(false);

enum Message {
    Files(notify::Result<notify::Event>),
    RunEnded(Result<Vec<String>>),
}

/// Watches `project` and runs `build` until Ctrl-C; returns only on a watcher failure.
pub(crate) fn run(
    project: &Project,
    printer: &Printer,
    settings: &Settings,
    build: Arc<Build>,
) -> Result<u8> {
    if settings.targets.is_empty() {
        return Err(error::UserError::usage("`watch` has nothing to run")
            .hint("name a target (`pybuild watch bundle`) or set `[watch] targets`")
            .into());
    }
    // Commands get process groups of their own, so one run can be cancelled on its own;
    // then the terminal's Ctrl-C reaches only pybuild, which ends them.
    process::isolate();
    let stop_printer = printer.clone();
    ctrlc::set_handler(move || {
        STOPPING.store(true, Ordering::SeqCst);
        process::cancel_all();
        stop_printer.info("watch: stopped");
        std::process::exit(130);
    })
    .context("cannot set up the Ctrl-C handler")?;

    let (sender, receiver) = mpsc::channel();
    let events = sender.clone();
    let watcher = notify::recommended_watcher(move |event| {
        let _ = events.send(Message::Files(event));
    })
    .context("cannot start watching files")?;
    // A configuration problem (an unknown bundle kind) is said as it is.
    let inputs = Inputs::new(project, &settings.targets, watcher, printer).map_err(|err| {
        match error::is_usage(&err) {
            true => err,
            false => err.context(format!(
                "cannot list the inputs under {}",
                project.root.display()
            )),
        }
    })?;
    printer.info(&format!(
        "watch: watching {} input files in {} directories of {} for {}; Ctrl-C to stop",
        inputs.file_count(),
        inputs.dir_count(),
        project.root.display(),
        settings.targets.join(", ")
    ));
    let mut session = Session {
        root: project.root.clone(),
        state_dir_existed: false,
        printer: printer.clone(),
        settings: settings.clone(),
        build,
        sender,
        inputs,
        changes: Changes::default(),
        running: None,
    };
    session.start_run()?;
    session.event_loop(&receiver)
}

/// Relevant changes not yet handed to a run.
#[derive(Default)]
struct Changes {
    paths: BTreeSet<String>,
    first: Option<Instant>,
    last: Option<Instant>,
    /// They look like part of a deletion: run once the files were quiet for [`MAX_DELAY`].
    settling: bool,
}

impl Changes {
    fn add(&mut self, path: String) {
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.paths.insert(path);
    }

    /// When a run for these changes is due.
    fn due(&self, debounce: Duration) -> Option<Instant> {
        if self.settling {
            return Some(self.last? + MAX_DELAY.max(debounce));
        }
        Some((self.last? + debounce).min(self.first? + MAX_DELAY.max(debounce)))
    }

    /// Holds the run until the files were quiet for [`MAX_DELAY`] from now on.
    fn settle(&mut self) {
        self.settling = true;
        self.last = Some(Instant::now());
    }
}

struct Running {
    started: Instant,
    changed: BTreeSet<String>,
    cancelled: bool,
}

struct Session {
    root: std::path::PathBuf,
    /// `.pybuild` was there after the last run.
    state_dir_existed: bool,
    printer: Printer,
    settings: Settings,
    build: Arc<Build>,
    sender: Sender<Message>,
    inputs: Inputs,
    changes: Changes,
    running: Option<Running>,
}

impl Session {
    fn event_loop(&mut self, receiver: &Receiver<Message>) -> Result<u8> {
        loop {
            let due = match self.running {
                Some(_) => None,
                None => self.changes.due(self.settings.debounce),
            };
            let message = match due {
                None => Some(receiver.recv()?),
                Some(due) => {
                    match receiver.recv_timeout(due.saturating_duration_since(Instant::now())) {
                        Ok(message) => Some(message),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => {
                            return Err(anyhow!("the file watcher stopped"));
                        }
                    }
                }
            };
            match message {
                Some(Message::Files(Ok(event))) => {
                    if event
                        .paths
                        .iter()
                        .any(|p| *p == self.root || *p == self.config())
                    {
                        self.stop_if_gone();
                    }
                    self.on_event(&event);
                }
                Some(Message::Files(Err(err))) => {
                    self.printer.warn(&format!("watch: {err}"));
                    self.changes.add(inputs::RESCAN.to_string());
                }
                Some(Message::RunEnded(result)) => self.on_run_ended(result),
                None => {}
            }
            let due = self.changes.due(self.settings.debounce);
            if self.running.is_none() && due.is_some_and(|due| due <= Instant::now()) {
                self.stop_if_gone();
                if !self.changes.settling && self.looks_deleted() {
                    self.changes.settle();
                    continue;
                }
                self.start_run()?;
            }
        }
    }

    /// Whether the pending changes may be part of the project's deletion.
    fn looks_deleted(&mut self) -> bool {
        let lost_dir = self.inputs.take_lost_dir();
        lost_dir || (self.state_dir_existed && !crate::base::paths::state_dir(&self.root).is_dir())
    }

    fn config(&self) -> std::path::PathBuf {
        self.root.join(crate::base::config::FILE_NAME)
    }

    /// Exits with 1 if the project root or its `project.toml` is gone, touching nothing.
    fn stop_if_gone(&self) {
        let config = self.config();
        if config.is_file() {
            return;
        }
        if self.root.is_dir() {
            std::thread::sleep(GONE_GRACE);
            if config.is_file() {
                return;
            }
        }
        let gone = error::UserError::failure(format!("{} is gone: watch stops", config.display()));
        eprint!("{}", error::render(&gone.into()));
        // Not a moment more: a run still going would write its state and logs back.
        std::process::exit(error::EXIT_FAILURE.into());
    }

    fn on_event(&mut self, event: &notify::Event) {
        let paths = self.inputs.relevant(event);
        if paths.is_empty() {
            return;
        }
        self.printer
            .detail(&format!("watch: {:?} {}", event.kind, paths.join(" ")));
        for path in paths {
            self.changes.add(path);
        }
        if let Some(running) = &mut self.running
            && self.settings.restart
            && !running.cancelled
        {
            running.cancelled = true;
            process::cancel_all();
        }
    }

    fn start_run(&mut self) -> Result<()> {
        let changes = std::mem::take(&mut self.changes);
        if self.settings.clear && std::io::stderr().is_terminal() {
            eprint!("\x1b[2J\x1b[3J\x1b[H");
            let _ = std::io::stderr().flush();
        }
        process::resume();
        let build = Arc::clone(&self.build);
        let sender = self.sender.clone();
        let printer = self.printer.without_fresh_lines();
        std::thread::Builder::new()
            .name("build".into())
            .spawn(move || {
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(&printer)))
                        .unwrap_or_else(|_| Err(anyhow!("the build panicked")));
                let _ = sender.send(Message::RunEnded(result));
            })
            .context("cannot start a build thread")?;
        self.running = Some(Running {
            started: Instant::now(),
            changed: changes.paths,
            cancelled: false,
        });
        Ok(())
    }

    fn on_run_ended(&mut self, result: Result<Vec<String>>) {
        let Some(running) = self.running.take() else {
            return;
        };
        if STOPPING.load(Ordering::SeqCst) {
            return;
        }
        let seconds = running.started.elapsed().as_secs_f64();
        let after = describe_changes(&running.changed);
        let line = match result {
            Err(_) if running.cancelled => format!(
                "watch: {} after {seconds:.1}s{after}; starting again",
                self.printer.paint("cancelled", Style::Yellow)
            ),
            Ok(ran) if ran.is_empty() => format!("watch: nothing to do, every step fresh{after}"),
            Ok(ran) => format!(
                "watch: {} in {seconds:.1}s, ran {}{after}",
                self.printer.paint("ok", Style::Green),
                ran.join(", ")
            ),
            Err(err) => {
                eprint!("{}", error::render(&err));
                format!(
                    "watch: {} after {seconds:.1}s{after}; waiting for changes",
                    self.printer.paint("failed", Style::Red)
                )
            }
        };
        self.printer.info(&line);
        self.state_dir_existed = crate::base::paths::state_dir(&self.root).is_dir();
        // The run may have changed what the inputs are (project.toml, a new package).
        let refreshed = Project::discover(&self.root).and_then(|p| self.inputs.refresh(&p));
        if let Err(err) = refreshed {
            // The next run reports what is wrong with the project.
            self.printer
                .detail(&format!("watch: cannot list the inputs again: {err:#}"));
        }
    }
}

/// " (after src/app/cli.py changed)", naming at most three paths.
fn describe_changes(paths: &BTreeSet<String>) -> String {
    const SHOWN: usize = 3;
    if paths.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = paths.iter().take(SHOWN).map(String::as_str).collect();
    let more = match paths.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!(" (after {}{more} changed)", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_named_briefly() {
        let paths = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        assert_eq!(describe_changes(&BTreeSet::new()), "");
        assert_eq!(describe_changes(&paths(&["a.py"])), " (after a.py changed)");
        assert_eq!(
            describe_changes(&paths(&["a", "b", "c", "d", "e"])),
            " (after a, b, c and 2 more changed)"
        );
    }

    #[test]
    fn a_burst_runs_after_a_quiet_debounce_or_at_the_latest_after_max_delay() {
        let debounce = Duration::from_millis(50);
        let mut changes = Changes::default();
        assert_eq!(changes.due(debounce), None);
        changes.add("a".into());
        let first = changes.first.unwrap();
        assert_eq!(
            changes.due(debounce),
            Some(changes.last.unwrap() + debounce)
        );
        changes.last = Some(first + Duration::from_secs(10));
        assert_eq!(changes.due(debounce), Some(first + MAX_DELAY));
    }

    #[test]
    fn command_line_overrides_the_config() {
        let args = |targets: &[&str], restart, clear, debounce| WatchArgs {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            restart,
            clear,
            debounce,
        };
        let config = WatchSection::default();
        let settings = Settings::resolve(&config, args(&[], false, false, None));
        assert_eq!(settings.targets, ["bundle"]);
        assert_eq!(settings.debounce, Duration::from_millis(50));
        let settings = Settings::resolve(&config, args(&["setup"], true, true, Some(5)));
        assert_eq!(settings.targets, ["setup"]);
        assert_eq!(settings.debounce, Duration::from_millis(5));
        assert!(settings.restart && settings.clear);
    }
}
