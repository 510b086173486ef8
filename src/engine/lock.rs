//! The exclusive lock on a project's `.pybuild/`: one pybuild at a time builds a project
//! and writes its state; another waits, or fails at once with `--no-wait`.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::base::ui::Printer;
use crate::engine::state::{LAYOUT, LOCK_FILE};

/// The exclusive lock on a project's `.pybuild/`, held while the value lives: it guards
/// builds and their state, not the programs a build hands over to (see [`Lock::release`]).
pub(crate) struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// Takes the lock; if another pybuild holds it, says so and waits, or fails when
    /// `wait` is false.
    pub(crate) fn acquire(dir: &Path, wait: bool, printer: &Printer) -> Result<Lock> {
        repair_layout(dir, printer)?;
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut lock = Lock { file, path };
        lock.take(wait, printer)?;
        Ok(lock)
    }

    /// For a command that only reads (`status`) where `.pybuild/` cannot be written (a
    /// read-only mount, a full disk, another user's checkout): a shared lock on the lock
    /// file opened for reading, so a build's state is not read while it is written; `None`
    /// when there is no lock file (and so no state either). Writes nothing.
    pub(crate) fn acquire_to_read(
        dir: &Path,
        wait: bool,
        printer: &Printer,
    ) -> Result<Option<Lock>> {
        let path = dir.join(LOCK_FILE);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot open {}", path.display()));
            }
        };
        match file.try_lock_shared() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if wait => {
                printer.warn("waiting for another pybuild to finish with this project");
                file.lock_shared()
                    .with_context(|| format!("cannot lock {}", path.display()))?;
            }
            Err(TryLockError::WouldBlock) => anyhow::bail!(
                "another pybuild is working on this project ({} is locked)",
                path.display()
            ),
            Err(TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        Ok(Some(Lock { file, path }))
    }

    /// Lets other pybuilds in until [`Lock::retake`], while a task's command runs: that is
    /// the user's program (a server, a test runner) and may run for hours, or run pybuild
    /// itself, so holding the lock would block every build meanwhile, as `pybuild run --
    /// CMD` and `cargo run` never do.
    pub(crate) fn release(&mut self) -> Result<()> {
        self.file
            .unlock()
            .with_context(|| format!("cannot unlock {}", self.path.display()))
    }

    /// Takes the lock back after [`Lock::release`], waiting for whoever took it meanwhile.
    pub(crate) fn retake(&mut self, printer: &Printer) -> Result<()> {
        self.take(true, printer)
    }

    fn take(&mut self, wait: bool, printer: &Printer) -> Result<()> {
        let path = &self.path;
        match self.file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_pid(&mut self.file)
                    .map_or_else(String::new, |pid| format!(" (pid {pid})"));
                if !wait {
                    anyhow::bail!(
                        "another pybuild{holder} is working on this project ({} is locked)",
                        path.display()
                    );
                }
                printer.warn(&format!(
                    "waiting for another pybuild{holder} to finish with this project"
                ));
                self.file
                    .lock()
                    .with_context(|| format!("cannot lock {}", path.display()))?;
            }
            Err(TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        // Who holds it, for the message a waiting process prints.
        self.file
            .set_len(0)
            .and_then(|()| self.file.rewind())
            .and_then(|()| write!(self.file, "{}", std::process::id()))
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Removes what stands where `.pybuild/` or one of its [`LAYOUT`] entries belongs but is
/// of the other type (a file for a directory, a directory for a file, a dangling link),
/// saying so: it is pybuild's own state, and a wrong type would fail every build.
fn repair_layout(dir: &Path, printer: &Printer) -> Result<()> {
    replace_if_wrong_type(dir, true, printer)?;
    for (name, is_dir) in LAYOUT {
        replace_if_wrong_type(&dir.join(name), *is_dir, printer)?;
    }
    Ok(())
}

fn replace_if_wrong_type(path: &Path, want_dir: bool, printer: &Printer) -> Result<()> {
    let Ok(entry) = path.symlink_metadata() else {
        return Ok(());
    };
    // A link is judged by its target (a `.pybuild` linked to a directory elsewhere is
    // fine), and never followed when removed.
    let is_dir = match fs::metadata(path) {
        Ok(target) => target.is_dir(),
        Err(_) => !want_dir,
    };
    if is_dir == want_dir {
        return Ok(());
    }
    let (found, wanted) = match want_dir {
        true => ("not a directory", "directory"),
        false => ("a directory", "file"),
    };
    printer.warn(&format!(
        "{} is {found}; replacing it with pybuild's {wanted}",
        path.display()
    ));
    let removed = if entry.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    removed.with_context(|| format!("cannot remove {}", path.display()))
}

fn read_pid(file: &mut File) -> Option<String> {
    let mut pid = String::new();
    file.rewind()
        .and_then(|()| file.read_to_string(&mut pid))
        .ok()?;
    let pid = pid.trim();
    (!pid.is_empty()).then(|| pid.to_string())
}
