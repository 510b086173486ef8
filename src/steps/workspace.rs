//! The apps of a uv workspace, built with one command: the setup they share (`check`,
//! `venv`, `tools`, `develop`: one venv synced with every member) once, under the
//! workspace's lock, then each app's own steps (`bundle` and what comes after it) in its
//! own state, `jobs` apps at once. An app's steps build on the shared ones' runs as if they
//! were its own (`Run::shared`), so a venv synced again rebuilds every app's bundle,
//! while an edit inside one member rebuilds only the apps whose inputs hold it (see
//! `steps::file_rules`' scope).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result};

use crate::base::config::task::STEPS;
use crate::base::config::{At, nearest};
use crate::base::error::{self, UserError};
use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::engine::lock::Lock;
use crate::engine::state::State;
use crate::steps::{BuildOptions, Run, build_holding, bundle};

/// The steps the apps share: what `setup` makes, once for the workspace.
const SHARED: &[&str] = &["check", "venv", "tools", "develop"];

/// Whether `target` is an app's own step (`bundle` and those after it), which a workspace
/// builds for each app; the others (`setup`, its steps, tasks) are the workspace's.
pub(crate) fn is_app_target(target: &str) -> bool {
    STEPS.contains(&target) && !SHARED.contains(&target)
}

/// The apps a command works on: those `named` (`-p`), else the member the command runs
/// in (`dir`): itself if it is an app, the apps that depend on it if it is a library;
/// else every app.
pub(crate) fn select(project: &Project, named: &[String], dir: &Path) -> Result<Vec<String>> {
    let workspace = project.workspace.as_ref().context("not a uv workspace")?;
    let apps: Vec<&str> = workspace.apps().map(|m| m.name.as_str()).collect();
    if !named.is_empty() {
        let mut chosen = Vec::new();
        for name in named {
            let member = workspace.member(name).filter(|m| !m.scripts.is_empty());
            let Some(member) = member else {
                let what = match workspace.member(name) {
                    Some(_) => {
                        "is a library of the workspace (no console script): it has no bundle"
                    }
                    None => "is no member of the workspace",
                };
                // The user's argument, shown as typed but for control characters.
                let shown = name.escape_debug();
                let mut err = UserError::usage(format!("`--package {shown}`: {shown} {what}"));
                if workspace.member(name).is_none()
                    && let Some(best) = nearest(name, &apps)
                {
                    err = err.hint(format!("did you mean `{best}`?"));
                }
                return Err(err
                    .hint(format!("the workspace's apps: {}", apps.join(", ")))
                    .into());
            };
            if !chosen.contains(&member.name) {
                chosen.push(member.name.clone());
            }
        }
        return Ok(chosen);
    }
    let here = dir
        .canonicalize()
        .ok()
        .and_then(|dir| {
            let rel = dir.strip_prefix(&project.root).ok()?.to_path_buf();
            Some(rel.to_string_lossy().replace('\\', "/"))
        })
        .unwrap_or_default();
    if !here.is_empty()
        && let Some(member) = workspace.member_at(&here).filter(|m| m.dir != ".")
    {
        if !member.scripts.is_empty() {
            return Ok(vec![member.name.clone()]);
        }
        let dependents = workspace.dependents(&member.name);
        if dependents.is_empty() {
            return Err(UserError::usage(format!(
                "{} is a library no app of the workspace depends on: it has no bundle, and no app ships it",
                member.name
            ))
            .hint("`-p NAME` names an app to work on; at the workspace's root, every app")
            .into());
        }
        return Ok(dependents.into_iter().map(|app| app.name.clone()).collect());
    }
    Ok(apps.into_iter().map(str::to_string).collect())
}

/// Brings `targets` (an app's steps) up to date for each of `apps`, after the shared setup;
/// `jobs` apps at once. Every app is tried unless one fails: then no other is started,
/// those running finish, and each failure is said; the first is returned. Returns the
/// steps that ran (an app's as `APP/STEP`).
pub(crate) fn build_apps(
    project: &Project,
    printer: &Printer,
    options: &BuildOptions,
    targets: &[&str],
    apps: &[String],
    jobs: usize,
) -> Result<Vec<String>> {
    let apps_projects: Vec<(String, Result<Project>)> = apps
        .iter()
        .map(|name| (name.clone(), project.for_app(name)))
        .collect();
    let chosen: Vec<&Project> = apps_projects
        .iter()
        .filter_map(|(_, app)| app.as_ref().ok())
        .collect();
    for app in &chosen {
        only_pex(project, app)?;
    }
    distinct_outputs(project, &chosen)?;
    let lock = Lock::acquire(&project.state_dir(), options.wait, printer)?;
    let setup = Run {
        targets: &["setup"],
        args: &[],
        one_shot: false,
        shared: None,
    };
    let (result, lock) = build_holding(project, printer, options, lock, &setup);
    let ran = Mutex::new(result?);
    // Held until every app is built: no other pybuild syncs the venv under them.
    let _lock = lock;
    let shared = shared_runs(project, printer);
    let jobs = jobs.clamp(1, apps.len().max(1));
    let next = AtomicUsize::new(0);
    let failed: Mutex<Vec<(usize, anyhow::Error)>> = Mutex::new(Vec::new());
    let work = || {
        loop {
            if !failed.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
                return;
            }
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some((name, app)) = apps_projects.get(index) else {
                return;
            };
            let printer = printer.for_app(name, jobs == 1);
            let result = app
                .as_ref()
                .map_err(|err| anyhow::anyhow!("{err:#}"))
                .and_then(|app| {
                    build_app(app, &printer, options, targets, &shared)
                        .with_context(|| format!("the app {name} failed"))
                });
            match result {
                Ok(steps) => ran
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(steps.into_iter().map(|step| format!("{name}/{step}"))),
                Err(err) => failed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((index, err)),
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..jobs {
            scope.spawn(work);
        }
        work();
    });
    let mut failed = failed.into_inner().unwrap_or_else(|p| p.into_inner());
    failed.sort_by_key(|(index, _)| *index);
    let mut failed = failed.into_iter().map(|(_, err)| err);
    let Some(first) = failed.next() else {
        return Ok(ran.into_inner().unwrap_or_else(|p| p.into_inner()));
    };
    for other in failed {
        eprint!("{}", error::render(&other));
    }
    Err(first)
}

