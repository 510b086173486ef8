//! The bundle's keys in the remote cache (see `engine::remote`; `Step::cache_key`,
//! `Step::early_key`). Only PEX bundles have them: pex writes the same bytes for the same
//! inputs, and a PEX holds nothing of the machine it was built on but what the keys name.
//!
//! - The *late* key: the bundle's fingerprint (its configuration, the interpreter, pex's
//!   version, the venv's distributions, the entry, every input file, the editable
//!   install's metadata), plus each distribution's `RECORD` but the project's own (the
//!   same version built from other sources is another key), pybuild's version and the
//!   platform (`key::key`).
//! - The *early* key, for a fresh clone with no venv: only when everything the bundle is
//!   made of is pinned by files in the checkout: an environment lock (`uv.lock`,
//!   `pylock.toml`), pex pinned in `[env] tools` (`pex==2.…`), metadata that comes from
//!   files (no `setup.py`, no version from version control), and an entry known from
//!   `project.toml` or `pyproject.toml`. It holds the input files (sources, lock,
//!   `pyproject.toml`), `[project]`, `[env]`, `[develop]` and `[bundle]`, the interpreter,
//!   the pex pin and the outputs. When a venv exists, a distribution in it at a version the
//!   lock does not name (installed by hand) means no early key: what the venv holds is then
//!   not what the lock says, and its bundle must not be published as the lock's.
//!
//! A bundle with path dependencies (`python::path_deps`) has neither key: its code from
//! their folders cannot be checked against the venv's `RECORD`s (an editable install
//! records none of it), nor is it pinned by the checkout's files.
//!
//! A key names the result, it does not vouch for it: whatever is fetched under either key
//! is compared with what is here before it is used (`fetch_check`, `pex::audit`). With no
//! venv (a fresh clone), the dependencies cannot be: the early key is then asked for only
//! when `[cache] trusted-keys` can vouch for them.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result, bail};

use super::backend::{Entry, Target};
use super::manifest;
use super::pex::audit::{self, Here};
use crate::base::distribution_name::normalize;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::remote::key;
use crate::engine::step::{CacheKey, EarlyKey, FetchCheck};
use crate::python::build::Build;
use crate::python::env::Env;
use crate::python::metadata_sources::{self, versioned_by_vcs};
use crate::python::{closure, env_lock, requirement};

/// `output`: the bundle's, as `bundle::target` says.
pub(super) fn late(
    cx: &mut Build,
    step: &str,
    fingerprint: &Fingerprint,
    output: &str,
) -> Result<Option<CacheKey>> {
    if cx.project.config.bundle.kind.as_str() != "pex" {
        return Ok(None);
    }
    let env = cx.env()?;
    if has_path_deps(cx, &env) {
        return Ok(None);
    }
    let mut records = String::new();
    // Not the project's own, nor in a workspace any member's: an editable install names
    // the checkout's path (the metadata of those the bundle carries is in the fingerprint
    // already, and the others' versions with the venv's distributions).
    for dist in env
        .others(&cx.project.config.project.name)
        .filter(|dist| !cx.project.is_member(&dist.name))
    {
        let digest = dist.record_digest();
        records.push_str(&format!("{} {} {digest}\n", dist.name, dist.version));
    }
    let outputs = outputs(output);
    let key = key::key("late", step, fingerprint, &cx.project.root, &records);
    Ok(Some(CacheKey {
        key,
        outputs,
        unchecked: None,
    }))
}

