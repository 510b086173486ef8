//! How pybuild starts the venv's pex: with one pinned `PEX_ROOT` (the environment's, or
//! pex's default: `$XDG_CACHE_HOME/pex`, else `~/.cache/pex`) given as `--pex-root` *and*
//! as the variable (`--requirements-pex` otherwise unpacks into pex's default cache even
//! when `--pex-root` says otherwise), `[bundle] pex-args` last, and the options that make
//! the PEX start fast unless `pex-args` choose otherwise.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;

use crate::args;
use crate::python::build::Build;
use crate::python::wheelhouse;
use crate::steps::bundle::backend::Job;

/// `--venv --sh-boot` unless `pex-args` choose how the PEX starts: from its second run on,
/// it starts from the venv it unpacked into `PEX_ROOT` through a `/bin/sh` header that
/// finds it at once (about 0.07 s against 0.7 s for a zipapp PEX).
pub(super) fn fast_start(cx: &Build) -> Vec<OsString> {
    let chosen = cx.project.config.bundle.pex_args.iter().any(|arg| {
        // (pex has no `--no-venv`: its zipapp layout is what `--venv` is absent from.)
        ["--venv", "--sh-boot", "--no-sh-boot", "--layout"]
            .iter()
            .any(|flag| arg == flag || arg.starts_with(&format!("{flag}=")))
    });
    if chosen {
        Vec::new()
    } else {
        args!["--venv", "--sh-boot"].to_vec()
    }
}

/// Runs the venv's pex with `argv`, the pinned PEX_ROOT and `[bundle] pex-args`.
pub(super) fn run_pex(cx: &Build, argv: Vec<OsString>) -> Result<()> {
    run_pex_with(cx, argv, &[])
}

/// [`run_pex`] with the variables of `extra` set too.
pub(super) fn run_pex_with(
    cx: &Build,
    mut argv: Vec<OsString>,
    extra: &[(String, OsString)],
) -> Result<()> {
    let root = pex_root();
    argv.extend(args!["--pex-root", &root]);
    argv.extend(cx.project.config.bundle.pex_args.iter().map(Into::into));
    let pex = cx.project.venv().join("bin").join("pex");
    // pex's own modules get their bytecode written on its first run: uv compiles none at
    // install (pip did), and without it each run (two in a cold build, one per edit)
    // would compile pex again wherever `PYTHONDONTWRITEBYTECODE` is set (0.4 s each).
    // Only pex's: it imports none of the project's code.
    let mut env = vec![
        ("PEX_ROOT", root.as_os_str()),
        ("PYTHONDONTWRITEBYTECODE", std::ffi::OsStr::new("")),
    ];
    env.extend(
        extra
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_os_str())),
    );
    cx.runner.run_with_env(pex, &argv, &env)
}

/// What else decides what pex resolves and builds: the interpreter, pex's version and
/// `pex-args` (which also choose the pip whose own requirements are filled).
pub(super) fn pex_environment(cx: &Build, job: &Job) -> String {
    let env = cx.env_at(&job.site_packages);
    let pex_version = env.version("pex").unwrap_or_default();
    format!(
        "{}\npex {pex_version}\n{}",
        job.python.describe(),
        cx.project.config.bundle.pex_args.join("\0"),
    )
}

/// The pex cache: `PEX_ROOT`, or pex's own default (appdirs' user cache folder, which
/// honours `XDG_CACHE_HOME`).
fn pex_root() -> PathBuf {
    match std::env::var_os("PEX_ROOT") {
        Some(root) => PathBuf::from(root),
        None => wheelhouse::user_cache_dir().join("pex"),
    }
}
