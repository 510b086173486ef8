//! PEX bundles, built by the venv's `pex` from the staged project, in one of two ways
//! (`[bundle] strategy`):
//!
//! - **layered** (the default whenever the project allows it): the project's dependencies
//!   go into a *dependencies PEX* taken from the venv itself (`--venv-repository`: the
//!   runtime closure of the editable install's `Requires-Dist` and of the `[env]
//!   requirements` files, at exactly the venv's versions, with no resolve and no index),
//!   built once per digest of (those requirements, the venv's installed versions,
//!   interpreter, pex version, `pex-args`) and kept in `.pybuild/layers/`; each build adds
//!   the project's own code on top, as `--requirements-pex deps.pex -D layer -e
//!   module:function` would (written by `pex_layer` without starting pex when it can:
//!   the dependencies PEX is built with the final PEX's options). The layer holds exactly the
//!   staged (fingerprinted) files of each top-level package the editable install maps, so
//!   package data is in and a deleted module is out, plus a `NAME-VERSION.dist-info` with
//!   the install's `METADATA`, `entry_points.txt` and `top_level.txt`, so
//!   `importlib.metadata.version()` and entry-point lookups work. An edit costs no pex run
//!   (one that resolves and builds nothing where `pex_layer` does not apply; `bash
//!   benches/edit.sh` measures it against `pex .`).
//! - **wheel**: `pex STAGE -c SCRIPT`, which builds the project's wheel every time. `auto`
//!   falls back to it, saying why with `-v`, for what a layer cannot reproduce: compiled
//!   sources or custom build steps in the project itself, a build backend pybuild does not
//!   know, an editable install whose layout cannot be read.
//!
//! The wheel build resolves only from the wheelhouse (see `wheelhouse`), filled from the
//! index when the requirements change, so later builds need no network. Both run with one pinned
//! `PEX_ROOT` (the environment's, or pex's default: `$XDG_CACHE_HOME/pex`, else
//! `~/.cache/pex`) given as `--pex-root` *and* as the variable: `--requirements-pex`
//! otherwise unpacks into pex's default cache even when `--pex-root` says otherwise. pex output is byte-identical for identical inputs, and
//! the layer holds no absolute path, so two checkouts build the same bytes.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::backend::{Backend, Entry, Job};
use super::{pex_layer, shared_layers};
use crate::args;
use crate::base::config::Strategy;
use crate::base::error::UserError;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::statcache::{hash_bytes, hash_file};
use crate::engine::state;
use crate::python::build::Build;
use crate::python::editable::{Editable, Layout};
use crate::python::installed;
use crate::python::wheelhouse;

pub(crate) struct Pex;

/// The files of the editable install's dist-info that go into the layer.
const DIST_INFO_FILES: &[&str] = &["METADATA", "entry_points.txt", "top_level.txt"];

/// Build backends whose wheel of a pure-Python project is its packages plus metadata.
const PLAIN_BACKENDS: &[&str] = &[
    "setuptools.build_meta",
    "setuptools.build_meta:__legacy__",
    "hatchling.build",
    "flit_core.buildapi",
    "pdm.backend",
    "poetry.core.masonry.api",
    "uv_build",
];

/// Sources that a build compiles: their presence means the wheel holds more than copies.
const COMPILED_SUFFIXES: &[&str] = &[
    ".c", ".cc", ".cpp", ".cxx", ".pyx", ".pxd", ".f", ".f90", ".rs", ".go", ".swg",
];

/// `setup.py` words that mean a custom build.
const CUSTOM_BUILD_WORDS: &[&str] = &[
    "ext_modules",
    "Extension(",
    "cmdclass",
    "cffi_modules",
    "rust_extensions",
];

/// How this build makes the PEX.
#[derive(Debug)]
enum Plan {
    Layered {
        editable: Editable,
        packages: Vec<(String, String)>,
        entry_point: String,
    },
    /// The wheel build, why when `auto` chose it, and the project's requirements (from
    /// the editable install, when there is one: its closure is then taken from the venv).
    Wheel {
        why: Option<String>,
        requires: Option<Vec<String>>,
    },
}