pub(super) fn early(cx: &mut Build, step: &str) -> Result<Option<EarlyKey>> {
    let config = &cx.project.config;
    let root = cx.project.root.clone();
    let Some(lock) = cx.project.env_lock() else {
        return Ok(None);
    };
    if config.bundle.kind.as_str() != "pex" || root.join("setup.py").exists() {
        return Ok(None);
    }
    let Some(pex) = pinned_pex(&config.env.tools) else {
        return Ok(None);
    };
    let Ok(pyproject) = fs::read_to_string(root.join("pyproject.toml")) else {
        return Ok(None);
    };
    let Ok(pyproject) = pyproject.parse::<toml::Table>() else {
        return Ok(None);
    };
    if versioned_by_vcs(&pyproject) {
        return Ok(None);
    }
    let Some(output) = output(cx, &pyproject) else {
        return Ok(None);
    };
    let locked = env_lock::read(lock, &root, &config.project.name)?;
    let env = cx.env()?;
    if !venv_agrees(&env, &locked.versions)
        || !locked.outside_sources.is_empty()
        || has_path_deps(cx, &env)
    {
        return Ok(None);
    }
    let config = &cx.project.config;
    let mut fingerprint = Fingerprint::default();
    fingerprint.part("project", serde_json::to_string(&config.project)?);
    fingerprint.part("env", serde_json::to_string(&config.env)?);
    fingerprint.part("develop", serde_json::to_string(&config.develop)?);
    fingerprint.part("bundle", serde_json::to_string(&config.bundle)?);
    fingerprint.part("pex", pex);
    fingerprint.part("output", output.clone());
    fingerprint.part("interpreter", cx.interpreter()?.describe());
    let mut files: Vec<String> = cx.project_files()?.to_vec();
    files.push(lock.file_name().to_string());
    files.extend(metadata_sources::find(&root, &files));
    files.sort();
    files.dedup();
    cx.add_files(&mut fingerprint, &files)?;
    let key = key::key("early", step, &fingerprint, &root, "");
    let outputs = outputs(&output);
    let unchecked = match env.is_empty() {
        true => Some("there is no venv here to check its dependencies against".to_string()),
        false => None,
    };
    Ok(Some(EarlyKey {
        fingerprint,
        key: CacheKey {
            key,
            outputs,
            unchecked,
        },
    }))
}

/// Whether the venv holds path dependencies (said once, in detail, when it does).
fn has_path_deps(cx: &Build, env: &Env) -> bool {
    let deps = closure::shipped_path_deps(env, cx.project, &cx.sources());
    if let Some(dep) = deps.first() {
        cx.printer.detail(&format!(
            "the remote cache is not used: {} is installed from {}, whose code no key pins",
            dep.name, dep.rel
        ));
    }
    !deps.is_empty()
}

/// The check of a fetched bundle (see `Step::fetch_check`): the PEX is compared with the
/// input files and the venv (`pex::audit`); what cannot be checked here (the dependencies,
/// with no venv) needs a trusted signature. The manifest beside it is data, read by no one
/// to decide what runs.
pub(super) fn fetch_check(cx: &mut Build) -> Result<FetchCheck> {
    let env = cx.env()?;
    let files = cx.project_files()?.to_vec();
    let site_packages = (!env.is_empty()).then(|| env.site_packages().to_path_buf());
    let here = Here::of(cx, files, site_packages);
    Ok(Box::new(move |files, signed| {
        let names: Vec<&String> = files.iter().map(|(path, _)| path).collect();
        for (path, temp) in files {
            let manifest = manifest::path_for(Path::new(path));
            if !names.iter().any(|name| Path::new(name) == manifest) {
                continue; // the manifest
            }
            let unchecked = audit::check(temp, &here, true)
                .with_context(|| format!("the fetched {path} is not what this checkout builds"))?;
            if let (Some(what), false) = (unchecked, signed) {
                bail!("{what} cannot be checked here, and no trusted key signed it");
            }
        }
        Ok(())
    }))
}

/// The bundle and its manifest.
fn outputs(output: &str) -> Vec<String> {
    let manifest = manifest::path_for(Path::new(output));
    vec![output.to_string(), manifest.to_string_lossy().into_owned()]
}

/// `pex==VERSION` when `[env] tools` pins pex to one exact version.
fn pinned_pex(tools: &[String]) -> Option<String> {
    tools
        .iter()
        .find_map(|tool| match requirement::exact_pin(tool)? {
            (name, version) if name == "pex" => Some(format!("pex=={version}")),
            _ => None,
        })
}

