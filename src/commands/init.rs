//! `pybuild init`: writes a commented `project.toml` for an existing project, filled in
//! from what the project already declares (see `detect`), with the `[check]` entries of
//! the dependencies it knows to need system packages (see `init/prerequisites`). Never
//! overwrites one without `--force`; asks nothing, so it works in CI.

use std::path::Path;

use anyhow::Result;

use crate::base::config::{self, Config};
use crate::base::error::UserError;
use crate::base::ui::Printer;
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
    let detected = detect::detect(dir)?;
    // No project to install: fail now, not after a venv was made for nothing.
    if detected.sources.is_empty() {
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
    let mut text = detect::render(
        &detected,
        &fallback,
        check.as_ref().map(|(body, _)| body.as_str()),
    );
    // What init writes must be what `setup` then reads. A `[check]` that breaks it is
    // pybuild's bug: written without it, and said; the rest is the template's own.
    if check.is_some()
        && let Err(err) = Config::parse(&path, &text)
    {
        printer.warn(&format!(
            "the [check] entries pybuild chose do not parse, so they are left out (a bug of pybuild's): {err:#}"
        ));
        check = None;
        text = detect::render(&detected, &fallback, None);
    }
    Config::parse(&path, &text)?;
    write_shared(&path, text.as_bytes())?;
    let from = format!("from {}", detected.sources.join(", "));
    printer.info(&format!("wrote {} ({from})", path.display()));
    for said in check.map(|(_, said)| said).unwrap_or_default() {
        printer.info(&format!("[check]: {said}"));
    }
    Ok(())
}
