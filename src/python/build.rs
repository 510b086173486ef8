//! What steps and the Python world work with during one pybuild invocation: the engine's
//! [`Session`] (reached through `Deref`: `cx.project`, `cx.runner`, `cx.state`...), and the
//! Python world it builds in: the interpreter `project.toml` asks for, and whether the
//! package index may be used.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

use anyhow::Result;

use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::engine::fileset::Rules;
use crate::engine::session::Session;
use crate::engine::state::State;
use crate::python::interpreter::{self, Interpreter};
use crate::python::network::Network;

pub(crate) struct Build<'a> {
    session: Session<'a>,
    /// Whether the package index may be used (`--offline`, or found unreachable).
    pub(crate) network: Network,
    interpreter: Option<Interpreter>,
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
