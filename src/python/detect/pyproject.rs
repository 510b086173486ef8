//! `pyproject.toml`: `[project]` `name`, `requires-python` and `[project.scripts]`, with a
//! wrong type reported at its line.

use anyhow::Result;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::metadata::{Metadata, non_empty, pinned_minor};

pub(super) fn read(text: &str) -> Result<Metadata> {
    // `DeTable` rather than `toml::Table`: its keys keep their spans, which give back the
    // order of `[project.scripts]` that a sorted map loses.
    let document = DeTable::parse(text)?;
    let Some(project) = document.get_ref().get("project") else {
        return Ok(Metadata::default());
    };
    let project = toml_table(text, project, "project")?;
    let name = project_string(text, project, "name")?;
    let requires = project_string(text, project, "requires-python")?;
    Ok(Metadata {
        name: name.and_then(non_empty),
        python: requires.and_then(pinned_minor),
        console_scripts: pyproject_scripts(text, project)?,
    })
}

fn pyproject_scripts(text: &str, project: &DeTable<'_>) -> Result<Vec<(String, String)>> {
    let Some(scripts) = project.get("scripts") else {
        return Ok(Vec::new());
    };
    let mut entries: Vec<_> = toml_table(text, scripts, "project.scripts")?
        .iter()
        .collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
        .into_iter()
        .map(|(key, value)| match value.get_ref() {
            DeValue::String(target) => Ok((key.get_ref().to_string(), target.trim().to_string())),
            _ => Err(wrong_type(
                text,
                value,
                &format!("project.scripts.{}", key.get_ref()),
                "a string",
            )),
        })
        .collect()
}

fn toml_table<'a, 'i>(
    text: &str,
    value: &'a Spanned<DeValue<'i>>,
    key: &str,
) -> Result<&'a DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(table) => Ok(table),
        _ => Err(wrong_type(text, value, key, "a table")),
    }
}

fn project_string<'a>(text: &str, project: &'a DeTable<'_>, key: &str) -> Result<Option<&'a str>> {
    match project.get(key).map(|value| (value, value.get_ref())) {
        None => Ok(None),
        Some((_, DeValue::String(s))) => Ok(Some(s)),
        Some((value, _)) => Err(wrong_type(
            text,
            value,
            &format!("project.{key}"),
            "a string",
        )),
    }
}

fn wrong_type(
    text: &str,
    value: &Spanned<DeValue<'_>>,
    key: &str,
    expected: &str,
) -> anyhow::Error {
    let offset = value.span().start.min(text.len());
    let line = text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1;
    anyhow::anyhow!("line {line}: `{key}` must be {expected}")
}