impl Plan {
    fn describe(&self) -> String {
        match self {
            Plan::Layered { .. } => "layered".into(),
            Plan::Wheel { why: None, .. } => "wheel".into(),
            Plan::Wheel { why: Some(why), .. } => format!("wheel ({why})"),
        }
    }
}

impl Pex {
    fn plan(
        cx: &Build,
        site_packages: &Path,
        entry: &Entry,
        files: &[String],
        stage: &Path,
    ) -> Result<Plan> {
        let name = &cx.project.config.project.name;
        // Read once: the layer is made from it, the wheel build takes its requirements.
        let editable = Editable::read(site_packages, name, &cx.project.root);
        let requires = editable.as_ref().map(|editable| editable.requires.clone());
        let wheel = |why| Ok(Plan::Wheel { why, requires });
        let strategy = cx.project.config.bundle.strategy;
        if strategy == Strategy::Wheel {
            return wheel(None);
        }
        let layered = editable
            .ok_or_else(|| format!("no editable install of {name} in the venv"))
            .and_then(|editable| {
                let function = entry
                    .function(site_packages, name)
                    .map_err(|err| err.to_string())?;
                layer_plan(editable, function, files, stage)
            });
        match (layered, strategy) {
            (Ok(plan), _) => Ok(plan),
            (Err(why), Strategy::Layered) => Err(UserError::usage(format!(
                "`[bundle] strategy = \"layered\"` in project.toml, but the project cannot be layered: {why}"
            ))
            .hint("set `strategy = \"auto\"` (or \"wheel\") to build the project's wheel instead")
            .into()),
            (Err(why), _) => wheel(Some(why)),
        }
    }
}

/// The layered plan, or why the project needs its wheel built.
fn layer_plan(
    editable: Editable,
    entry_point: String,
    files: &[String],
    stage: &Path,
) -> Result<Plan, String> {
    if let Some(file) = files
        .iter()
        .find(|f| COMPILED_SUFFIXES.iter().any(|s| f.ends_with(s)))
    {
        return Err(format!("{file} is compiled by the project's build"));
    }
    if let Ok(setup) = fs::read_to_string(stage.join("setup.py"))
        && let Some(word) = CUSTOM_BUILD_WORDS.iter().find(|w| setup.contains(*w))
    {
        return Err(format!("setup.py uses `{word}`"));
    }
    if let Some(backend) = build_backend(stage)?
        && !PLAIN_BACKENDS.contains(&backend.as_str())
    {
        return Err(format!(
            "build backend {backend} may do more than copy files"
        ));
    }
    let packages = match &editable.layout {
        Layout::Packages(packages) => packages.clone(),
        Layout::Unknown(why) => return Err(why.clone()),
    };
    Ok(Plan::Layered {
        editable,
        packages,
        entry_point,
    })
}

/// `[build-system] build-backend` of the staged `pyproject.toml`, when it names one.
fn build_backend(stage: &Path) -> Result<Option<String>, String> {
    let Ok(text) = fs::read_to_string(stage.join("pyproject.toml")) else {
        return Ok(None);
    };
    let table: toml::Table = text
        .parse()
        .map_err(|err| format!("pyproject.toml does not parse: {err}"))?;
    if let Some(hatch) = table.get("tool").and_then(|t| t.get("hatch"))
        && hatch.to_string().contains("hooks")
    {
        return Err("pyproject.toml configures hatch build hooks".into());
    }
    Ok(table
        .get("build-system")
        .and_then(|b| b.get("build-backend"))
        .and_then(|b| b.as_str())
        .map(str::to_string))
}

/// `[build-system] requires` of the staged project (setuptools' defaults without one):
/// a wheel build needs them in the wheelhouse.
fn build_requires(stage: &Path) -> Vec<String> {
    fs::read_to_string(stage.join("pyproject.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| {
            let requires = table.get("build-system")?.get("requires")?.as_array()?;
            Some(
                requires
                    .iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect(),
            )
        })
        .unwrap_or_else(|| vec!["setuptools>=40.8.0".into(), "wheel".into()])
}

