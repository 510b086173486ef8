//! pex resolving from the wheelhouse alone (the wheel build: the project's build
//! requirements, or its requirements when there is no editable install to read them
//! from), and the wheelhouse kept filled for it: once per set of requirements and pex
//! environment, from the index, with what pex's own pip needs, so later builds need no
//! network.

use std::ffi::OsString;

use anyhow::{Context as _, Result};

use super::invocation::{pex_environment, run_pex_with};
use super::strategy::build_requires;
use crate::args;
use crate::engine::statcache::hash_bytes;
use crate::engine::store::{Lookup, Store};
use crate::python::build::Build;
use crate::python::wheelhouse;
use crate::steps::bundle::backend::Job;

/// Runs pex with `argv`, resolving from the wheelhouse alone, after filling it with the
/// requirement `groups` unless a stamp in the project's store (`.pybuild/layers/`) says it was filled for
/// exactly those (so an unchanged project never asks the index again). The wheelhouse is
/// a cache the user may clear behind the stamp's back: when pex then fails while online,
/// the wheelhouse is filled again and pex tried once more.
pub(super) fn pex_from_wheelhouse(
    cx: &Build,
    job: &Job,
    groups: &[Vec<String>],
    mut argv: Vec<OsString>,
    env: &[(String, OsString)],
) -> Result<()> {
    argv.extend(wheelhouse::pex_args());
    let (store, stamp) = wheelhouse_stamp(cx, job, groups);
    let stamped = matches!(store.get(&stamp), Lookup::Intact(_));
    if !stamped {
        fill_wheelhouse(cx, groups, &store, &stamp)?;
    }
    match run_pex_with(cx, argv.clone(), env) {
        Err(_) if stamped && !wheelhouse::offline(cx) => {
            cx.printer.warn(
                "pex could not build from the wheelhouse; filling it again from the package index",
            );
            fill_wheelhouse(cx, groups, &store, &stamp)?;
            run_pex_with(cx, argv, env)
        }
        result => result,
    }
}

/// The stamp that says the wheelhouse was filled for `groups` in this pex environment: an
/// entry of the project's store.
fn wheelhouse_stamp(cx: &Build, job: &Job, groups: &[Vec<String>]) -> (Store, String) {
    let digest =
        hash_bytes(format!("{}\n{}", stamp_text(groups), pex_environment(cx, job)).as_bytes());
    let store = Store::at(cx.project.store_dir());
    (store, format!("wheelhouse-{}", &digest[..16]))
}

/// Puts the build requirements in the wheelhouse (once per stamp), though a layered build
/// needs none: the next editable install or wheel build (a version bump, `strategy =
/// "wheel"`) then works without the index too.
///
/// Its stamp lies in the wheelhouse itself, shared by the user's projects: the same build
/// requirements in the same pex environment are fetched once per machine, not once per
/// checkout (a cold build of a fresh clone then asks the index for nothing here).
pub(super) fn stock_build_requirements(cx: &Build, job: &Job) -> Result<()> {
    let groups = [build_requires(&job.stage)];
    let digest =
        hash_bytes(format!("{}\n{}", stamp_text(&groups), pex_environment(cx, job)).as_bytes());
    let store = Store::at(wheelhouse::dir());
    let stamp = format!(".stocked-{}", &digest[..16]);
    if matches!(store.get(&stamp), Lookup::Intact(_)) || wheelhouse::offline(cx) {
        return Ok(());
    }
    cx.printer
        .phase("putting the build requirements in the wheelhouse, for offline builds");
    fill_wheelhouse(cx, &groups, &store, &stamp)
}

/// Fills the wheelhouse with `groups` and with what pex's own pip needs, each resolved
/// on its own: they are installed into different environments (the bundle, an isolated
/// build, pex's pip), whose pins may differ. Then enters the `stamp` in `store`.
fn fill_wheelhouse(cx: &Build, groups: &[Vec<String>], store: &Store, stamp: &str) -> Result<()> {
    let online = !wheelhouse::offline(cx);
    let mut groups = groups.to_vec();
    if online {
        groups.push(pex_pip_requirements(cx)?);
    }
    wheelhouse::fill(cx, &groups)?;
    if !online {
        // Nothing was fetched: the stamp would claim a fill that never happened.
        return Ok(());
    }
    store.put_bytes(stamp, stamp_text(&groups).as_bytes())?;
    Ok(())
}

fn stamp_text(groups: &[Vec<String>]) -> String {
    let groups: Vec<String> = groups.iter().map(|group| group.join("\n")).collect();
    groups.join("\n\n")
}

/// What pex's own pip resolves, from the same wheelhouse, before it can work: `wheel`
/// for pex's vendored pip to build a wheel (the wheel strategy), or pip, setuptools and
/// wheel themselves for a `--pip-version` in `pex-args`. pex's cache keeps them once
/// fetched: a warm cache hides their absence, a fresh one fails without them.
fn pex_pip_requirements(cx: &Build) -> Result<Vec<String>> {
    const QUERY: &str = r#"
import sys
from pex.pip.version import PipVersion
special = {"": PipVersion.DEFAULT, "latest": PipVersion.LATEST,
           "latest-compatible": PipVersion.LATEST_COMPATIBLE, "vendored": PipVersion.VENDORED}
v = special.get(sys.argv[1]) or PipVersion.for_value(sys.argv[1])
for r in [v.wheel_requirement] if v is PipVersion.VENDORED else v.requirements:
    print(r)
"#;
    let python = cx.project.venv().join("bin").join("python");
    let version = pip_version(&cx.project.config.bundle.pex_args).unwrap_or_default();
    let out = cx
        .runner
        .capture(python, &args!["-c", QUERY, version])
        .context("cannot ask pex which pip it runs (`pex-args` in project.toml may name a --pip-version pex does not know)")?;
    Ok(out
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect())
}

/// The `--pip-version` given in `pex-args`, if any.
fn pip_version(pex_args: &[String]) -> Option<String> {
    let values = crate::base::process::option_values(pex_args, "--pip-version");
    values.first().map(|value| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_version_is_read_from_pex_args_in_both_spellings() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(pip_version(&args(&["--venv"])), None);
        assert_eq!(
            pip_version(&args(&["--pip-version", "24.0", "--venv"])).as_deref(),
            Some("24.0")
        );
        assert_eq!(
            pip_version(&args(&["--pip-version=latest"])).as_deref(),
            Some("latest")
        );
    }
}
