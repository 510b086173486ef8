//! The commands pybuild is running, kept track of so that they can be ended together with
//! everything they started: when `watch` cancels a run, and on Ctrl-C during `watch`.
//!
//! - Every command dies with pybuild (`PR_SET_PDEATHSIG`), so a pybuild that is killed
//!   never leaves its direct children running; what they started is ended by the next
//!   build, through the record each command has while it runs (`leftovers`).
//! - By default a command stays in pybuild's process group, so the terminal's Ctrl-C reaches
//!   it as it reaches pybuild. After [`isolate`] (which `watch` calls) each command starts in
//!   a process group of its own, so that one run can be cancelled without ending pybuild;
//!   signals must then be forwarded, which [`cancel_all`] does.
//! - [`cancel_all`] sends SIGTERM to each running command (its whole group when isolated),
//!   waits up to [`GRACE`] for them to be reaped, then SIGKILLs what is left (a group's
//!   stragglers included). From then on starting a command fails with [`Cancelled`] until
//!   [`resume`], so a build that was between two commands stops at the next one instead of
//!   carrying on.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Result;
use rustix::process::{Pid, Signal};

use super::leftovers::{MARKER, Record};

/// How long a cancelled command has to exit after SIGTERM before it is SIGKILLed.
pub(crate) const GRACE: Duration = Duration::from_millis(400);

/// Starting a command was refused: the run it belongs to was cancelled.
#[derive(Debug, thiserror::Error)]
#[error("the run was cancelled")]
pub(crate) struct Cancelled;

struct Registry {
    /// (registration id, pid) of each command started and not yet reaped.
    running: Vec<(u64, u32)>,
    next_id: u64,
    isolated: bool,
    cancelled: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    running: Vec::new(),
    next_id: 0,
    isolated: false,
    cancelled: false,
});
/// Notified whenever a command is reaped.
static REAPED: Condvar = Condvar::new();

fn registry() -> MutexGuard<'static, Registry> {
    // The registry stays consistent whatever panicked while holding it.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts every later command in a process group of its own.
pub(crate) fn isolate() {
    registry().isolated = true;
}

/// Lets commands start again after [`cancel_all`].
pub(crate) fn resume() {
    registry().cancelled = false;
}

/// Makes `expression`'s process die with pybuild, puts it in a group of its own if
/// `isolated`, and marks it and all it starts with its record's token.
fn prepare(
    expression: duct::Expression,
    isolated: bool,
    record: Option<&Record>,
) -> duct::Expression {
    let expression = match record {
        Some(record) => expression.env(MARKER, record.token()),
        None => expression,
    };
    let parent = std::process::id();
    expression.before_spawn(move |command| {
        if isolated {
            command.process_group(0);
        }
        // SAFETY: runs in the child between fork and exec, and makes only
        // async-signal-safe system calls (prctl, getppid), allocating nothing.
        unsafe {
            command.pre_exec(move || die_with_parent(parent));
        }
        Ok(())
    })
}

fn die_with_parent(parent: u32) -> std::io::Result<()> {
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
    // pybuild may have died before the request took effect: then nobody waits for us.
    let now = rustix::process::getppid().map(|pid| pid.as_raw_nonzero().get());
    if now != Some(parent as i32) {
        return Err(rustix::io::Errno::SRCH.into());
    }
    Ok(())
}

/// A started command, registered (and recorded in `.pybuild/running/`) until this is
/// dropped, after the command was reaped.
pub(super) struct Registration {
    id: u64,
    _record: Option<Record>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        registry().running.retain(|(id, _)| *id != self.id);
        REAPED.notify_all();
    }
}

/// Starts `expression` (shown as `display`) with `spawn` and registers its processes,
/// unless runs are cancelled; records it in the project of `state_dir` first, so that a
/// pybuild killed at any moment after leaves a record of it. Holding the registry while
/// spawning means [`cancel_all`] sees every command started before it, and none starts
/// after it.
pub(super) fn start<T>(
    expression: duct::Expression,
    state_dir: &Path,
    display: &str,
    spawn: impl FnOnce(&duct::Expression) -> std::io::Result<T>,
    pids: impl Fn(&T) -> Vec<u32>,
) -> Result<(T, Registration)> {
    let mut registry = registry();
    if registry.cancelled {
        return Err(Cancelled.into());
    }
    let id = registry.next_id;
    registry.next_id += 1;
    let record = Record::create(state_dir, id, display);
    let handle = spawn(&prepare(expression, registry.isolated, record.as_ref()))?;
    registry
        .running
        .extend(pids(&handle).into_iter().map(|pid| (id, pid)));
    Ok((
        handle,
        Registration {
            id,
            _record: record,
        },
    ))
}

/// Ends every running command and everything it started (see the module's doc), and
/// refuses to start new ones until [`resume`].
pub(crate) fn cancel_all() {
    let (pids, isolated) = {
        let mut registry = registry();
        registry.cancelled = true;
        let pids: Vec<u32> = registry.running.iter().map(|(_, pid)| *pid).collect();
        (pids, registry.isolated)
    };
    if pids.is_empty() {
        return;
    }
    for &pid in &pids {
        signal(pid, isolated, Signal::TERM);
    }
    let deadline = Instant::now() + GRACE;
    let mut registry = registry();
    while !registry.running.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        registry = REAPED
            .wait_timeout(registry, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    let still_running: Vec<u32> = registry.running.iter().map(|(_, pid)| *pid).collect();
    drop(registry);
    if isolated {
        // A group can outlive its leader: what the command started and left behind.
        for &pid in &pids {
            signal(pid, true, Signal::KILL);
        }
    } else {
        for pid in still_running {
            signal(pid, false, Signal::KILL);
        }
    }
}

fn signal(pid: u32, group: bool, signal: Signal) {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    // It may be gone already: nothing to do then.
    let _ = if group {
        rustix::process::kill_process_group(pid, signal)
    } else {
        rustix::process::kill_process(pid, signal)
    };
}