impl Backend for Pex {
    fn name(&self) -> &'static str {
        "pex"
    }

    fn tool(&self) -> Option<&'static str> {
        Some("pex")
    }

    fn extension(&self) -> Option<&'static str> {
        Some("pex")
    }

    fn fingerprint(&self, cx: &mut Build, fingerprint: &mut Fingerprint) -> Result<()> {
        let site_packages = cx.site_packages()?;
        let name = cx.project.config.project.name.clone();
        // The layer's metadata comes from the editable install, which pybuild does not stage.
        if let Some(dist_info) = installed::dist_info(&site_packages, &name) {
            let keys: Vec<String> = DIST_INFO_FILES
                .iter()
                .map(|f| dist_info.join(f).to_string_lossy().into_owned())
                .collect();
            cx.add_files(fingerprint, &keys)?;
        }
        Ok(())
    }

    fn build(&self, cx: &Build, job: &Job) -> Result<()> {
        let plan = Pex::plan(cx, &job.site_packages, &job.entry, &job.files, &job.stage)?;
        cx.printer
            .detail(&format!("pex strategy: {}", plan.describe()));
        let result = match plan {
            Plan::Layered {
                editable,
                packages,
                entry_point,
            } => build_layered(cx, job, &editable, &packages, &entry_point),
            Plan::Wheel { requires, .. } => build_wheel(cx, job, requires),
        };
        result.map_err(|err| wheelhouse::offline_failure(err, cx))
    }
}

fn build_layered(
    cx: &Build,
    job: &Job,
    editable: &Editable,
    packages: &[(String, String)],
    entry_point: &str,
) -> Result<()> {
    let layer = job.work.join("layer");
    stage_layer(&job.stage, &job.files, packages, editable, &layer)?;
    let files = count_files(&layer);
    let mut argv = Vec::new();
    let mut deps = None;
    if !editable.requires.is_empty() || !cx.project.requirement_files().is_empty() {
        let path = dependencies_pex(cx, job, &editable.requires)?;
        argv.extend(args!["--requirements-pex", &path]);
        deps = Some(path);
    }
    cx.printer
        .phase(&format!("layering {files} files on the dependencies PEX"));
    let written = match deps {
        Some(deps) if pex_layer::applies(&cx.project.config.bundle.pex_args) => {
            pex_layer::write(&deps, &layer, entry_point, &job.out)
                .inspect_err(|why| {
                    cx.printer
                        .detail(&format!("pex writes the layer, not pybuild: {why:#}"))
                })
                .is_ok()
        }
        _ => false,
    };
    if !written {
        argv.extend(args!["-D", &layer, "-e", entry_point, "-o", &job.out]);
        argv.extend(fast_start(cx));
        run_pex(cx, argv)?;
    }
    if let Err(err) = stock_build_requirements(cx, job) {
        cx.printer.warn(&format!(
            "the bundle is built, but its build requirements could not be put in the wheelhouse for offline builds: {err:#}"
        ));
    }
    Ok(())
}

/// The project's wheel, built by pex from the stage (its build requirements from the
/// wheelhouse), on the dependencies PEX taken from the venv; `--intransitive`, so pex
/// resolves nothing else. Without an editable install to read the requirements from, pex
/// resolves them from the wheelhouse, as `pex .` would.
fn build_wheel(cx: &Build, job: &Job, requires: Option<Vec<String>>) -> Result<()> {
    let mut argv = Vec::new();
    let wanted = [build_requires(&job.stage)];
    match requires {
        Some(requires) => {
            if !requires.is_empty() || !cx.project.requirement_files().is_empty() {
                let deps = dependencies_pex(cx, job, &requires)?;
                argv.extend(args!["--requirements-pex", deps]);
            }
            argv.push("--intransitive".into());
        }
        None => {
            cx.printer.warn(
                "no editable install to read the requirements from: pex resolves them from the wheelhouse, not the venv",
            );
        }
    }
    argv.push(job.stage.clone().into());
    match &job.entry {
        Entry::ConsoleScript(script) => argv.extend(args!["-c", script]),
        Entry::EntryPoint(entry) => argv.extend(args!["-e", entry]),
    }
    argv.extend(args!["-o", &job.out]);
    argv.extend(fast_start(cx));
    cx.printer.phase("building the project's wheel and the PEX");
    pex_from_wheelhouse(cx, job, &wanted, argv)
}