/// The bundle's output, as `bundle::target` finds it once the project is installed: from
/// `project.toml`, else from the console scripts `pyproject.toml` declares (the early key
/// is asked for before the venv exists, so it cannot read the editable install).
fn output(cx: &Build, pyproject: &toml::Table) -> Option<String> {
    let config = &cx.project.config;
    if let Some(output) = &config.bundle.output {
        return Some(output.clone());
    }
    let entry = match (&config.bundle.console_script, &config.bundle.entry_point) {
        (Some(script), _) => Entry::ConsoleScript(script.clone()),
        (None, Some(entry)) => Entry::EntryPoint(entry.clone()),
        (None, None) => {
            let scripts = pyproject.get("project")?.get("scripts")?.as_table()?;
            let name = &config.project.name;
            let chosen = match scripts.len() {
                1 => scripts.keys().next()?,
                _ => scripts.keys().find(|script| *script == name)?,
            };
            Entry::ConsoleScript(chosen.clone())
        }
    };
    Some(Target::default_output(config, &entry, Some("pex")))
}

/// Whether every distribution in the venv that the lock names is at a version it names
/// (no venv: nothing disagrees).
fn venv_agrees(env: &Env, locked: &[(String, String)]) -> bool {
    env.dists().iter().all(|dist| {
        let versions: Vec<&String> = locked
            .iter()
            .filter(|(locked, _)| normalize(locked) == dist.key)
            .map(|(_, version)| version)
            .collect();
        versions.is_empty() || versions.contains(&&dist.version)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_exact_pex_pin_counts() {
        let pin =
            |tools: &[&str]| pinned_pex(&tools.iter().map(|t| t.to_string()).collect::<Vec<_>>());
        assert_eq!(
            pin(&["pytest", "pex==2.105.2"]),
            Some("pex==2.105.2".into())
        );
        assert_eq!(pin(&["pex == 2.1"]), Some("pex==2.1".into()));
        for loose in ["pex", "pex>=2", "pex==2.*", "pex==2.1,<3", "pexpect==4.9"] {
            assert_eq!(pin(&[loose]), None, "{loose}");
        }
    }

    #[test]
    fn a_version_from_version_control_is_not_pinned() {
        use crate::python::metadata_sources::versioned_by_vcs;
        let table = |text: &str| text.parse::<toml::Table>().unwrap();
        assert!(versioned_by_vcs(&table(
            "[build-system]\nrequires = [\"setuptools\", \"setuptools_scm[toml]>=8\"]"
        )));
        assert!(!versioned_by_vcs(&table(
            "[build-system]\nrequires = [\"hatchling\"]"
        )));
    }

    #[test]
    fn the_venv_agrees_with_the_lock_unless_a_locked_name_is_at_another_version() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("site-packages");
        let locked = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(name, version)| (name.to_string(), version.to_string()))
                .collect()
        };
        // No venv (a fresh clone): nothing disagrees.
        assert!(venv_agrees(&Env::read(&sp), &locked(&[("six", "1.15.0")])));
        fs::create_dir_all(sp.join("six-1.16.0.dist-info")).unwrap();
        fs::create_dir_all(sp.join("pip-24.0.dist-info")).unwrap();
        let env = Env::read(&sp);
        assert!(venv_agrees(&env, &locked(&[("Six", "1.16.0")])));
        // One name locked at two versions (under markers): either is the lock's.
        assert!(venv_agrees(
            &env,
            &locked(&[("six", "1.15.0"), ("six", "1.16.0")])
        ));
        // Installed by hand at another version than the lock's.
        assert!(!venv_agrees(&env, &locked(&[("SIX", "1.15.0")])));
        assert!(!venv_agrees(
            &env,
            &locked(&[("pip", "24.0"), ("six", "1.15.0")])
        ));
    }
}
