//! What steps and the Python world work with during one pybuild invocation: the engine's
//! [`Session`] (reached through `Deref`: `cx.project`, `cx.runner`, `cx.state`...), and the
//! Python world it builds in: the interpreter `project.toml` asks for, whether the
//! package index may be used, the venv as last read (`python::env`) and the requirement
//! files (`python::sources`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::Result;

use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::engine::fileset::Rules;
use crate::engine::session::Session;
use crate::engine::state::State;
use crate::python::env::Env;
use crate::python::interpreter::{self, Interpreter};
use crate::python::network::Network;
use crate::python::pins::Pin;
use crate::python::sources::Sources;

pub(crate) struct Build<'a> {
    session: Session<'a>,
    /// Whether the package index may be used (`--offline`, or found unreachable).
    pub(crate) network: Network,
    interpreter: Option<Interpreter>,
    /// The venv, read once per state (see `python::env`).
    env: RefCell<Option<Rc<Env>>>,
    sources: RefCell<Option<Rc<Sources>>>,
}

impl<'a> Build<'a> {
    /// `rules` decide the project's input files (see `fileset`).
    pub(crate) fn new(
        project: &'a Project,
        printer: &'a Printer,
        state: State,
        rules: Rules,
    ) -> Self {
        Build {
            session: Session::new(project, printer, state, rules),
            network: Network::default(),
            interpreter: None,
            env: RefCell::default(),
            sources: RefCell::default(),
        }
    }

    /// The interpreter `[project] python` asks for, resolved once per invocation.
    pub(crate) fn interpreter(&mut self) -> Result<Interpreter> {
        if let Some(interpreter) = &self.interpreter {
            return Ok(interpreter.clone());
        }
        let session = &mut self.session;
        let found = interpreter::find(
            session.project.config.project.python.as_deref(),
            &session.project.root,
            &mut session.state.interpreters,
            &mut session.state.dirty,
            &session.runner,
        )?;
        self.interpreter = Some(found.clone());
        Ok(found)
    }

    /// The venv's `site-packages`, for the interpreter's version.
    pub(crate) fn site_packages(&mut self) -> Result<PathBuf> {
        let version = self.interpreter()?.short_version().to_string();
        Ok(self
            .project
            .venv()
            .join("lib")
            .join(format!("python{version}"))
            .join("site-packages"))
    }

    /// The venv's installed distributions and what they say (see `python::env`).
    pub(crate) fn env(&mut self) -> Result<Rc<Env>> {
        let site_packages = self.site_packages()?;
        Ok(self.env_at(&site_packages))
    }

    /// [`Build::env`], for a caller that knows the site-packages (a bundle's `Job`): read
    /// again only when the venv changed since it was last read.
    pub(crate) fn env_at(&self, site_packages: &Path) -> Rc<Env> {
        let mut memo = self.env.borrow_mut();
        match &*memo {
            Some(env) if env.is_current(site_packages) => env.clone(),
            _ => {
                let env = Rc::new(Env::read(site_packages));
                *memo = Some(env.clone());
                env
            }
        }
    }

    /// The requirement files, each read once (see `python::sources`).
    pub(crate) fn sources(&self) -> Rc<Sources> {
        self.sources
            .borrow_mut()
            .get_or_insert_with(|| Rc::new(Sources::of(self.project)))
            .clone()
    }

    /// What the environment's source pins (see `python::pins`).
    pub(crate) fn pins(&mut self) -> Result<Rc<BTreeMap<String, Pin>>> {
        let site_packages = self.site_packages()?;
        self.pins_at(&site_packages)
    }

    /// [`Build::pins`], for a caller that knows the site-packages.
    pub(crate) fn pins_at(&self, site_packages: &Path) -> Result<Rc<BTreeMap<String, Pin>>> {
        self.env_at(site_packages)
            .pins(&self.sources(), self.project)
    }

    /// Says the venv was changed (made, installed into, synced, or a task ran in it):
    /// what was read of it, and of the requirement files, is read again when next asked.
    pub(crate) fn venv_changed(&self) {
        self.env.take();
        self.sources.take();
    }
}

impl<'a> Deref for Build<'a> {
    type Target = Session<'a>;

    fn deref(&self) -> &Session<'a> {
        &self.session
    }
}

impl DerefMut for Build<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.session
    }
}
