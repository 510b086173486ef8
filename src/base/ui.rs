//! What the user sees while pybuild works: one line per step on stderr, a spinner on a
//! terminal and plain lines otherwise (CI logs), warnings, and colour when wanted. Every
//! line has the credentials of its URLs masked (see `redact`), whoever wrote the text.
//!
//! Colour: `--color always|never` (or `PYBUILD_COLOR`) decides; with `auto`, `NO_COLOR`
//! turns it off, else `FORCE_COLOR` turns it on without a terminal (CI log viewers show
//! colour), else a terminal does (no-color.org and force-color.org: set and not empty).

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::base::redact::redact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    /// Streams subprocess output.
    Verbose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal.
    pub(crate) fn decide(self, terminal: bool) -> bool {
        match self.explicit() {
            Some(choice) => choice,
            None => terminal,
        }
    }

    /// The colour chosen whatever the stream: by the option, or by the environment.
    pub(crate) fn explicit(self) -> Option<bool> {
        let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
        match self {
            ColorChoice::Always => Some(true),
            ColorChoice::Never => Some(false),
            ColorChoice::Auto if set("NO_COLOR") => Some(false),
            ColorChoice::Auto if set("FORCE_COLOR") => Some(true),
            ColorChoice::Auto => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Printer {
    pub(crate) verbosity: Verbosity,
    color: bool,
    /// Whether `color` was left to `auto` (and `NO_COLOR`), for [`Printer::for_stdout`].
    auto_color: bool,
    progress: bool,
    fresh_lines: bool,
    /// The spinner of the step running now, which [`Printer::phase`] writes on.
    active: Arc<Mutex<Option<ProgressBar>>>,
    /// The app of a workspace this printer speaks for: its name starts each step's line
    /// and each warning, so that the lines of apps built at once can be told apart.
    scope: Option<Arc<str>>,
}

const NAME_WIDTH: usize = 8;

impl Printer {
    pub(crate) fn new(verbosity: Verbosity, color: ColorChoice) -> Printer {
        let terminal = std::io::stderr().is_terminal();
        let color_choice = color;
        let color = color.decide(terminal);
        Printer {
            verbosity,
            color,
            auto_color: color_choice == ColorChoice::Auto,
            progress: terminal && verbosity == Verbosity::Normal,
            fresh_lines: true,
            active: Arc::default(),
            scope: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn silent() -> Printer {
        Printer {
            verbosity: Verbosity::Quiet,
            color: false,
            auto_color: false,
            progress: false,
            fresh_lines: true,
            active: Arc::default(),
            scope: None,
        }
    }

    /// This printer speaking for the app `name` of a workspace; with `alone`, its step
    /// lines are plain (no spinner), as several apps' steps run at once.
    pub(crate) fn for_app(&self, name: &str, alone: bool) -> Printer {
        Printer {
            scope: Some(Arc::from(name)),
            progress: self.progress && alone,
            active: match alone {
                true => self.active.clone(),
                false => Arc::default(),
            },
            ..self.clone()
        }
    }

    /// A step's name as its lines show it: `APP/STEP` in a workspace.
    fn label(&self, name: &str) -> String {
        match &self.scope {
            Some(app) => format!("{:NAME_WIDTH$}", format!("{app}/{name}")),
            None => format!("{name:NAME_WIDTH$}"),
        }
    }

    /// This printer without the lines of fresh steps: `watch` says "nothing to do" once.
    pub(crate) fn without_fresh_lines(&self) -> Printer {
        Printer {
            fresh_lines: false,
            ..self.clone()
        }
    }

    /// The same printer with plain lines instead of spinners, for steps whose commands
    /// write to the terminal themselves.
    pub(crate) fn without_progress(&self) -> Printer {
        Printer {
            progress: false,
            ..self.clone()
        }
    }

    /// The same printer, its `auto` colour decided for stdout rather than stderr: for
    /// results such as `pybuild help`, which may be piped while stderr is a terminal.
    pub(crate) fn for_stdout(&self) -> Printer {
        let color = if self.auto_color {
            ColorChoice::Auto.decide(std::io::stdout().is_terminal())
        } else {
            self.color
        };
        Printer {
            color,
            ..self.clone()
        }
    }

    /// Whether this printer colours what it paints.
    pub(crate) fn colors(&self) -> bool {
        self.color
    }

    pub(crate) fn is_verbose(&self) -> bool {
        self.verbosity == Verbosity::Verbose
    }

    pub(crate) fn warn(&self, message: &str) {
        let message = redact(message);
        let warning = self.paint("warning", Style::Yellow);
        match &self.scope {
            Some(app) => eprintln!("{warning}: {app}: {message}"),
            None => eprintln!("{warning}: {message}"),
        }
    }

    pub(crate) fn info(&self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            match &self.scope {
                Some(app) => eprintln!("{app}: {}", redact(message)),
                None => eprintln!("{}", redact(message)),
            }
        }
    }

    pub(crate) fn detail(&self, message: &str) {
        if self.is_verbose() {
            eprintln!("{}", self.paint(&redact(message), Style::Dim));
        }
    }

    /// Starts the line of a step that is about to run.
    pub(crate) fn step(&self, name: &str, reason: &str) -> StepLine {
        // A reason names files, whose names may hold anything but `/` and NUL.
        let reason = printable(&redact(reason)).into_owned();
        let bar = self.progress.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(self.label(name));
            bar.set_message(reason.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            *self.active_bar() = Some(bar.clone());
            bar
        });
        if bar.is_none() && self.verbosity >= Verbosity::Normal {
            eprintln!("{} running ({reason})", self.label(name));
        }
        StepLine {
            printer: self.clone(),
            name: name.to_string(),
            bar,
            start: Instant::now(),
        }
    }

    /// Says on the running step's spinner what it is doing now ("creating the venv"); the
    /// reason it runs stays in `--explain`. Plain lines (CI logs) do not repeat phases:
    /// `-v` shows each command instead.
    pub(crate) fn phase(&self, what: &str) {
        if let Some(bar) = self.active_bar().as_ref() {
            bar.set_message(redact(what).into_owned());
        }
    }

    fn active_bar(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The line of a step that had nothing to do.
    pub(crate) fn fresh(&self, name: &str, detail: &str) {
        if self.fresh_lines && self.verbosity >= Verbosity::Normal {
            eprintln!(
                "{} {}{}",
                self.label(name),
                self.paint("fresh", Style::Green),
                redact(detail)
            );
        }
    }

    /// The line of a step whose result was fetched (from a cache) instead of made.
    pub(crate) fn fetched(&self, name: &str, elapsed: Duration, detail: &str) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!(
                "{} {} in {:.1}s{}",
                self.label(name),
                self.paint("fetched", Style::Green),
                elapsed.as_secs_f64(),
                redact(detail)
            );
        }
    }

    pub(crate) fn paint(&self, text: &str, style: Style) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match style {
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Red => "31",
            Style::Bold => "1",
            Style::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Style {
    Green,
    Yellow,
    Red,
    Bold,
    Dim,
}

/// A running step's line; finish it with [`StepLine::done`] or [`StepLine::failed`].
pub(crate) struct StepLine {
    printer: Printer,
    name: String,
    bar: Option<ProgressBar>,
    start: Instant,
}

impl StepLine {
    pub(crate) fn done(self, detail: &str) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let word = self.printer.paint("done", Style::Green);
        self.finish(&format!("{word} in {elapsed:.1}s{detail}"));
    }

    pub(crate) fn failed(self) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let word = self.printer.paint("failed", Style::Red);
        self.finish(&format!("{word} after {elapsed:.1}s"));
    }

    fn finish(self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            *self.printer.active_bar() = None;
        }
        if self.printer.verbosity >= Verbosity::Normal {
            eprintln!("{} {}", self.printer.label(&self.name), redact(text));
        }
    }
}

/// `text` with its control characters escaped (`\u{1b}`, `\n`), for text from project.toml
/// or a file's name shown on a terminal: a task's description must not clear the screen or
/// retitle the window, nor a file named with a newline forge a line. Bidirectional
/// overrides are escaped too, so that text cannot reorder itself, and the line and
/// paragraph separators (U+2028, U+2029), which some terminals break lines at.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    let escaped =
        |c: char| c.is_control() || matches!(c, '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if escaped(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("x\u{1b}[2Jy"), "x\\u{1b}[2Jy");
        assert_eq!(printable("a\nb\tc\u{7f}\u{9b}"), "a\\nb\\tc\\u{7f}\\u{9b}");
        assert_eq!(printable("abc\u{202e}"), "abc\\u{202e}");
        assert_eq!(printable("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
        assert!(matches!(printable("Lint · the code ✓"), Cow::Borrowed(_)));
    }
}