/// `--venv --sh-boot` unless `pex-args` choose how the PEX starts: from its second run on,
/// it starts from the venv it unpacked into `PEX_ROOT` through a `/bin/sh` header that
/// finds it at once (about 0.07 s against 0.7 s for a zipapp PEX).
fn fast_start(cx: &Build) -> Vec<OsString> {
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
fn run_pex(cx: &Build, mut argv: Vec<OsString>) -> Result<()> {
    let root = pex_root();
    argv.extend(args!["--pex-root", &root]);
    argv.extend(cx.project.config.bundle.pex_args.iter().map(Into::into));
    let pex = cx.project.venv().join("bin").join("pex");
    // pex's own modules get their bytecode written on its first run: uv compiles none at
    // install (pip did), and without it each run (two in a cold build, one per edit)
    // would compile pex again wherever `PYTHONDONTWRITEBYTECODE` is set (0.4 s each).
    // Only pex's: it imports none of the project's code.
    let env = [
        ("PEX_ROOT", root.as_os_str()),
        ("PYTHONDONTWRITEBYTECODE", std::ffi::OsStr::new("")),
    ];
    cx.runner.run_with_env("bundle", pex, &argv, &env)
}

/// The dependencies PEX: the app's runtime closure taken from the venv itself (`pex
/// --venv-repository`), so it holds exactly the versions the venv was tested with, and no
/// index or wheelhouse is asked. Its top-level requirements are the editable install's
/// `Requires-Dist` (pex evaluates their markers) and the `[env] requirements` files (the
/// app's runtime environment, pins, hashes and constraints included). Reused when one for
/// the same digest exists, else built into a temp file renamed into place, so a killed
/// build never leaves a truncated layer behind a valid name.
fn dependencies_pex(cx: &Build, job: &Job, requires: &[String]) -> Result<PathBuf> {
    let digest = deps_digest(cx, job, requires)?;
    let dir = cx.project.state_dir().join("layers");
    let name = format!("deps-{digest}.pex");
    let path = dir.join(&name);
    let sum = shared_layers::sum_of(&path);
    if path.is_file() {
        if shared_layers::is_intact(&path) {
            cx.printer.detail(&format!(
                "dependencies PEX {} reused",
                cx.project.key(&path)
            ));
            return Ok(path);
        }
        cx.printer.warn(&format!(
            "{} is damaged (it no longer matches what was written); building it again",
            cx.project.key(&path)
        ));
        let _ = fs::remove_file(&path);
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if shared_layers::take(cx, &name, &path)? {
        cx.printer.detail(&format!(
            "dependencies PEX {} taken from another checkout's (same digest)",
            cx.project.key(&path)
        ));
    } else {
        let partial = job.work.join(&name);
        cx.printer
            .phase("building the dependencies PEX from the venv");
        // With the options of the final PEX: then it already holds all the final PEX
        // holds but the code, and `pex_layer` can add that without starting pex.
        let mut argv = venv_closure_args(cx, requires, &partial);
        argv.extend(fast_start(cx));
        run_pex(cx, argv).context("cannot build the dependencies PEX from the venv")?;
        let written =
            hash_file(&partial).with_context(|| format!("cannot read {}", partial.display()))?;
        state::write_atomically(&sum, written.as_bytes())?;
        fs::rename(&partial, &path)
            .with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))?;
        if let Err(err) = shared_layers::offer(cx, &path) {
            cx.printer.detail(&format!(
                "the dependencies PEX is not shared with other checkouts: {err:#}"
            ));
        }
    }
    // Only the current layer is of use; older ones would pile up with each requirement change.
    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_layer = name.ends_with(".pex") || name.ends_with(".pex.blake3");
        if file != path && file != sum && name.starts_with("deps-") && is_layer {
            let _ = fs::remove_file(&file);
        }
    }
    Ok(path)
}

