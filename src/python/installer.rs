//! Installing packages into the venv: uv by default (the one on PATH, else pybuild's own,
//! see `uv`), pip with `installer = "pip"`. Both take pip's `install` arguments.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::args;
use crate::base::config::Installer as Choice;
use crate::base::error::UserError;
use crate::python::build::Build;
use crate::python::env_lock::{EnvLock, Locked};
use crate::python::installed;
use crate::python::uv;
use crate::python::wheelhouse;

pub(crate) enum Installer {
    Pip,
    Uv(PathBuf),
}

impl Installer {
    /// The installer `[env] installer` asks for; fetches uv when it is not yet here
    /// (logged under `step`). With `auto`, a uv that cannot be fetched (offline, say)
    /// costs a warning and pip is used.
    pub(crate) fn resolve(cx: &mut Build) -> Result<Installer> {
        match cx.project.config.env.installer {
            Choice::Pip => Ok(Installer::Pip),
            Choice::Uv => uv::find_or_fetch(cx).map(Installer::Uv),
            Choice::Auto => match uv::find_or_fetch(cx) {
                Ok(uv) => Ok(Installer::Uv(uv)),
                Err(err) => {
                    cx.printer.warn(&format!("{err:#}: using pip"));
                    Ok(Installer::Pip)
                }
            },
        }
    }

    /// How the installer `choice` asks for appears in fingerprints, told without
    /// fetching anything (so `status` never does): changing it reinstalls.
    pub(crate) fn describe(choice: Choice) -> String {
        match choice {
            Choice::Pip => "pip".into(),
            Choice::Auto | Choice::Uv => match uv::on_path() {
                Some(path) => format!("uv {}", path.display()),
                None => format!("uv {} (pybuild's own)", uv::VERSION),
            },
        }
    }

    /// `pip install ARGS` into the project's venv, logged under `step`.
    pub(crate) fn install(&self, cx: &Build, install_args: &[OsString]) -> Result<()> {
        let python = cx.project.venv_python();
        let (program, mut argv) = match self {
            Installer::Pip => (
                python.into_os_string(),
                args!["-m", "pip", "install"].to_vec(),
            ),
            Installer::Uv(uv) => (
                uv.clone().into_os_string(),
                args!["pip", "install", "--python", python].to_vec(),
            ),
        };
        let uv = matches!(self, Installer::Uv(_));
        match uv && wheelhouse::offline(cx) {
            // uv offline resolves from its own cache (what it downloaded before) and
            // the wheelhouse; `--no-index` would hide its cache.
            true => argv.extend(args!["--offline", "--find-links", wheelhouse::dir()]),
            false => argv.extend(wheelhouse::pip_args(cx)),
        }
        argv.extend_from_slice(install_args);
        let ran = cx.runner.run(program, &argv);
        cx.venv_changed();
        ran.map_err(|err| wheelhouse::offline_failure(err, cx))
            .map_err(|err| match uv {
                true => uv_sources_failure(err),
                false => err,
            })
    }

