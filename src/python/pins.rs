//! What the environment's source pins: every package of the environment lock (`uv.lock`,
//! `pylock.toml`), or each `name==version` line of the requirement and constraint files,
//! or else the project's own exact `Requires-Dist` pins. A bundle ships only those
//! versions (`bundle/manifest`), and a venv that drifted from them (an install by hand, a
//! tool that pulled another version) makes the step that syncs it run again ([`drift`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::base::distribution_name::normalize;
use crate::python::build::Build;
use crate::python::editable;
use crate::python::installed;

/// The versions the environment's source allows for a distribution, and the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pin {
    pub(crate) versions: Vec<String>,
    pub(crate) file: String,
}

/// What the environment's source pins, by normalised name: every package of the
/// environment lock, or each `name==version` line of the requirement and constraint files
/// and then of the project's `Requires-Dist` (read from its install in `site_packages`).
pub(crate) fn pins(cx: &Build, site_packages: &Path) -> Result<BTreeMap<String, Pin>> {
    let mut pins: BTreeMap<String, Pin> = BTreeMap::new();
    if let Some(lock) = cx.project.env_lock() {
        let locked =
            crate::python::env_lock::read(lock, &cx.project.root, &cx.project.config.project.name)?;
        for (name, version) in &locked.versions {
            add(&mut pins, name, version, lock.file_name());
        }
        return Ok(pins);
    }
    for file in cx.project.requirement_inputs() {
        let text = std::fs::read_to_string(cx.project.root.join(&file)).unwrap_or_default();
        add_requirement_pins(&mut pins, &text, &file);
    }
    // Unconditional ones only: a marker may exclude this platform.
    for requirement in editable::installed_requires(site_packages, &cx.project.config.project.name)
    {
        if let Some((name, version)) = exact_pin(&requirement)
            && !requirement.contains(';')
            && !pins.contains_key(&normalize(name))
        {
            add(&mut pins, name, version, REQUIRES_DIST);
        }
    }
    Ok(pins)
}

/// Adds each `name==version` line of the requirement or constraint file `file`, whose
/// text is `text`, to `pins`.
pub(crate) fn add_requirement_pins(pins: &mut BTreeMap<String, Pin>, text: &str, file: &str) {
    for line in installed::requirement_lines(text) {
        if let Some((name, version)) = exact_pin(&line) {
            add(pins, name, version, file);
        }
    }
}

fn add(pins: &mut BTreeMap<String, Pin>, name: &str, version: &str, file: &str) {
    let pin = pins.entry(normalize(name)).or_insert_with(|| Pin {
        versions: Vec::new(),
        file: file.to_string(),
    });
    if !pin.versions.iter().any(|v| v == version) {
        pin.versions.push(version.to_string());
    }
}

/// `name[extras]==version` (a marker after `;` allowed) → (name, version); anything
/// else (a range, a wildcard, a URL) pins nothing.
pub(crate) fn exact_pin(line: &str) -> Option<(&str, &str)> {
    let requirement = line.split(';').next()?.trim();
    let (name, version) = requirement.split_once("==")?;
    let name = name.split('[').next()?.trim();
    let version = version.trim();
    let plain = |s: &str| !s.is_empty() && !s.contains([',', '*', '<', '>', '!', '=', '~', ' ']);
    (plain(name) && plain(version)).then_some((name, version))
}

/// Where a pin comes from when it is the project's own `Requires-Dist`.
pub(crate) const REQUIRES_DIST: &str = "Requires-Dist";

/// The first installed distribution (the project aside) at another version than its pin,
/// among the pins `restores` says the caller's install puts back; said as a reason to
/// sync again.
pub(crate) fn drift(
    cx: &Build,
    site_packages: &Path,
    restores: impl Fn(&Pin) -> bool,
) -> Result<Option<String>> {
    let pins = pins(cx, site_packages)?;
    if pins.is_empty() {
        return Ok(None);
    }
    let project = normalize(&cx.project.config.project.name);
    for dist in installed::list(site_packages) {
        let name = normalize(&dist.name);
        if name == project {
            continue;
        }
        if let Some(pin) = pins.get(&name)
            && restores(pin)
            && !pin.versions.contains(&dist.version)
        {
            return Ok(Some(format!(
                "{name} {} in the venv, {} pins {}",
                dist.version,
                pin.file,
                pin.versions.join(" or ")
            )));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_pins_are_read_and_ranges_are_not() {
        assert_eq!(exact_pin("six==1.16.0"), Some(("six", "1.16.0")));
        assert_eq!(
            exact_pin("Click[extra] == 8.1.3 ; python_version >= '3'"),
            Some(("Click", "8.1.3"))
        );
        for open in ["six>=1", "six==1.*", "six>=1,==1.16", "six", "six===1.0"] {
            assert_eq!(exact_pin(open), None, "{open}");
        }
    }

    /// A name pinned by two files allows each version once, and names the first file.
    #[test]
    fn pins_gather_each_version_once_under_the_normalised_name() {
        let mut pins = BTreeMap::new();
        add_requirement_pins(&mut pins, "Six==1.16.0\nidna>=3\n", "requirements.txt");
        add_requirement_pins(&mut pins, "six==1.16.0\nsix==1.15.0\n", "constraints.txt");
        assert_eq!(pins.keys().collect::<Vec<_>>(), ["six"]);
        assert_eq!(
            pins["six"],
            Pin {
                versions: vec!["1.16.0".into(), "1.15.0".into()],
                file: "requirements.txt".into(),
            }
        );
    }
}
