//! The develop step: the editable install of the project into its venv
//! (`pip install -e .`, or `setup.py develop` for projects that need it).
//!
//! It runs again only when what the install depends on changed: `setup.py`,
//! `setup.cfg`, `pyproject.toml`, `MANIFEST.in`, the requirement files, the files the
//! metadata is computed from (a dynamic version's module, see `metadata_sources`), or the
//! set of top-level packages and modules. Plain edits, new modules inside a package and
//! deletions need no new install.

use anyhow::{Context as _, Result};

use crate::args;
use crate::base::config::DevelopMode;
use crate::engine::fileset::top_level::top_level_names;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::step::Step;
use crate::python::build::Build;
use crate::python::installer::{Installer, install_lock};
use crate::python::metadata_sources;
use crate::python::pins;
use crate::python::prune;
use crate::python::requirement::Requirement;
use crate::python::sources;
use crate::steps::bundle;

pub(crate) const METADATA_FILES: &[&str] =
    &["setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in"];

pub(crate) struct Develop;

/// The step's name, in its log, state and messages.
const NAME: &str = "develop";

impl<'a> Step<Build<'a>> for Develop {
    fn name(&self) -> &str {
        NAME
    }

    fn deps(&self) -> Vec<String> {
        vec!["venv".into()]
    }

    /// The inputs are listed before any step runs: a link out of the project is refused
    /// in milliseconds, not after the venv is made.
    fn preflight(&self, cx: &mut Build) -> Result<()> {
        cx.project_files().map(drop)
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        let config = &cx.project.config;
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("develop", serde_json::to_string(&config.develop)?);
        fingerprint.part("name", config.project.name.clone());
        fingerprint.part("installer", Installer::describe(config.env.installer));
        let names = top_level_names(&cx.project_files()?);
        fingerprint.part(
            "top-level packages",
            names.into_iter().collect::<Vec<_>>().join(" "),
        );
        cx.add_files(&mut fingerprint, METADATA_FILES)?;
        // A workspace syncs every member: each one's metadata is the install's too.
        if let Some(workspace) = &cx.project.workspace {
            let files: Vec<String> = workspace
                .members
                .iter()
                .filter(|member| member.dir != ".")
                .flat_map(|member| {
                    METADATA_FILES
                        .iter()
                        .map(move |f| format!("{}/{f}", member.dir))
                })
                .collect();
            cx.add_files(&mut fingerprint, &files)?;
        }
        let requirements = cx.sources().requirement_inputs();
        cx.add_files(&mut fingerprint, &requirements)?;
        let files = cx.project_files()?;
        let sources = metadata_sources::find(&cx.project.root, &files);
        cx.add_files(&mut fingerprint, &sources.into_iter().collect::<Vec<_>>())?;
        // A version from version control: a commit or a checkout installs again.
        let vcs = metadata_sources::vcs_state(&cx.project.root);
        cx.add_files(&mut fingerprint, &vcs)?;
        Ok(fingerprint)
    }

    /// A distribution at another version than this step's install pins (installed by
    /// hand, pulled in by a tool) runs it again: with an environment lock, any of the
    /// lock's; without, the project's exact `Requires-Dist` (the tools step puts back the
    /// requirement files' pins).
    fn damage(&self, cx: &mut Build) -> Result<Option<String>> {
        let locked = cx.project.env_lock().is_some();
        let pins = cx.pins()?;
        let env = cx.env()?;
        let dists = env.others(&cx.project.config.project.name);
        Ok(pins::drift(&pins, dists, |pin| {
            locked || pin.file == pins::REQUIRES_DIST
        }))
    }

    fn run(&self, cx: &mut Build) -> Result<Vec<String>> {
        self.make(cx)?;
        self.outputs(cx)
    }
}

