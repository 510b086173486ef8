//! What the environment's source pins: every package of the environment lock (`uv.lock`,
//! `pylock.toml`), or each `name==version` line of the requirement and constraint files,
//! or else the project's own exact `Requires-Dist` pins. A bundle ships only those
//! versions (`bundle/manifest`), and a venv that drifted from them (an install by hand, a
//! tool that pulled another version) makes the step that syncs it run again ([`drift`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::base::distribution_name::normalize;
use crate::python::installed::Dist;
use crate::python::requirement::Requirement;
use crate::python::sources::{self, Sources};

/// The versions the environment's source allows for a distribution, and the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pin {
    pub(crate) versions: Vec<String>,
    pub(crate) file: String,
}

/// What the environment's source pins, by normalised name: every package of the
/// environment lock, or each `name==version` line of the requirement and constraint files
/// and then of the project's `Requires-Dist` (`requires`, as installed). `Env::pins`
/// keeps it for the venv's state.
pub(crate) fn pins(
    sources: &Sources,
    root: &Path,
    project: &str,
    requires: &[String],
) -> Result<BTreeMap<String, Pin>> {
    let mut pins: BTreeMap<String, Pin> = BTreeMap::new();
    if let Some(lock) = sources.lock() {
        let locked = crate::python::env_lock::read(lock, root, project)?;
        for (name, version) in &locked.versions {
            add(&mut pins, name, version, lock.file_name());
        }
        return Ok(pins);
    }
    for file in sources.requirement_inputs() {
        add_requirement_pins(&mut pins, &sources.text(&file), &file);
    }
    // Unconditional ones only: a marker may exclude this platform.
    for requirement in requires.iter().filter_map(|r| Requirement::parse(r)) {
        if let Some(version) = requirement.exact_version()
            && requirement.is_unconditional()
            && !pins.contains_key(requirement.name())
        {
            add(&mut pins, requirement.name(), &version, REQUIRES_DIST);
        }
    }
    Ok(pins)
}

/// Adds each `name==version` line of the requirement or constraint file `file`, whose
/// text is `text`, to `pins`.
pub(crate) fn add_requirement_pins(pins: &mut BTreeMap<String, Pin>, text: &str, file: &str) {
    for (name, version) in sources::exact_pins(text) {
        add(pins, &name, &version, file);
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

/// Where a pin comes from when it is the project's own `Requires-Dist`.
pub(crate) const REQUIRES_DIST: &str = "Requires-Dist";

/// The first installed distribution (the project aside) at another version than its pin,
/// among the pins `restores` says the caller's install puts back; said as a reason to
/// sync again.
pub(crate) fn drift<'d>(
    pins: &BTreeMap<String, Pin>,
    dists: impl IntoIterator<Item = &'d Dist>,
    restores: impl Fn(&Pin) -> bool,
) -> Option<String> {
    if pins.is_empty() {
        return None;
    }
    for dist in dists {
        if let Some(pin) = pins.get(&dist.key)
            && restores(pin)
            && !pin.versions.contains(&dist.version)
        {
            return Some(format!(
                "{} {} in the venv, {} pins {}",
                dist.key,
                dist.version,
                pin.file,
                pin.versions.join(" or ")
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

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
