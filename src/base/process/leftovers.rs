//! What a killed pybuild left running, ended by the next build of the project.
//!
//! A pybuild that is SIGKILLed (or OOM-killed) cannot clean up. Its direct children die with
//! it (`PR_SET_PDEATHSIG`, see `children`), but what they started does not: `python -m
//! venv` dies and `ensurepip` with its pip carries on, writing into the venv that the next
//! build clears. Nothing pybuild sets up beforehand reaches those once it is gone: the
//! death signal is not inherited, a subreaper helps only while it lives, and a process
//! group can be left (and pybuild's own may be a whole `make` job). So the next build
//! ends them:
//!
//! - Each command gets a token, `<owner>-<n>` (owner: the pybuild's [`Identity`], n: the
//!   command's number in it), in its environment as `PYBUILD_COMMAND_ID`, which everything
//!   it starts inherits, and as a record `.pybuild/running/<token>` (holding the command
//!   line) from just before it starts until it was reaped.
//! - A build, under the project's lock and before its first step, reads the records. A
//!   record whose owner still runs is left alone (a task's command runs without the lock);
//!   one whose owner is gone names leftovers: every process whose environment holds its
//!   token is SIGKILLed, until none is left (up to [`WAIT`]), and the record is removed.
//!   This process and its ancestors are spared: a pybuild run by a killed pybuild's task
//!   holds that task's token too.
//! - A record of another boot or machine is removed, ending nothing, once a day old
//!   (`identity::FOREIGN_AGE`): its processes cannot be seen from here, and it may belong to
//!   a build still running elsewhere.
//!
//! A program that clears its environment (`env -i`) escapes this; pip, ensurepip, pex and
//! the build backends they run do not.
//!
//! What a killed pybuild left half-written is found the same way: every temp file or folder
//! pybuild makes beside an output (`base/outputs.rs`, a fetched blob) is named by
//! [`temp_name`], `.pybuild-tmp-<owner>-<n>`, and [`sweep_temporaries`] (each build, and
//! `clean`) removes those of an owner that is gone, or of one that cannot be checked from
//! here once a day old.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use super::identity::{self, Identity, Liveness};
use crate::base::ui::Printer;

/// The environment variable holding a command's token.
pub(crate) const MARKER: &str = "PYBUILD_COMMAND_ID";
/// How long the leftovers of a killed build have to end after SIGKILL.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// How the names of pybuild's temp files begin.
pub(crate) const TEMP_PREFIX: &str = ".pybuild-tmp-";

/// A new name for a temp file or folder of this process: `.pybuild-tmp-<owner>-<n>`, unique
/// in the process, found by [`sweep_temporaries`] once the process is gone.
pub(crate) fn temp_name() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Without `/proc` the owner cannot be told: the pid alone, swept once a day old.
    let owner = Identity::current()
        .map(|me| me.to_string())
        .unwrap_or_else(|| format!("unknown{}", std::process::id()));
    format!("{TEMP_PREFIX}{owner}-{n}")
}

/// Removes from each of `dirs` the temp files and folders ([`temp_name`]) of pybuilds that
/// are gone; returns how many. Never fails: what cannot be removed now is tried next time.
pub(crate) fn sweep_temporaries(dirs: &[PathBuf]) -> usize {
    let mut removed = 0;
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
                continue;
            };
            let owner = rest
                .rsplit_once('-')
                .and_then(|(owner, _)| Identity::parse(owner));
            let abandoned = match owner.map(|owner| owner.liveness()) {
                Some(Liveness::Alive) => false,
                Some(Liveness::Gone) => true,
                Some(Liveness::Unknown) | None => identity::untouched_for_long(&entry.path()),
            };
            if !abandoned {
                continue;
            }
            let path = entry.path();
            // Not followed: a link is removed as a link.
            let gone = match entry.file_type() {
                Ok(kind) if kind.is_dir() => fs::remove_dir_all(&path),
                _ => fs::remove_file(&path),
            };
            removed += usize::from(gone.is_ok());
        }
    }
    removed
}

