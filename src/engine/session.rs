//! The engine's part of one pybuild invocation: the project, its state and lock, the
//! process runner, and the project's input files, listed once.

use std::any::{Any, TypeId};
use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::SystemTime;

use anyhow::{Context as _, Result};

use crate::base::process::Runner;
use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::engine::fileset::{self, Rules};
use crate::engine::fingerprint::{self, Fingerprint};
use crate::engine::lock::Lock;
use crate::engine::remote::Remote;
use crate::engine::statcache::Hash;
use crate::engine::state::State;

pub(crate) struct Session<'a> {
    pub(crate) project: &'a Project,
    pub(crate) printer: &'a Printer,
    pub(crate) runner: Runner,
    pub(crate) state: State,
    /// The project's lock, when this invocation holds it (the engine lets go of it while
    /// a task's command runs).
    pub(crate) lock: Option<Lock>,
    /// When this invocation began: what was written since, it wrote.
    pub(crate) started: SystemTime,
    rules: Rules,
    files: Option<Rc<[String]>>,
    /// The remote cache, set up when first asked for (a no-op build never is).
    remote: OnceCell<Option<Remote>>,
    /// What the layers above derive from the project once (the bundle's target), by type.
    derived: HashMap<TypeId, Rc<dyn Any>>,
    /// When the steps this build shares with others, recorded in another state, last
    /// succeeded (a workspace's setup, for each app's build): step → run id.
    pub(crate) shared_runs: HashMap<String, i64>,
    /// Those of them stale now, for `run::survey`: what builds on them is stale too.
    pub(crate) shared_stale: HashSet<String>,
}

impl<'a> Session<'a> {
    /// `rules` decide the project's input files (see `fileset`).
    pub(crate) fn new(
        project: &'a Project,
        printer: &'a Printer,
        state: State,
        rules: Rules,
    ) -> Self {
        Session {
            runner: Runner::new(&project.root, &project.venv(), &project.log_dir(), printer),
            project,
            printer,
            state,
            lock: None,
            started: SystemTime::now(),
            rules,
            files: None,
            remote: OnceCell::new(),
            derived: HashMap::new(),
            shared_runs: HashMap::new(),
            shared_stale: HashSet::new(),
        }
    }

    /// What decides the project's input files: asked again to say why a path is not one.
    pub(crate) fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The project's input files (see `fileset`), listed once per invocation.
    pub(crate) fn project_files(&mut self) -> Result<Rc<[String]>> {
        if let Some(files) = &self.files {
            return Ok(files.clone());
        }
        let state = &mut self.state;
        let set = fileset::project_files(
            &self.project.root,
            &self.rules,
            &mut state.listing,
            &mut state.files,
        )?;
        set.refuse_external_links()?;
        for left_out in &set.left_out {
            self.printer.warn(&left_out.to_string());
        }
        let files: Rc<[String]> = set.files.into();
        self.files = Some(files.clone());
        Ok(files)
    }

    /// The value of type `T` derived from the project since a step last changed it, if
    /// any: see [`Session::keep_derived`].
    pub(crate) fn derived<T: 'static>(&self) -> Option<Rc<T>> {
        let value = self.derived.get(&TypeId::of::<T>())?.clone();
        value.downcast().ok()
    }

    /// Keeps `value`, derived from the project (its configuration and files, the venv), for
    /// the rest of the invocation: read by every step and command that needs it, until a
    /// step that can change what it is derived from runs (`Step::keeps_derived`).
    pub(crate) fn keep_derived<T: 'static>(&mut self, value: Rc<T>) {
        self.derived.insert(TypeId::of::<T>(), value);
    }

    /// Forgets every derived value: a step about to run may change what they come from.
    pub(crate) fn forget_derived(&mut self) {
        self.derived.clear();
    }

    /// The remote cache `[cache]` or the environment configure, if any.
    pub(crate) fn remote(&self) -> Option<&Remote> {
        self.remote
            .get_or_init(|| Remote::configured(&self.project.config.cache, &self.project.root))
            .as_ref()
    }

    /// Waits for the remote cache's uploads (a bounded time) and says what it did, if it
    /// was used.
    pub(crate) fn finish_remote(&self) {
        if let Some(Some(remote)) = self.remote.get() {
            remote.finish(self.printer);
        }
    }

    /// The content hash of a file (relative to the root, or absolute); `None` if missing.
    pub(crate) fn hash(&mut self, key: &str) -> Result<Option<Hash>> {
        self.state
            .files
            .hash(&self.project.root, key)
            .with_context(|| format!("cannot read {}", self.project.root.join(key).display()))
    }

    /// Adds each file, present or not, to the fingerprint's input files.
    pub(crate) fn add_files<S: AsRef<str> + Sync>(
        &mut self,
        fingerprint: &mut Fingerprint,
        keys: &[S],
    ) -> Result<()> {
        let hashes = self
            .state
            .files
            .hash_many(&self.project.root, keys)
            .with_context(|| {
                format!(
                    "cannot read the input files under {}",
                    self.project.root.display()
                )
            })?;
        fingerprint.files_from(keys.iter().map(AsRef::as_ref).zip(hashes));
        Ok(())
    }

    /// When `step` last succeeded, for the steps that build on its result.
    pub(crate) fn run_id(&self, step: &str) -> String {
        let run = self.state.steps.get(step).map(|r| r.run_id);
        run.or_else(|| self.shared_runs.get(step).copied())
            .map_or_else(|| fingerprint::NEVER.to_string(), |id| id.to_string())
    }

    /// Saves the state if anything in it changed (a no-op build writes nothing).
    pub(crate) fn save_state(&mut self) -> Result<()> {
        self.state.save_if_changed(&self.project.state_dir())
    }
}