/// pex's arguments for the runtime closure of `requires` and the requirement files, taken
/// from the venv, into `out`.
fn venv_closure_args(cx: &Build, requires: &[String], out: &Path) -> Vec<OsString> {
    let mut argv = args!["--venv-repository", cx.project.venv()].to_vec();
    for file in cx.project.requirement_files() {
        argv.extend(args!["-r", cx.project.root.join(file)]);
    }
    argv.extend(requires.iter().map(Into::into));
    argv.extend(args!["-o", out]);
    argv
}

/// What the dependencies PEX is made of: the requirements, the requirement files, every
/// distribution installed in the venv (name and version: a pin changed or a package
/// installed by hand gives another digest) and what else decides how pex builds.
fn deps_digest(cx: &Build, job: &Job, requires: &[String]) -> Result<String> {
    let mut text = format!("deps-layer-v3\n{}\n", requires.join("\n"));
    for file in cx.project.requirement_inputs() {
        let path = cx.project.root.join(&file);
        let hash = hash_file(&path).with_context(|| format!("cannot read {}", path.display()))?;
        text.push_str(&format!("{file} {hash}\n"));
    }
    // Each distribution's files too (its `RECORD`, which lists them with their hashes):
    // the same version built from other sources (a local path, a fork) is another layer.
    // Not the project's own (an editable install names the checkout's path), nor the
    // scripts outside site-packages (their `#!` names the venv): so two checkouts with
    // the same environment share one layer (see `shared_layers`).
    let project = installed::normalize(&cx.project.config.project.name);
    for dist in installed::list(&job.site_packages) {
        if installed::normalize(&dist.name) == project {
            continue;
        }
        let files = record_digest(&dist.dist_info.join("RECORD"));
        text.push_str(&format!("{} {} {files}\n", dist.name, dist.version));
    }
    text.push_str(&pex_environment(cx, job));
    Ok(hash_bytes(text.as_bytes())[..16].to_string())
}

/// The hash of a `RECORD`'s lines for files inside site-packages, sorted (the order
/// installers write them in is theirs); empty when there is no `RECORD`.
fn record_digest(record: &Path) -> String {
    let Ok(text) = fs::read_to_string(record) else {
        return String::new();
    };
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("../"))
        .collect();
    lines.sort_unstable();
    hash_bytes(lines.join("\n").as_bytes())[..16].to_string()
}

/// What else decides what pex resolves and builds: the interpreter, pex's version and
/// `pex-args` (which also choose the pip whose own requirements are filled).
fn pex_environment(cx: &Build, job: &Job) -> String {
    let pex_version = installed::installed_version(&job.site_packages, "pex").unwrap_or_default();
    format!(
        "{}\npex {pex_version}\n{}",
        job.python.describe(),
        cx.project.config.bundle.pex_args.join("\0"),
    )
}

/// Runs pex with `argv`, resolving from the wheelhouse alone, after filling it with the
/// requirement `groups` unless a stamp in `.pybuild/layers/` says it was filled for
/// exactly those (so an unchanged project never asks the index again). The wheelhouse is
/// a cache the user may clear behind the stamp's back: when pex then fails while online,
/// the wheelhouse is filled again and pex tried once more.
fn pex_from_wheelhouse(
    cx: &Build,
    job: &Job,
    groups: &[Vec<String>],
    mut argv: Vec<OsString>,
) -> Result<()> {
    argv.extend(wheelhouse::pex_args());
    let stamp = wheelhouse_stamp(cx, job, groups);
    let stamped = stamp.is_file();
    if !stamped {
        fill_wheelhouse(cx, groups, &stamp)?;
    }
    match run_pex(cx, argv.clone()) {
        Err(_) if stamped && !wheelhouse::offline(cx) => {
            cx.printer.warn(
                "pex could not build from the wheelhouse; filling it again from the package index",
            );
            fill_wheelhouse(cx, groups, &stamp)?;
            run_pex(cx, argv)
        }
        result => result,
    }
}