/// The records' folder in a project's `.pybuild/`.
fn records(state_dir: &Path) -> PathBuf {
    state_dir.join("running")
}

/// A started command's record, removed when dropped.
pub(super) struct Record {
    path: PathBuf,
    token: String,
}

impl Record {
    /// Writes the record of this process's command number `n`, shown as `display`. `None`
    /// when it cannot be written (no `/proc`, a read-only project): the command then runs
    /// untracked, as it would have before, rather than not at all.
    pub(super) fn create(state_dir: &Path, n: u64, display: &str) -> Option<Record> {
        let token = format!("{}-{n}", Identity::current()?);
        let dir = records(state_dir);
        fs::create_dir_all(&dir).ok()?;
        let path = dir.join(&token);
        fs::write(&path, display).ok()?;
        Some(Record { path, token })
    }

    /// The value of [`MARKER`] for the command.
    pub(super) fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Ends what killed pybuilds left running in the project of `state_dir` (see the module's
/// doc); call it holding the project's lock. Says what it ended; never fails the build.
pub(crate) fn end_leftovers(state_dir: &Path, printer: &Printer) {
    let dir = records(state_dir);
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    // token → (record, the command it holds)
    let mut orphaned: HashMap<String, (PathBuf, String)> = HashMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(token) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let owner = token
            .rsplit_once('-')
            .and_then(|(owner, _)| Identity::parse(owner));
        match owner.map(|owner| owner.liveness()) {
            Some(Liveness::Alive) => {}
            Some(Liveness::Gone) => {
                let command = fs::read_to_string(&path).unwrap_or_default();
                orphaned.insert(token, (path, command));
            }
            Some(Liveness::Unknown) | None => {
                if identity::untouched_for_long(&path) {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
    if orphaned.is_empty() {
        return;
    }
    let spared = this_and_ancestors();
    let deadline = Instant::now() + WAIT;
    let mut ended = BTreeSet::new();
    let mut holding = BTreeSet::new();
    loop {
        let found = marked_processes(&orphaned, &spared);
        if found.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            holding = found.values().cloned().collect();
            let pids: Vec<String> = found.keys().map(u32::to_string).collect();
            printer.warn(&format!(
                "processes left running by a pybuild that was killed did not end: pid {}",
                pids.join(", ")
            ));
            break;
        }
        for (&pid, token) in &found {
            if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
                // It may have ended meanwhile: nothing to do then.
                let _ = rustix::process::kill_process(pid, Signal::KILL);
            }
            ended.insert(token.clone());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for (token, (path, _)) in &orphaned {
        // Kept while something of it runs on, so that the next build tries again.
        if !holding.contains(token) {
            let _ = fs::remove_file(path);
        }
    }
    if !ended.is_empty() {
        let commands: Vec<String> = ended
            .iter()
            .map(|token| format!("`{}`", orphaned[token].1))
            .collect();
        printer.warn(&format!(
            "ended the processes that {} of a killed pybuild left running",
            commands.join(", ")
        ));
    }
}

/// The live processes (pid → token) whose environment holds one of `tokens`' tokens.
fn marked_processes(
    tokens: &HashMap<String, (PathBuf, String)>,
    spared: &BTreeSet<u32>,
) -> HashMap<u32, String> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return HashMap::new();
    };
    let prefix = format!("{MARKER}=");
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| !spared.contains(pid))
        .filter_map(|pid| {
            // Unreadable for another user's process; empty for a zombie, which is over.
            let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
            let token = environ
                .split(|&b| b == 0)
                .find_map(|var| var.strip_prefix(prefix.as_bytes()))?;
            let token = std::str::from_utf8(token).ok()?;
            tokens.contains_key(token).then(|| (pid, token.to_string()))
        })
        .collect()
}

fn this_and_ancestors() -> BTreeSet<u32> {
    let mut pids = BTreeSet::new();
    let mut pid = std::process::id();
    while pid > 1 && pids.insert(pid) {
        match identity::parent(pid) {
            Some(parent) => pid = parent,
            None => break,
        }
    }
    pids
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, Command};

    /// A process marked with `token`, once it runs `sleep` (before that, its environment is
    /// still the test's).
    fn sleeper(token: &str) -> Child {
        let child = Command::new("sleep")
            .arg("30")
            .env(MARKER, token)
            .spawn()
            .unwrap();
        let marked = format!("{MARKER}={token}");
        while !fs::read(format!("/proc/{}/environ", child.id()))
            .is_ok_and(|env| String::from_utf8_lossy(&env).contains(&marked))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        child
    }

    #[test]
    fn leftovers_of_a_gone_owner_are_ended_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let running = records(dir.path());
        fs::create_dir_all(&running).unwrap();
        let me = Identity::current().unwrap().to_string();
        // A pybuild with this pid that started one tick later: not this one, so gone.
        let (pid, start) = me.rsplit_once('-').unwrap();
        let gone = format!("{pid}-{}", start.parse::<u64>().unwrap() + 1);
        let (alive_token, gone_token) = (format!("{me}-1"), format!("{gone}-1"));
        for token in [&alive_token, &gone_token] {
            fs::write(running.join(token), "python -m venv").unwrap();
        }
        let old = filetime::FileTime::from_unix_time(1_000_000_000, 0);
        for (token, mtime) in [("00000000-1-1-1", Some(old)), ("00000000-2-2-2", None)] {
            fs::write(running.join(token), "elsewhere").unwrap();
            if let Some(mtime) = mtime {
                filetime::set_file_mtime(running.join(token), mtime).unwrap();
            }
        }
        let mut alive = sleeper(&alive_token);
        let mut left = sleeper(&gone_token);

        end_leftovers(dir.path(), &Printer::silent());

        let status = left.try_wait().unwrap().expect("the leftover was ended");
        assert_eq!(status.signal(), Some(9));
        assert!(
            alive.try_wait().unwrap().is_none(),
            "a live build's command was ended"
        );
        let mut kept: Vec<String> = fs::read_dir(&running)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        kept.sort();
        assert_eq!(kept, ["00000000-2-2-2".to_string(), alive_token]);
        alive.kill().unwrap();
        alive.wait().unwrap();
    }

