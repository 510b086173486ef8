//! A process told apart from every other, for names pybuild leaves on disk (a running
//! command's record, a wheelhouse fill's folder): a pid alone is reused, but not together
//! with the start time of its process (`/proc/PID/stat`, in clock ticks since boot) and
//! the boot it happened in (`/proc/sys/kernel/random/boot_id`, which also differs from one
//! machine to another sharing a folder). Written `BOOT-PID-START`, e.g. `aff5b109-4242-45129`.

use std::fmt;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// When what a process of [`Liveness::Unknown`] left is taken for abandoned: a build runs
/// for minutes, not a day.
pub(crate) const FOREIGN_AGE: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The first 8 hex digits of the boot id.
    boot: String,
    pid: u32,
    start: u64,
}

/// Whether the process an [`Identity`] names still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    Alive,
    /// Ended, or ended and not yet reaped (a zombie does nothing any more).
    Gone,
    /// Of another boot, or another machine: nothing here can tell.
    Unknown,
}

impl Identity {
    /// This process; `None` without a readable `/proc`.
    pub(crate) fn current() -> Option<Identity> {
        static CURRENT: OnceLock<Option<Identity>> = OnceLock::new();
        CURRENT
            .get_or_init(|| {
                let (start, _) = stat(std::process::id())?;
                Some(Identity {
                    boot: boot()?.to_string(),
                    pid: std::process::id(),
                    start,
                })
            })
            .clone()
    }

    /// Reads what [`Identity`]'s `Display` wrote.
    pub(crate) fn parse(text: &str) -> Option<Identity> {
        let mut parts = text.splitn(3, '-');
        let boot = parts.next()?;
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        let is_boot = boot.len() == 8 && boot.chars().all(|c| c.is_ascii_hexdigit());
        is_boot.then(|| Identity {
            boot: boot.to_string(),
            pid,
            start,
        })
    }

    pub(crate) fn liveness(&self) -> Liveness {
        if boot() != Some(self.boot.as_str()) {
            return Liveness::Unknown;
        }
        match stat(self.pid) {
            Some((start, state)) if start == self.start && !matches!(state, 'Z' | 'X') => {
                Liveness::Alive
            }
            _ => Liveness::Gone,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.boot, self.pid, self.start)
    }
}

/// Whether `path`, left by a process that cannot be checked from here (of [`Liveness::Unknown`],
/// or unnamed), was untouched for [`FOREIGN_AGE`].
pub(crate) fn untouched_for_long(path: &Path) -> bool {
    fs::symlink_metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age > FOREIGN_AGE)
}

fn boot() -> Option<&'static str> {
    static BOOT: OnceLock<Option<String>> = OnceLock::new();
    BOOT.get_or_init(|| {
        let id = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        id.get(..8).map(str::to_string)
    })
    .as_deref()
}

/// A process's start time and state letter, from `/proc/PID/stat`.
pub(super) fn stat(pid: u32) -> Option<(u64, char)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold anything, `)` included.
    let (_, fields) = text.rsplit_once(')')?;
    let mut fields = fields.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `starttime` is field 22; `state` was field 3.
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

/// A process's parent, from `/proc/PID/stat`.
pub(super) fn parent(pid: u32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, fields) = text.rsplit_once(')')?;
    fields.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_reads_back() {
        let me = Identity::current().unwrap();
        assert_eq!(me.pid, std::process::id());
        assert_eq!(me.liveness(), Liveness::Alive);
        assert_eq!(Identity::parse(&me.to_string()), Some(me.clone()));
        let restarted = Identity {
            start: me.start + 1,
            ..me.clone()
        };
        assert_eq!(restarted.liveness(), Liveness::Gone);
        let elsewhere = Identity {
            boot: "00000000".into(),
            ..me
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
        assert_eq!(Identity::parse("4242"), None);
        assert_eq!(Identity::parse("nothex!!-1-2"), None);
    }

    #[test]
    fn an_ended_process_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let (start, _) = stat(pid).unwrap();
        let identity = Identity {
            boot: boot().unwrap().to_string(),
            pid,
            start,
        };
        // Exited but not reaped yet, then reaped.
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(identity.liveness(), Liveness::Gone);
        child.wait().unwrap();
        assert_eq!(identity.liveness(), Liveness::Gone);
    }
}
