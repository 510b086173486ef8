//! The project's own code in a bundle, proven: the module the entry point starts, and
//! every top-level package or module the editable install maps (`python::editable`).
//!
//! A file left out of the inputs (a `.gitignore` line, a `[bundle] sources` pattern) is
//! left out of the bundle too, and the bundle would die with `ModuleNotFoundError`. So it
//! is checked twice, and either failure fails the build with the previous bundle in
//! place: before the backend runs, against the input files ([`Wanted::check_inputs`],
//! naming the file and the rule that left it out), and after, against the module names
//! read back from the bundle itself (`manifest`), which also catches what a backend's
//! packaging left out (a folder without `__init__.py` that setuptools' `find_packages`
//! skips, while the editable install imports it). A PyInstaller executable holds only the
//! modules its analysis followed from the entry point: a top-level package it never
//! imports is said to be unverified, not a failure.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;

use crate::base::error::UserError;
use crate::engine::fileset::admission::Admission;
use crate::python::build::Build;
use crate::python::editable::{Editable, Layout};

/// What a bundle must carry of the project's own code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// The module the entry point imports (`greeter.cli`).
    EntryModule(String),
    /// A top-level package or module of the project (`greeter`).
    TopLevel(String),
}

impl Wanted {
    /// How the manifest's `verified` names it: `entry-point: greeter.cli`, `top-level: greeter`.
    pub(crate) fn label(&self) -> String {
        match self {
            Wanted::EntryModule(module) => format!("entry-point: {module}"),
            Wanted::TopLevel(name) => format!("top-level: {name}"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Wanted::EntryModule(module) => format!("the entry point's module {module}"),
            Wanted::TopLevel(name) => format!("the project's top-level package {name}"),
        }
    }

    /// The top-level name it is under.
    pub(crate) fn top(&self) -> &str {
        let (Wanted::EntryModule(name) | Wanted::TopLevel(name)) = self;
        name.split('.').next().unwrap_or(name)
    }

    /// Whether `modules` (dotted names, packages by their own name) hold it: the module
    /// itself, or for a top-level name, it or anything in it (a namespace package has no
    /// module of its own).
    pub(crate) fn found_in(&self, modules: &BTreeSet<String>) -> bool {
        match self {
            Wanted::EntryModule(module) => modules.contains(module),
            Wanted::TopLevel(name) => {
                let inside = format!("{name}.");
                modules.contains(name)
                    || modules
                        .range(inside.clone()..)
                        .next()
                        .is_some_and(|m| m.starts_with(&inside))
            }
        }
    }

    /// The project files (relative to the root) that provide it, by the editable install's
    /// map of top-level names to paths: any one of them will do. `None` when the map does
    /// not say (a module of a dependency, an install whose layout cannot be read).
    fn sources(&self, packages: &[(String, String)]) -> Option<Vec<String>> {
        let (_, path) = packages.iter().find(|(name, _)| name == self.top())?;
        if path.ends_with(".py") {
            return Some(vec![path.clone()]);
        }
        Some(match self {
            Wanted::TopLevel(_) => vec![format!("{path}/")],
            Wanted::EntryModule(module) => match module.split_once('.') {
                None => vec![format!("{path}/__init__.py")],
                Some((_, rest)) => {
                    let rest = rest.replace('.', "/");
                    vec![
                        format!("{path}/{rest}.py"),
                        format!("{path}/{rest}/__init__.py"),
                    ]
                }
            },
        })
    }
}

/// What the bundle of this build must carry: the entry point's module (of `function`,
/// `module:function`, when it is known), then each top-level name the editable install
/// maps (or lists in `top_level.txt`, when its layout cannot be read), with the map of
/// top-level names to project paths.
pub(crate) fn wanted(
    cx: &Build,
    site_packages: &Path,
    function: Option<&str>,
) -> (Vec<Wanted>, Vec<(String, String)>) {
    let mut wanted: Vec<Wanted> = function
        .map(|function| function.split(':').next().unwrap_or(function).trim())
        .map(|module| Wanted::EntryModule(module.to_string()))
        .into_iter()
        .collect();
    let name = &cx.project.config.project.name;
    let mut packages = Vec::new();
    if let Some(editable) = Editable::read(site_packages, name, &cx.project.root) {
        let names: Vec<String> = match &editable.layout {
            Layout::Packages(mapped) => {
                packages = mapped.clone();
                mapped.iter().map(|(name, _)| name.clone()).collect()
            }
            Layout::Unknown(_) => std::fs::read_to_string(editable.dist_info.join("top_level.txt"))
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_string)
                .collect(),
        };
        wanted.extend(names.into_iter().map(Wanted::TopLevel));
    }
    (wanted, packages)
}