    #[test]
    fn temporaries_of_gone_pybuilds_are_swept_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().join(temp_name());
        fs::create_dir_all(mine.join("blobs")).unwrap();
        let me = Identity::current().unwrap().to_string();
        let (pid, start) = me.rsplit_once('-').unwrap();
        let gone = format!("{pid}-{}", start.parse::<u64>().unwrap() + 1);
        let left = dir.path().join(format!("{TEMP_PREFIX}{gone}-0"));
        fs::create_dir_all(left.join("blobs/sha256")).unwrap();
        // As `tempfile` names a fetched blob: the prefix, then random letters.
        let left_file = dir.path().join(format!("{TEMP_PREFIX}{gone}-1aB3xZ"));
        fs::write(&left_file, "half").unwrap();
        let foreign = dir.path().join(format!("{TEMP_PREFIX}00000000-1-1-0"));
        fs::write(&foreign, "elsewhere").unwrap();
        let users = dir.path().join(".tmp-not-ours");
        fs::write(&users, "the user's").unwrap();

        assert_eq!(sweep_temporaries(&[dir.path().to_path_buf()]), 2);
        assert!(mine.is_dir() && foreign.exists() && users.exists());
        assert!(!left.exists() && !left_file.exists());
    }

    #[test]
    fn a_record_lives_while_its_command_does() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::create(dir.path(), 3, "pip wheel x").unwrap();
        let path = records(dir.path()).join(record.token());
        assert!(record.token().ends_with("-3"), "{}", record.token());
        assert_eq!(fs::read_to_string(&path).unwrap(), "pip wheel x");
        drop(record);
        assert!(!path.exists());
    }
}