/// An app of a workspace is bundled as a PEX: the other kinds build the project at the
/// root of the staged copy, which in a workspace holds no project, and know nothing of
/// the members an app depends on.
fn only_pex(workspace: &Project, app: &Project) -> Result<()> {
    let kind = app.config.bundle.kind.as_str();
    if kind == "pex" {
        return Ok(());
    }
    let name = app.app.as_ref().map_or("", |app| app.name.as_str());
    let set_for_app = workspace
        .config
        .app_key(name)
        .and_then(|key| workspace.config.apps.get(key))
        .and_then(|section| section.bundle.as_ref())
        .is_some_and(|bundle| bundle.contains_key("kind"));
    let message =
        format!("`kind = \"{kind}\"`: the apps of a uv workspace are bundled as PEX files only");
    let err = match (set_for_app, workspace.config.app_key(name)) {
        (true, Some(key)) => workspace
            .config
            .error_at(At::Value(&["apps", key, "bundle", "kind"]), message),
        _ => workspace
            .config
            .error_at(At::Value(&["bundle", "kind"]), message),
    };
    Err(err
        .hint("remove `kind` (a PEX is the default): shiv, zipapp and PyInstaller bundles of workspace apps are not supported")
        .into())
}

/// Two apps writing one file would overwrite each other's: a top-level `[bundle] output`
/// or `[image] name` is every app's, so each app needs its own in `[apps.NAME]`.
fn distinct_outputs(workspace: &Project, apps: &[&Project]) -> Result<()> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for app in apps {
        let name = app.app.as_ref().map_or("", |app| app.name.as_str());
        let config = &app.config;
        let outputs = [
            (bundle::configured_output(config), "bundle", "output"),
            (config.image.name.clone(), "image", "name"),
        ];
        for (value, section, key) in outputs {
            let Some(value) = value else { continue };
            let Some(other) = seen.insert(format!("{section}.{key}={value}"), name) else {
                continue;
            };
            let own_key = workspace.config.app_key(name);
            let set_here = own_key
                .and_then(|k| workspace.config.apps.get(k))
                .and_then(|s| match section {
                    "bundle" => s.bundle.as_ref(),
                    _ => s.image.as_ref(),
                })
                .is_some_and(|table| table.contains_key(key));
            let message = format!(
                "`{key} = \"{value}\"` is both {other}'s and {name}'s: one would overwrite the other's"
            );
            let err = match (set_here, own_key) {
                (true, Some(k)) => workspace
                    .config
                    .error_at(At::Value(&["apps", k, section, key]), message),
                _ => workspace
                    .config
                    .error_at(At::Value(&[section, key]), message),
            };
            return Err(err
                .hint(format!(
                    "set `{key}` in each app's `[apps.NAME.{section}]` instead (the default is the app's own)"
                ))
                .into());
        }
    }
    Ok(())
}

/// One app's steps, in its own state and under its own lock (free: the workspace's is
/// held).
fn build_app(
    app: &Project,
    printer: &Printer,
    options: &BuildOptions,
    targets: &[&str],
    shared: &HashMap<String, i64>,
) -> Result<Vec<String>> {
    let lock = Lock::acquire(&app.state_dir(), options.wait, printer)?;
    let run = Run {
        targets,
        args: &[],
        one_shot: false,
        shared: Some(shared),
    };
    build_holding(app, printer, options, lock, &run).0
}

/// When each shared step last succeeded, from the workspace's state.
pub(crate) fn shared_runs(project: &Project, printer: &Printer) -> HashMap<String, i64> {
    let state = State::load(&project.state_dir(), printer);
    SHARED
        .iter()
        .map(|step| {
            let run = state.steps.get(*step).map_or(0, |record| record.run_id);
            (step.to_string(), run)
        })
        .collect()
}