/// Fails, naming the file and the rule that left it out, when the input files provide
/// none of a wanted module's sources: the bundle would lack it.
pub(crate) fn check_inputs(
    cx: &Build,
    wanted: &[Wanted],
    packages: &[(String, String)],
    files: &[String],
    output: &str,
) -> Result<()> {
    for item in wanted {
        let Some(sources) = item.sources(packages) else {
            continue;
        };
        let provided = sources.iter().any(|source| match source.strip_suffix('/') {
            Some(dir) => files
                .iter()
                .any(|f| f.starts_with(source) && f.ends_with(".py") && f.len() > dir.len()),
            None => files.contains(source),
        });
        if !provided {
            return Err(missing(cx, item, packages, output, "is not among the inputs").into());
        }
    }
    Ok(())
}

/// Fails, naming each, when the bundle's `modules` lack something it must carry; returns
/// what was not found where that is no failure (`optional` top-level names).
pub(crate) fn check_bundle(
    cx: &Build,
    wanted: &[Wanted],
    packages: &[(String, String)],
    modules: &BTreeSet<String>,
    top_level_optional: bool,
    output: &str,
) -> Result<Vec<Wanted>> {
    let mut absent = Vec::new();
    for item in wanted.iter().filter(|item| !item.found_in(modules)) {
        if top_level_optional && matches!(item, Wanted::TopLevel(_)) {
            absent.push(item.clone());
            continue;
        }
        return Err(missing(cx, item, packages, output, "is not in the bundle").into());
    }
    Ok(absent)
}

/// The error for `item` missing from `output`: which file would provide it, and the rule
/// that leaves that out of the inputs, if one does.
fn missing(
    cx: &Build,
    item: &Wanted,
    packages: &[(String, String)],
    output: &str,
    how: &str,
) -> UserError {
    let mut message = format!("{output} would not run: {} {how}", item.describe());
    let source = item.sources(packages).and_then(|sources| {
        let root = &cx.project.root;
        sources
            .iter()
            .map(|s| s.trim_end_matches('/').to_string())
            .find(|s| root.join(s).exists())
            .map(|s| (root.join(&s).is_dir(), s))
            .or_else(|| Some((false, sources.first()?.clone())))
    });
    let mut hint = None;
    match source {
        Some((is_dir, file)) if cx.project.root.join(&file).exists() => {
            let rule = Admission::new(&cx.project.root, cx.rules())
                .ok()
                .and_then(|mut admission| admission.rule_leaving_out(&file, is_dir));
            match rule {
                Some(rule) => {
                    message.push_str(&format!(": {file} is left out of the inputs by {rule}"));
                    let pattern = if is_dir {
                        format!("{file}/**")
                    } else {
                        file.clone()
                    };
                    hint = Some(format!(
                        "change that rule, or add it back with `[bundle] sources = [\"{pattern}\"]` in project.toml"
                    ));
                }
                None => {
                    message.push_str(&format!(
                        ": {file} is an input, but the {} build left it out",
                        cx.project.config.bundle.kind
                    ));
                    hint = Some(
                        "does the project's packaging include it? (setuptools' `find_packages` skips a folder without `__init__.py`, which the editable install still imports)"
                            .to_string(),
                    );
                }
            }
        }
        Some((_, file)) => message.push_str(&format!(": {file} does not exist")),
        None => {}
    }
    let mut err = UserError::failure(message);
    if let Some(hint) = hint {
        err = err.hint(hint);
    }
    err.hint("the previous bundle was left in place")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_is_found_by_its_name_and_a_top_level_name_by_anything_in_it() {
        let modules: BTreeSet<String> = ["greeter", "greeter.cli", "nsp.sub", "nspx"]
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert!(Wanted::EntryModule("greeter.cli".into()).found_in(&modules));
        assert!(!Wanted::EntryModule("greeter.words".into()).found_in(&modules));
        assert!(Wanted::TopLevel("greeter".into()).found_in(&modules));
        assert!(Wanted::TopLevel("nsp".into()).found_in(&modules));
        assert!(!Wanted::TopLevel("nspy".into()).found_in(&modules));
        assert!(!Wanted::TopLevel("ns".into()).found_in(&modules));
    }

    #[test]
    fn sources_follow_the_editable_map() {
        let packages = [
            ("greeter".to_string(), "src/greeter".to_string()),
            ("tool".to_string(), "tool.py".to_string()),
        ];
        let entry = Wanted::EntryModule("greeter.sub.cli".into());
        assert_eq!(
            entry.sources(&packages).unwrap(),
            ["src/greeter/sub/cli.py", "src/greeter/sub/cli/__init__.py"]
        );
        assert_eq!(
            Wanted::TopLevel("greeter".into())
                .sources(&packages)
                .unwrap(),
            ["src/greeter/"]
        );
        assert_eq!(
            Wanted::EntryModule("tool".into())
                .sources(&packages)
                .unwrap(),
            ["tool.py"]
        );
        assert_eq!(Wanted::EntryModule("six".into()).sources(&packages), None);
    }
}
