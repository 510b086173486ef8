//! `pybuild init`: writes a commented `project.toml` for an existing project, filled in
//! from what the project already declares (see `detect`), with the `[check]` entries of
//! the dependencies it knows to need system packages (see `init/prerequisites`). Never
//! overwrites one without `--force`; asks nothing, so it works in CI.
//!
//! At the root of a uv workspace it writes the workspace's one `project.toml`, which names
//! its apps and libraries and shows `[apps.NAME]` for each app (`detect::render_workspace`);
//! an error of the workspace's (a member without a build system, a script in two members)
//! stops it. Inside a member it writes nothing and says to run it at the workspace's root.

use std::path::Path;

use anyhow::Result;

use crate::base::config::{self, Config};
use crate::base::error::UserError;
use crate::base::ui::Printer;
use crate::base::workspace::Workspace;
use crate::engine::state::write_shared;
use crate::python::detect;

mod prerequisites;
mod wheels;

/// Writes `project.toml` in `dir`; `offline` (`--offline`): PyPI is not asked about wheels.
pub(crate) fn write_config(
    dir: &Path,
    force: bool,
    offline: bool,
    printer: &Printer,
) -> Result<()> {
    let path = dir.join(config::FILE_NAME);
    if path.exists() && !force {
        return Err(
            UserError::usage(format!("{} already exists", path.display()))
                .hint("`pybuild init --force` replaces it; `pybuild setup` uses it as it is")
                .into(),
        );
    }
    let workspace = Workspace::find(dir)?;
    if workspace.is_none() {
        refuse_inside_a_member(dir)?;
    }
    let detected = match &workspace {
        Some(workspace) => detect::detect_workspace(dir, workspace)?,
        None => detect::detect(dir)?,
    };
    // No project to install: fail now, not after a venv was made for nothing.
    if workspace.is_none() && detected.sources.is_empty() {
        return Err(UserError::usage(format!(
            "no Python project in {}: it has no pyproject.toml, setup.py or setup.cfg",
            dir.display()
        ))
        .hint("run `pybuild init` at the root of a Python project (or `-C DIR` to point at one)")
        .into());
    }
    let fallback = dir
        .file_name()
        .map_or_else(|| "app".to_string(), |n| n.to_string_lossy().into_owned());
    // The interpreter the venv will be made from, as `[project] python` will ask for it.
    let python = which::which(match &detected.python {
        Some(version) => format!("python{version}"),
        None => "python3".to_string(),
    })
    .map_err(|_| "no interpreter found to ask");
    let asker = match offline {
        true => Err("--offline"),
        false => python.as_deref().map_err(|why| *why),
    };
    let name = detected.name.clone().unwrap_or_else(|| fallback.clone());
    let own = detected.compiled.as_deref().map(|why| (name.as_str(), why));
    let mut check = prerequisites::section(&detected.dependencies, own, asker, dir, printer);
    let render = |check: Option<&str>| match &workspace {
        Some(workspace) => detect::render_workspace(&detected, &fallback, check, workspace),
        None => detect::render(&detected, &fallback, check),
    };
    let mut text = render(check.as_ref().map(|(body, _)| body.as_str()));
    // What init writes must be what `setup` then reads. A `[check]` that breaks it is
    // pybuild's bug: written without it, and said; the rest is the template's own.
    if check.is_some()
        && let Err(err) = Config::parse(&path, &text)
    {
        printer.warn(&format!(
            "the [check] entries pybuild chose do not parse, so they are left out (a bug of pybuild's): {err:#}"
        ));
        check = None;
        text = render(None);
    }
    Config::parse(&path, &text)?;
    write_shared(&path, text.as_bytes())?;
    let from = match &workspace {
        Some(workspace) => format!(
            "a uv workspace of {} apps and {} libraries",
            workspace.apps().count(),
            workspace.members.len() - workspace.apps().count()
        ),
        None => format!("from {}", detected.sources.join(", ")),
    };
    printer.info(&format!("wrote {} ({from})", path.display()));
    for said in check.map(|(_, said)| said).unwrap_or_default() {
        printer.info(&format!("[check]: {said}"));
    }
    Ok(())
}

/// A member of a uv workspace is configured at the workspace's root, in one project.toml
/// for every app: refuses to write one in a member (or below one).
fn refuse_inside_a_member(dir: &Path) -> Result<()> {
    let Ok(dir) = dir.canonicalize() else {
        return Ok(());
    };
    for root in dir.ancestors().skip(1) {
        // As uv does, the nearest workspace above decides.
        let Some(workspace) = Workspace::find(root)? else {
            continue;
        };
        let rel = dir
            .strip_prefix(root)
            .unwrap_or(&dir)
            .to_string_lossy()
            .into_owned();
        let Some(member) = workspace.member_at(&rel).filter(|member| member.dir != ".") else {
            return Ok(());
        };
        let at = format!(
            "{} is in `{}`, a member of the uv workspace at {}",
            dir.display(),
            member.name,
            root.display()
        );
        let error = match root.join(config::FILE_NAME).exists() {
            true => UserError::usage(format!("{at}, which {} configures", config::FILE_NAME)).hint(
                format!(
                    "set this app's own settings in `[apps.{}]` of {}",
                    member.name,
                    root.join(config::FILE_NAME).display()
                ),
            ),
            false => UserError::usage(format!(
                "{at}: a workspace has one {} at its root, for every app",
                config::FILE_NAME
            ))
            .hint(format!(
                "run `pybuild init` at the workspace's root: `pybuild -C {} init`",
                root.display()
            )),
        };
        return Err(error.into());
    }
    Ok(())
}