impl Develop {
    fn make(&self, cx: &mut Build) -> Result<()> {
        let installer = Installer::resolve(cx)?;
        let project = cx.project.config.project.name.clone();
        installer.repair(cx, &project)?;
        let mode = cx.project.config.develop.mode;
        // The environment lock, if any, and what it holds.
        let lock = match cx.project.env_lock() {
            Some(lock) => Some((
                lock,
                crate::python::env_lock::read(lock, &cx.project.root, &project)?,
            )),
            None => None,
        };
        match &lock {
            Some((lock, locked)) => {
                cx.printer.phase(&format!(
                    "syncing the venv to {} ({} packages)",
                    lock.file_name(),
                    locked.names.len()
                ));
                install_lock(cx, *lock, locked, mode == DevelopMode::Pip)?
            }
            None if mode == DevelopMode::Pip => {
                cx.printer.phase("installing the project, editable");
                installer.install(cx, &args!["-e", "."])?
            }
            None => {}
        }
        if mode == DevelopMode::SetupPy {
            let python = cx.project.venv_python();
            let ran = cx.runner.run(python, &args!["setup.py", "develop"]);
            cx.venv_changed();
            ran?;
        }
        // A venv this build made holds only what it installed, all of it asked for.
        if crate::steps::venv::made_since(&cx.project.venv(), cx.started) {
            cx.printer
                .detail("the venv was made by this build: nothing in it to prune");
            return Ok(());
        }
        // The last install: now the venv can be made to hold exactly what is asked for.
        // (Constraint files are read too: keeping what they name is harmless.)
        let mut texts = Vec::new();
        if let Some((_, locked)) = &lock {
            texts.push(locked.names.join("\n"));
        }
        let sources = cx.sources();
        let mut files = match lock {
            Some(_) => Vec::new(),
            None => sources.requirement_inputs(),
        };
        // What the development requirement files ask for stays too.
        files.extend(sources.tool_inputs());
        for file in files {
            let text = sources.text(&file);
            if let Some(line) = sources::unnamed_requirement(&text) {
                cx.printer.detail(&format!(
                    "the venv is not pruned: {file} installs `{line}`, whose name only an installer can tell"
                ));
                return Ok(());
            }
            texts.push(text);
        }
        let wanted = prune::wanted(
            &project,
            &texts,
            &bundle::tool_packages(&cx.project.config)?,
        );
        cx.printer
            .phase("looking for what nothing asks for any more");
        prune::prune(cx, &wanted)
    }

    fn outputs(&self, cx: &mut Build) -> Result<Vec<String>> {
        let names: Vec<String> = match &cx.project.workspace {
            // A virtual member (a root holding only development tools) installs no
            // distribution of its own.
            Some(workspace) => workspace
                .members
                .iter()
                .filter(|m| m.installed)
                .map(|m| m.name.clone())
                .collect(),
            None => vec![cx.project.config.project.name.clone()],
        };
        let mut outputs = Vec::new();
        for name in names {
            outputs.extend(self.install_outputs(cx, &name)?);
        }
        Ok(outputs)
    }

    /// What the editable install of the distribution `name` left: its `METADATA`, what
    /// makes it editable, the `RECORD` of each distribution it requires unconditionally.
    fn install_outputs(&self, cx: &mut Build, name: &str) -> Result<Vec<String>> {
        let env = cx.env()?;
        let site_packages = env.site_packages();
        let project = env.find(name).with_context(|| match &cx.project.workspace {
            Some(_) => format!(
                "syncing the workspace left no {name}-*.dist-info in {}: is the member installable (a `[build-system]` in its pyproject.toml)?",
                site_packages.display()
            ),
            None => format!(
                "the editable install left no {name}-*.dist-info in {}: is `[project] name` in project.toml the distribution's name?",
                site_packages.display()
            ),
        })?;
        let mut outputs = vec![cx.project.key(&project.dist_info.join("METADATA"))];
        // What makes the install editable (its `.pth` files, setuptools' finder), and the
        // distributions it requires unconditionally: one deleted or uninstalled by hand
        // makes the step run again.
        for file in project.recorded_files(site_packages) {
            let name = file.to_string_lossy();
            if name.ends_with(".pth") || name.contains("__editable__") {
                outputs.push(cx.project.key(&file));
            }
        }
        for requirement in project
            .requires()
            .iter()
            .filter_map(|r| Requirement::parse(r))
        {
            if !requirement.is_unconditional() {
                continue; // a marker only Python can evaluate
            }
            if let Some(dist) = env.find(requirement.name()) {
                outputs.push(cx.project.key(&dist.dist_info.join("RECORD")));
            }
        }
        Ok(outputs)
    }
}