/// The stamp that says the wheelhouse was filled for `groups` in this pex environment.
fn wheelhouse_stamp(cx: &Build, job: &Job, groups: &[Vec<String>]) -> PathBuf {
    let digest =
        hash_bytes(format!("{}\n{}", stamp_text(groups), pex_environment(cx, job)).as_bytes());
    cx.project
        .state_dir()
        .join("layers")
        .join(format!("wheelhouse-{}", &digest[..16]))
}

/// Puts the build requirements in the wheelhouse (once per stamp), though a layered build
/// needs none: the next editable install or wheel build (a version bump, `strategy =
/// "wheel"`) then works without the index too.
///
/// Its stamp lies in the wheelhouse itself, shared by the user's projects: the same build
/// requirements in the same pex environment are fetched once per machine, not once per
/// checkout (a cold build of a fresh clone then asks the index for nothing here).
fn stock_build_requirements(cx: &Build, job: &Job) -> Result<()> {
    let groups = [build_requires(&job.stage)];
    let digest =
        hash_bytes(format!("{}\n{}", stamp_text(&groups), pex_environment(cx, job)).as_bytes());
    let stamp = wheelhouse::dir().join(format!(".stocked-{}", &digest[..16]));
    if stamp.is_file() || wheelhouse::offline(cx) {
        return Ok(());
    }
    cx.printer
        .phase("putting the build requirements in the wheelhouse, for offline builds");
    fill_wheelhouse(cx, &groups, &stamp)
}

/// How many files `dir` holds, in all its folders.
fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|entry| match entry.file_type() {
                Ok(kind) if kind.is_dir() => count_files(&entry.path()),
                _ => 1,
            })
            .sum()
    })
}

/// Fills the wheelhouse with `groups` and with what pex's own pip needs, each resolved
/// on its own: they are installed into different environments (the bundle, an isolated
/// build, pex's pip), whose pins may differ.
fn fill_wheelhouse(cx: &Build, groups: &[Vec<String>], stamp: &Path) -> Result<()> {
    let online = !wheelhouse::offline(cx);
    let mut groups = groups.to_vec();
    if online {
        groups.push(pex_pip_requirements(cx)?);
    }
    wheelhouse::fill(cx, "bundle", &groups)?;
    if !online {
        // Nothing was fetched: the stamp would claim a fill that never happened.
        return Ok(());
    }
    let dir = stamp.parent().context("the stamp has a parent")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::write(stamp, stamp_text(&groups))
        .with_context(|| format!("cannot write {}", stamp.display()))
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
    let mut args = pex_args.iter();
    while let Some(arg) = args.next() {
        if arg == "--pip-version" {
            return args.next().cloned();
        }
        if let Some(value) = arg.strip_prefix("--pip-version=") {
            return Some(value.to_string());
        }
    }
    None
}

/// The pex cache: `PEX_ROOT`, or pex's own default (appdirs' user cache folder, which
/// honours `XDG_CACHE_HOME`).
fn pex_root() -> PathBuf {
    match std::env::var_os("PEX_ROOT") {
        Some(root) => PathBuf::from(root),
        None => wheelhouse::user_cache_dir().join("pex"),
    }
}

/// Fills `layer` with each package's staged files and the install's metadata.
fn stage_layer(
    stage: &Path,
    files: &[String],
    packages: &[(String, String)],
    editable: &Editable,
    layer: &Path,
) -> Result<()> {
    for (name, path) in packages {
        if files.iter().any(|f| f == path) {
            let file_name = Path::new(path).file_name().context("a module has a name")?;
            link_or_copy(&stage.join(path), &layer.join(file_name))?;
            continue;
        }
        let prefix = format!("{path}/");
        for file in files.iter().filter(|f| f.starts_with(&prefix)) {
            link_or_copy(
                &stage.join(file),
                &layer.join(name).join(&file[prefix.len()..]),
            )?;
        }
    }
    let dist_info = layer.join(&editable.dist_info_name);
    for file in DIST_INFO_FILES {
        let from = editable.dist_info.join(file);
        if from.is_file() {
            link_or_copy(&from, &dist_info.join(file))?;
        } else if *file == "METADATA" {
            bail!("{} is missing", from.display());
        }
    }
    Ok(())
}

fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editable(layout: Layout) -> Editable {
        Editable {
            dist_info: PathBuf::from("/nonexistent/app-1.0.dist-info"),
            dist_info_name: "app-1.0.dist-info".into(),
            requires: vec!["six".into()],
            layout,
        }
    }

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

    #[test]
    fn compiled_sources_and_custom_builds_need_the_wheel() {
        let stage = tempfile::tempdir().unwrap();
        let packages = Layout::Packages(vec![("app".into(), "src/app".into())]);
        let entry = || "app.cli:main".to_string();
        let files = vec!["src/app/__init__.py".to_string(), "src/app/fast.c".into()];
        let why =
            layer_plan(editable(packages.clone()), entry(), &files, stage.path()).unwrap_err();
        assert!(why.contains("src/app/fast.c"), "{why}");

        let files = vec!["src/app/__init__.py".to_string()];
        fs::write(
            stage.path().join("setup.py"),
            "setup(ext_modules=[Extension('x', ['x.c'])])",
        )
        .unwrap();
        let why =
            layer_plan(editable(packages.clone()), entry(), &files, stage.path()).unwrap_err();
        assert!(why.contains("ext_modules"), "{why}");

        fs::write(stage.path().join("setup.py"), "setup()").unwrap();
        fs::write(
            stage.path().join("pyproject.toml"),
            "[build-system]\nrequires = [\"maturin\"]\nbuild-backend = \"maturin\"\n",
        )
        .unwrap();
        let why =
            layer_plan(editable(packages.clone()), entry(), &files, stage.path()).unwrap_err();
        assert!(why.contains("maturin"), "{why}");
        assert_eq!(build_requires(stage.path()), ["maturin"]);

        fs::remove_file(stage.path().join("pyproject.toml")).unwrap();
        let plan = layer_plan(editable(packages), entry(), &files, stage.path()).unwrap();
        assert!(matches!(plan, Plan::Layered { entry_point, .. } if entry_point == "app.cli:main"));
        assert_eq!(
            build_requires(stage.path()),
            ["setuptools>=40.8.0", "wheel"]
        );
    }

    #[test]
    fn layer_holds_exactly_the_staged_package_files_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path().join("stage");
        let dist_info = dir.path().join("app-1.0.dist-info");
        let files = [
            "src/app/__init__.py",
            "src/app/data/x.txt",
            "src/other.txt",
            "solo.py",
            "setup.py",
        ];
        for file in files {
            fs::create_dir_all(stage.join(file).parent().unwrap()).unwrap();
            fs::write(stage.join(file), file).unwrap();
        }
        fs::create_dir_all(&dist_info).unwrap();
        fs::write(dist_info.join("METADATA"), "Name: app\n").unwrap();
        fs::write(dist_info.join("direct_url.json"), "/abs/path").unwrap();
        let mut editable = editable(Layout::Unknown(String::new()));
        editable.dist_info = dist_info;
        let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        let packages = [
            ("app".to_string(), "src/app".to_string()),
            ("solo".to_string(), "solo.py".to_string()),
        ];
        let layer = dir.path().join("layer");
        stage_layer(&stage, &files, &packages, &editable, &layer).unwrap();
        let mut found: Vec<String> = walk(&layer);
        found.sort();
        assert_eq!(
            found,
            [
                "app-1.0.dist-info/METADATA",
                "app/__init__.py",
                "app/data/x.txt",
                "solo.py"
            ]
        );
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.extend(walk(&path).into_iter().map(|p| format!("{name}/{p}")));
            } else {
                out.push(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
        out
    }
}
