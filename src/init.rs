//! `pybuild init`: writes a commented `project.toml` for an existing project, filled in
//! from what the project already declares (see `detect`). Never overwrites one without
//! `--force`; asks nothing, so it works in CI.

use std::path::Path;

use anyhow::Result;

use crate::config::{self, Config};
use crate::detect;
use crate::error::UserError;
use crate::state::write_atomically;
use crate::ui::Printer;

pub fn write_config(dir: &Path, force: bool, printer: &Printer) -> Result<()> {
    let path = dir.join(config::FILE_NAME);
    if path.exists() && !force {
        return Err(
            UserError::usage(format!("{} already exists", path.display()))
                .hint("`pybuild init --force` replaces it; `pybuild setup` uses it as it is")
                .into(),
        );
    }
    let detected = detect::detect(dir)?;
    let fallback = dir
        .file_name()
        .map_or_else(|| "app".to_string(), |n| n.to_string_lossy().into_owned());
    let text = detect::render(&detected, &fallback);
    // The template is ours: if it does not parse, that is pybuild's bug, caught here.
    Config::parse(&path, &text)?;
    write_atomically(&path, text.as_bytes())?;
    let from = if detected.sources.is_empty() {
        "nothing to read: fill in [project] name".to_string()
    } else {
        format!("from {}", detected.sources.join(", "))
    };
    printer.info(&format!("wrote {} ({from})", path.display()));
    Ok(())
}
