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
use crate::engine::fileset::admission::{Admission, Rule};
use crate::python::build::Build;
use crate::python::editable::{Editable, Layout};
use crate::python::installed::Dist;
use crate::steps::bundle::backend::Target;

/// One thing a bundle must carry of the project's own code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    /// The module the entry point imports (`greeter.cli`).
    EntryModule(String),
    /// A top-level package or module of the project (`greeter`).
    TopLevel(String),
}

impl Wanted {
    /// How the manifest's `verified` names it: `entry-point: greeter.cli`, `top-level: greeter`.
    fn label(&self) -> String {
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
    fn top(&self) -> &str {
        let (Wanted::EntryModule(name) | Wanted::TopLevel(name)) = self;
        name.split('.').next().unwrap_or(name)
    }

    /// Whether `modules` (dotted names, packages by their own name) hold it: the module
    /// itself, or for a top-level name, it or anything in it (a namespace package has no
    /// module of its own).
    fn found_in(&self, modules: &BTreeSet<String>) -> bool {
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

/// The project's own code a bundle must carry, and where it lives in the project.
pub(crate) struct Code {
    wanted: Vec<Wanted>,
    /// The editable install's map of top-level names to project paths.
    packages: Vec<(String, String)>,
    /// Why the entry point's module is unknown, when it is.
    unknown_entry: Option<String>,
}

impl Code {
    /// What the bundle of this build must carry: the module of `target`'s entry, when it
    /// can be told, then each top-level name the editable install of the project in
    /// `site_packages` maps (or lists in `top_level.txt`, when its layout cannot be read).
    pub(crate) fn of(cx: &Build, site_packages: &Path, target: &Target) -> Code {
        let name = &cx.project.config.project.name;
        let (mut wanted, mut unknown_entry) = (Vec::new(), None);
        let env = cx.env_at(site_packages);
        match target.function() {
            Ok(function) => {
                let module = function.split(':').next().unwrap_or(&function).trim();
                wanted.push(Wanted::EntryModule(module.to_string()));
            }
            Err(err) => unknown_entry = Some(format!("entry-point: its module is unknown: {err}")),
        }
        let mut packages = Vec::new();
        if let Some(editable) = env.editable(name, &cx.project.root) {
            let names: Vec<String> = match &editable.layout {
                Layout::Packages(mapped) => {
                    packages = mapped.clone();
                    mapped.iter().map(|(name, _)| name.clone()).collect()
                }
                Layout::Unknown(_) => env.find(name).map(Dist::top_level).unwrap_or_default(),
            };
            wanted.extend(names.into_iter().map(Wanted::TopLevel));
        }
        // An app of a workspace carries the members it depends on as its own code.
        for (lib, _) in cx.project.app.iter().flat_map(|app| &app.libs) {
            let Some(dist) = env.find(lib) else { continue };
            match Editable::read(dist, env.site_packages(), &cx.project.root).map(|e| e.layout) {
                Some(Layout::Packages(mapped)) => {
                    wanted.extend(
                        mapped
                            .iter()
                            .map(|(name, _)| Wanted::TopLevel(name.clone())),
                    );
                    packages.extend(mapped);
                }
                _ => wanted.extend(dist.top_level().into_iter().map(Wanted::TopLevel)),
            }
        }
        Code {
            wanted,
            packages,
            unknown_entry,
        }
    }

    /// The top-level names to read the bundle's modules under.
    pub(crate) fn tops(&self) -> Vec<&str> {
        let mut tops: Vec<&str> = self.wanted.iter().map(Wanted::top).collect();
        tops.sort_unstable();
        tops.dedup();
        tops
    }

    /// Fails, naming the file and the rule that left it out, when the input files provide
    /// none of a wanted module's sources: the bundle would lack it.
    pub(crate) fn check_inputs(&self, cx: &Build, files: &[String], output: &str) -> Result<()> {
        for item in &self.wanted {
            let Some(sources) = item.sources(&self.packages) else {
                continue;
            };
            let provided = sources.iter().any(|source| {
                if source.ends_with('/') {
                    files
                        .iter()
                        .any(|f| f.starts_with(source.as_str()) && f.ends_with(".py"))
                } else {
                    files.contains(source)
                }
            });
            if !provided {
                let err = missing(cx, item, &self.packages, output, "is not among the inputs");
                return Err(err.into());
            }
        }
        Ok(())
    }

    /// Fails, naming the first, when the bundle's `modules` lack something it must carry.
    /// Of a `frozen` bundle (PyInstaller's, which holds only what the entry point imports)
    /// a missing top-level package is no failure but unverified. Adds each check made to
    /// `verified`, each not made to `unverified`.
    pub(crate) fn check_bundle(
        &self,
        cx: &Build,
        modules: &BTreeSet<String>,
        frozen: bool,
        output: &str,
        verified: &mut Vec<String>,
        unverified: &mut Vec<String>,
    ) -> Result<()> {
        unverified.extend(self.unknown_entry.clone());
        for item in &self.wanted {
            if item.found_in(modules) {
                verified.push(item.label());
            } else if frozen && matches!(item, Wanted::TopLevel(_)) {
                unverified.push(format!(
                    "{}: not in the bundle, which holds only what the entry point imports",
                    item.label()
                ));
            } else {
                let err = missing(cx, item, &self.packages, output, "is not in the bundle");
                return Err(err.into());
            }
        }
        Ok(())
    }
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
    // The file to explain: the first source that exists; for a package, its
    // `__init__.py` when it has one (a rule may leave out its files, not the folder).
    let source = item.sources(packages).and_then(|sources| {
        let root = &cx.project.root;
        sources
            .iter()
            .map(|s| match s.strip_suffix('/') {
                Some(dir) if root.join(dir).join("__init__.py").is_file() => {
                    format!("{dir}/__init__.py")
                }
                _ => s.trim_end_matches('/').to_string(),
            })
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
                    hint = Some(match rule {
                        Rule::Ignored(_) => format!(
                            "change that line, or add it back with `[bundle] sources = [\"{pattern}\"]` in project.toml"
                        ),
                        Rule::Sources(_) => {
                            "remove or narrow that pattern: a `!pattern` wins over any other".into()
                        }
                        Rule::BuiltIn(_) => {
                            "pybuild never takes files from there: move the code elsewhere".into()
                        }
                    });
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