    /// Reinstalls, at the same version and without their dependencies, the distributions
    /// an interrupted install left incomplete (see `Env::broken`); `except` is the
    /// project itself, which its editable install replaces anyway.
    pub(crate) fn repair(&self, cx: &mut Build, except: &str) -> Result<()> {
        let env = cx.env()?;
        let except = installed::normalize(except);
        let broken: Vec<OsString> = env
            .broken()
            .into_iter()
            .filter(|dist| dist.key != except)
            .map(|dist| format!("{}=={}", dist.name, dist.version).into())
            .collect();
        if broken.is_empty() {
            return Ok(());
        }
        cx.printer.warn(&format!(
            "reinstalling what an interrupted install left incomplete: {}",
            broken
                .iter()
                .map(|b| b.to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let flag = match self {
            Installer::Pip => "--force-reinstall",
            Installer::Uv(_) => "--reinstall",
        };
        let mut argv = args![flag, "--no-deps"].to_vec();
        argv.extend(broken);
        self.install(cx, &argv)
    }
}

/// Makes the venv hold what the environment lock `lock` says, with uv whatever the
/// configured installer (see `env_lock`); `with_project` installs the project too,
/// editable. What the venv holds beyond the lock is left to `prune`, which knows the
/// tools are wanted (`uv sync` alone would remove them).
pub(crate) fn install_lock(
    cx: &mut Build,
    lock: EnvLock,
    locked: &Locked,
    with_project: bool,
) -> Result<()> {
    let uv = uv::find_or_fetch(cx)?;
    let synced = sync_to_lock(cx, &uv, lock, locked, with_project);
    cx.venv_changed();
    synced
}

fn sync_to_lock(
    cx: &mut Build,
    uv: &Path,
    lock: EnvLock,
    locked: &Locked,
    with_project: bool,
) -> Result<()> {
    let python = cx.project.venv_python();
    let offline = wheelhouse::offline(cx);
    match lock {
        EnvLock::Uv => {
            let mut argv = args![
                "sync",
                "--inexact",
                "--no-python-downloads",
                "--python",
                &python
            ]
            .to_vec();
            argv.extend(if offline {
                args!["--frozen", "--offline"].to_vec()
            } else {
                args!["--locked"].to_vec()
            });
            if cx.project.workspace.is_some() {
                // One venv for the workspace: every member, editable, as `uv sync` at the
                // root of a workspace leaves out all but the root's.
                argv.push("--all-packages".into());
            } else if !with_project {
                argv.push("--no-install-project".into());
            }
            let venv = cx.project.venv();
            cx.runner
                .run_with_env(uv, &argv, &[("UV_PROJECT_ENVIRONMENT", venv.as_os_str())])
                .map_err(|err| lock_failure(err, uv))
        }
        EnvLock::Pylock => {
            let mut argv = args!["pip", "install", "--python", &python].to_vec();
            if offline {
                argv.push("--offline".into());
            }
            let mut install = argv.clone();
            install.extend(args!["-r", lock.file_name()]);
            cx.runner.run(uv, &install)?;
            if with_project && !locked.installs_project {
                argv.extend(args!["-e", "."]);
                cx.runner.run(uv, &argv)?;
            }
            Ok(())
        }
    }
}

/// uv honours the project's `[tool.uv.sources]`, which may name what only its own
/// repository holds (a workspace member an sdist does not ship, a path beside it): pip
/// ignores that table. When uv says so, the way out is named.
fn uv_sources_failure(err: anyhow::Error) -> anyhow::Error {
    let names_sources = err
        .downcast_ref::<crate::base::process::CommandFailed>()
        .is_some_and(|failed| {
            failed
                .tail
                .iter()
                .any(|line| line.contains("tool.uv.sources"))
        });
    if !names_sources {
        return err;
    }
    err.context(
        UserError::failure("uv cannot resolve the project's `[tool.uv.sources]` here")
            .hint("install with pip, which ignores that table: `installer = \"pip\"` in `[env]` of project.toml")
            .hint("or keep uv and turn its sources off: `no-sources = true` in a uv.toml beside pyproject.toml (uv's `--no-sources`)"),
    )
}

/// A failed `uv sync`, with the hint that fits what uv said: `uv lock` only when the lock
/// is out of date (the uv that knows the lock may be pybuild's own, not on PATH), the
/// index's credentials when it refused a download.
fn lock_failure(err: anyhow::Error, uv: &std::path::Path) -> anyhow::Error {
    let tail = err
        .downcast_ref::<crate::base::process::CommandFailed>()
        .map(|failed| failed.tail.join("\n"))
        .unwrap_or_default();
    let failure = UserError::failure("cannot sync the venv to uv.lock");
    let failure = if tail.contains("needs to be updated") || tail.contains("--locked") {
        failure.hint(format!(
            "the lock is out of date: `{} lock` updates it",
            uv.display()
        ))
    } else if ["401", "403", "Unauthorized", "Forbidden"]
        .iter()
        .any(|code| tail.contains(code))
    {
        failure.hint(
            "the index refused a download: check its URL and credentials (UV_INDEX_* variables, ~/.netrc, keyring)",
        )
    } else {
        failure
    };
    err.context(failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::process::CommandFailed;

    fn failed(tail: &[&str]) -> anyhow::Error {
        CommandFailed {
            command: "uv sync".into(),
            status: "exited with code 1".into(),
            code: Some(1),
            log: None,
            tail: tail.iter().map(|l| l.to_string()).collect(),
        }
        .into()
    }

    fn hints(err: anyhow::Error) -> String {
        crate::base::error::render(&err)
    }

    #[test]
    fn a_lock_failure_gets_the_hint_that_fits_what_uv_said() {
        let uv = std::path::Path::new("/cache/uv");
        let stale = hints(lock_failure(
            failed(&[
                "error: The lockfile at `uv.lock` needs to be updated, but `--locked` was provided.",
            ]),
            uv,
        ));
        assert!(stale.contains("`/cache/uv lock` updates it"), "{stale}");
        let refused = hints(lock_failure(
            failed(&[
                "error: Failed to download `six==1.16.0`",
                "  Caused by: HTTP status client error (403 Forbidden)",
            ]),
            uv,
        ));
        assert!(!refused.contains("lock` updates it"), "{refused}");
        assert!(
            refused.contains("check its URL and credentials"),
            "{refused}"
        );
    }
}
