//! `setup.cfg`: `[metadata] name`, `[options] python_requires` and the `console_scripts` of
//! `[options.entry_points]`, read by an INI parser shaped like Python's `configparser`
//! ([`Ini`], which `dependencies` and `metadata_sources` read `setup.cfg` with too).

use anyhow::{Result, bail};

use super::metadata::{Metadata, non_empty, pinned_minor, script_assignment};

pub(super) fn read(text: &str) -> Result<Metadata> {
    let ini = Ini::parse(text)?;
    let console_scripts = ini
        .get("options.entry_points", "console_scripts")
        .map(|value| value.lines().filter_map(script_assignment).collect())
        .unwrap_or_default();
    Ok(Metadata {
        name: ini.get("metadata", "name").and_then(non_empty),
        python: ini.get("options", "python_requires").and_then(pinned_minor),
        console_scripts,
    })
}

/// An INI file read the way Python's `configparser` reads `setup.cfg`: `[section]` headers,
/// `key = value` or `key: value` with keys lower-cased, indented lines continuing the value
/// above them, and `#`/`;` comment lines.
pub(crate) struct Ini {
    /// `(section, key, value)` in file order.
    pub(crate) entries: Vec<(String, String, String)>,
}

impl Ini {
    pub(crate) fn parse(text: &str) -> Result<Ini> {
        let mut entries: Vec<(String, String, String)> = Vec::new();
        let mut section: Option<String> = None;
        // Whether an indented line continues the last value; not right after a header.
        let mut in_value = false;
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
                continue;
            }
            if in_value
                && line.starts_with([' ', '\t'])
                && let Some((_, _, value)) = entries.last_mut()
            {
                value.push('\n');
                value.push_str(trimmed);
                continue;
            }
            if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                section = Some(header.trim().to_string());
                in_value = false;
                continue;
            }
            let line_number = index + 1;
            let Some(section) = &section else {
                bail!("line {line_number}: `{trimmed}` comes before any [section] header");
            };
            let Some(split) = trimmed.find(['=', ':']) else {
                bail!(
                    "line {line_number}: expected `key = value` or `[section]`, found `{trimmed}`"
                );
            };
            let key = trimmed[..split].trim().to_lowercase();
            let value = trimmed[split + 1..].trim().to_string();
            entries.push((section.clone(), key, value));
            in_value = true;
        }
        Ok(Ini { entries })
    }

    pub(super) fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, value)| value.as_str())
    }
}
