//! Deciding whether a step runs, and running the stale ones: the freshness rules of
//! docs/architecture.md ("Freshness"), the one place they are decided for `build`,
//! `status` and `watch`.
//!
//! A step is *fresh* when (1) a record of its last success exists, (2) the fingerprint
//! computed now equals the recorded one, and (3) every output it recorded still exists with
//! the recorded content hash (a deleted or hand-edited bundle is rebuilt), and (4) its
//! result is not damaged (see `Step::damage`).
//!
//! A stale step runs like this (cargo's fingerprint discipline):
//! 1. its fingerprint is computed *before* it runs, from the inputs as they are then, and
//!    prepared with the job that runs it (`Step::prepare`), which builds from what the
//!    fingerprint read;
//! 2. its old record is removed and the state saved, so an interrupted run is never fresh;
//! 3. it runs; on failure nothing is recorded;
//! 4. on success its outputs are hashed and the fingerprint from (1) is recorded with them.
//!
//! A file edited while the step runs therefore differs from the recorded hash, and the
//! next build runs the step again.

use std::collections::{BTreeMap, HashSet};
use std::ops::DerefMut;

use anyhow::{Context as _, Result};

use crate::base::error;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::reason::{Kind as ReasonKind, Reason};
use crate::engine::session::Session;
use crate::engine::statcache::now_ns;
use crate::engine::state::{self, State, StepRecord, saved_stamp};
use crate::engine::step::{Kind, Prepared, Step};

/// Whether a step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Fresh,
    /// It runs, for these reasons (never empty).
    Stale(Vec<Reason>),
}

impl Decision {
    pub(crate) fn reasons(&self) -> &[Reason] {
        match self {
            Decision::Fresh => &[],
            Decision::Stale(reasons) => reasons,
        }
    }
}

/// The step prepared (see `Step::prepare`): its fingerprint, with when each step it builds
/// on last succeeded, and its job.
pub(crate) fn prepare<'s, 'a, Cx>(cx: &mut Cx, step: &'s dyn Step<Cx>) -> Result<Prepared<'s, Cx>>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    let mut prepared = step.prepare(cx)?;
    for dep in step.deps() {
        let run_id = cx.run_id(&dep);
        prepared.fingerprint.ran(&dep, run_id);
    }
    Ok(prepared)
}

/// Whether `step`, whose fingerprint is now `fingerprint`, runs.
pub(crate) fn decide<'a, Cx>(
    cx: &mut Cx,
    step: &dyn Step<Cx>,
    fingerprint: &Fingerprint,
) -> Result<Decision>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    if let Kind::Task { always: true } = step.kind() {
        let why = "a task without sources or outputs always runs";
        return Ok(Decision::Stale(vec![Reason::new(
            ReasonKind::AlwaysRuns,
            why,
        )]));
    }
    let name = step.name();
    let state_dir = cx.project.state_dir();
    let Some(record) = cx.state.steps.get(name).cloned() else {
        // The record goes before a run and comes back after its success; the fingerprint
        // file stays: with it, the step ran before (and failed, was killed, or its record
        // was lost).
        let reason = match state::recorded_fingerprint(&state_dir, name) {
            Some(_) => Reason::new(ReasonKind::Unfinished, "no finished run recorded"),
            None => Reason::new(ReasonKind::FirstRun, "first run"),
        };
        return Ok(Decision::Stale(vec![reason]));
    };
    let mut reasons = Vec::new();
    if record.digest != fingerprint.digest() {
        reasons = match state::recorded_fingerprint(&state_dir, name) {
            Some(recorded) => fingerprint.differences(&recorded),
            None => Vec::new(),
        };
        if reasons.is_empty() {
            reasons.push(Reason::new(
                ReasonKind::Changed,
                "inputs changed (no details recorded)",
            ));
        }
    }
    for (output, recorded) in &record.outputs {
        let (kind, what) = match cx.hash(output)? {
            None => (ReasonKind::OutputMissing, "missing"),
            Some(hash) if hash != *recorded => (ReasonKind::OutputModified, "modified"),
            Some(_) => continue,
        };
        reasons.push(Reason::new(kind, format!("output {output} {what}")).path(output));
    }
    if reasons.is_empty()
        && let Some(damage) = step.damage(cx)?
    {
        reasons.push(Reason::new(ReasonKind::Damaged, damage));
    }
    Ok(match reasons.is_empty() {
        true => Decision::Fresh,
        false => Decision::Stale(reasons),
    })
}

/// What a survey (`pybuild status`) says of one step.
#[derive(Debug)]
pub(crate) struct Verdict {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    /// Why it would run; empty when fresh.
    pub(crate) reasons: Vec<Reason>,
    /// What its last success produced.
    pub(crate) outputs: Vec<String>,
    /// Why it would not run although it may be stale: the plan's last step is fresh from
    /// its early key, or would be fetched under it (see `Step::early_key`).
    pub(crate) skipped: Option<String>,
}

/// Decides every step of `steps` without running any: a step that builds on a stale one
/// is stale too ("venv will run first"). When a step's fingerprint cannot be computed
/// while a step before it is stale, it is reported as unknown; when every step before it
/// is fresh, the error is returned, as a build would.
pub(crate) fn survey<'a, Cx>(cx: &mut Cx, steps: &[&dyn Step<Cx>]) -> Result<Vec<Verdict>>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    let mut verdicts: Vec<Verdict> = Vec::new();
    // The steps found stale so far (another build's too: a workspace's setup, for an app):
    // a chain of tens of thousands of tasks is surveyed in linear time.
    let mut stale: HashSet<String> = cx.shared_stale.clone();
    for step in steps {
        cx.runner.scope(step.name());
        let reasons = match prepare(cx, *step) {
            Ok(Prepared { fingerprint, .. }) => {
                let mut reasons = decide(cx, *step, &fingerprint)?.reasons().to_vec();
                // A step that always runs needs no other reason.
                if step.kind() != (Kind::Task { always: true }) {
                    for dep in step.deps().into_iter().filter(|dep| stale.contains(dep)) {
                        let detail = format!("{dep} will run first");
                        reasons.push(Reason::new(ReasonKind::DependencyStale, detail).key(&dep));
                    }
                }
                if !reasons.is_empty()
                    && let Some(key) = cached::cache_key(cx, *step, &fingerprint)
                    && cx
                        .remote()
                        .is_some_and(|remote| remote.has(cx.printer, &key))
                {
                    reasons.push(Reason::new(ReasonKind::Cached, FETCHED));
                }
                reasons
            }
            Err(err) if stale.is_empty() => return Err(err),
            Err(err) => vec![Reason::new(
                ReasonKind::Unknown,
                format!("cannot tell until the steps before it run ({err:#})"),
            )],
        };
        let outputs = cx
            .state
            .steps
            .get(step.name())
            .map(|record| record.outputs.keys().cloned().collect())
            .unwrap_or_default();
        if !reasons.is_empty() {
            stale.insert(step.name().to_string());
        }
        verdicts.push(Verdict {
            name: step.name().to_string(),
            kind: step.kind(),
            reasons,
            outputs,
            skipped: None,
        });
    }
    // Only when something would run: a fresh plan sends nothing to the server.
    if !stale.is_empty()
        && let Some(settled) = survey_early(cx, steps)?
    {
        return Ok(settled);
    }
    Ok(verdicts)
}

const FETCHED: &str = "its result would be fetched from the remote cache";

/// The verdicts when the plan's last step has an early key that settles it (see
/// `Step::early_key`): fresh as recorded, or in the remote cache; no other step would run.
fn survey_early<'a, Cx>(cx: &mut Cx, steps: &[&dyn Step<Cx>]) -> Result<Option<Vec<Verdict>>>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    let Some((last, earlier)) = steps.split_last() else {
        return Ok(None);
    };
    let Some(early) = cached::early_key(cx, *last) else {
        return Ok(None);
    };
    let name = last.name().to_string();
    let reasons = if cached::early_fresh(cx, &name, &early)? {
        Vec::new()
    } else if cx
        .remote()
        .is_some_and(|remote| remote.has(cx.printer, &early.key))
    {
        vec![Reason::new(ReasonKind::Cached, FETCHED)]
    } else {
        return Ok(None);
    };
    let note = match reasons.is_empty() {
        true => format!("not needed: {name} is fresh from its pinned inputs"),
        false => format!("not needed: {name} would be fetched"),
    };
    let verdict = |cx: &Cx, step: &dyn Step<Cx>, reasons, skipped| Verdict {
        name: step.name().to_string(),
        kind: step.kind(),
        reasons,
        outputs: cx
            .state
            .steps
            .get(step.name())
            .map(|record| record.outputs.keys().cloned().collect())
            .unwrap_or_default(),
        skipped,
    };
    let mut verdicts: Vec<Verdict> = earlier
        .iter()
        .map(|step| verdict(cx, *step, Vec::new(), Some(note.clone())))
        .collect();
    verdicts.push(verdict(cx, *last, reasons, None));
    Ok(Some(verdicts))
}

/// Runs each stale step of `steps` in order, recording each success; returns the steps
/// that ran (or were fetched). On failure, the error says which step failed. With a remote
/// cache, a step with a cache key is fetched when the server has its result, and uploaded
/// after it ran (see `cached`); then the uploads are waited for, a bounded time.
pub(crate) fn build<'a, Cx>(
    cx: &mut Cx,
    steps: &[&dyn Step<Cx>],
    explain: bool,
) -> Result<Vec<String>>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    let result = build_steps(cx, steps, explain);
    cx.finish_remote();
    result
}

fn build_steps<'a, Cx>(cx: &mut Cx, steps: &[&dyn Step<Cx>], explain: bool) -> Result<Vec<String>>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    for step in steps {
        cx.runner.scope(step.name());
        step.preflight(cx)?;
    }
    // The plan's last step, when its result is known from pinned inputs alone: fresh as
    // recorded, or fetched, it needs none of the steps before it (no venv on a fresh clone).
    let early = match steps.last() {
        Some(last) => cached::early_key(cx, *last).map(|early| (*last, early)),
        None => None,
    };
    if let Some((last, early)) = &early {
        let name = last.name().to_string();
        if cached::early_fresh(cx, &name, early)? {
            let summary = last.summary(cx);
            cx.printer.fresh(&name, &summary);
            return Ok(Vec::new());
        }
    }
    // Asked of the server only once a step is found stale: a no-op build sends nothing.
    let mut ask_early = early.is_some() && cx.remote().is_some();
    let mut ran = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let name = step.name().to_string();
        cx.runner.scope(&name);
        // A configuration problem (no console script to run, say) is said as it is: it is
        // no doubt about freshness.
        let Prepared { fingerprint, job } =
            prepare(cx, *step).map_err(|err| match error::is_usage(&err) {
                true => err,
                false => err.context(format!("cannot tell whether step `{name}` is up to date")),
            })?;
        let reasons = match decide(cx, *step, &fingerprint)? {
            Decision::Fresh => {
                let summary = step.summary(cx);
                cx.printer.fresh(&name, &summary);
                continue;
            }
            Decision::Stale(reasons) => reasons,
        };
        if let Some((last, early)) = early.as_ref().filter(|_| ask_early) {
            ask_early = false;
            let (last_name, start) = (last.name().to_string(), std::time::Instant::now());
            if cached::fetch(cx, *last, &early.key, &early.fingerprint)? {
                let summary = last.summary(cx);
                cx.printer.fetched(&last_name, start.elapsed(), &summary);
                ran.push(last_name);
                return Ok(ran);
            }
        }
        let state_dir = cx.project.state_dir();
        cx.state.forget(&state_dir, &name, &fingerprint)?;
        if !step.keeps_derived() {
            cx.forget_derived();
        }
        let is_task = matches!(step.kind(), Kind::Task { .. });
        if !is_task {
            cx.runner.reset_log()?;
        }
        let line = match is_task {
            true => cx.printer.without_progress().step(&name, &brief(&reasons)),
            false => cx.printer.step(&name, &brief(&reasons)),
        };
        if explain {
            for reason in &reasons {
                cx.printer.info(&format!("{:8}   because {reason}", ""));
            }
        }
        let key = cached::cache_key(cx, *step, &fingerprint);
        // The early key goes up with the last step's result, if the inputs it is made of
        // are still those the build started from.
        let early_too = |cx: &mut Cx| match (&early, index + 1 == steps.len()) {
            (Some((last, before)), true) => cached::early_key(cx, *last)
                .filter(|now| now.key == before.key)
                .map(|now| now.key.key),
            _ => None,
        };
        if let Some(key) = &key
            && cached::fetch(cx, *step, key, &fingerprint)?
        {
            let keys: Vec<String> = early_too(cx).into_iter().collect();
            cached::upload(cx, &name, keys);
            line.done(&format!("{} (fetched)", step.summary(cx)));
            ran.push(name);
            continue;
        }
        let result = match is_task {
            true => without_lock(cx, job),
            false => job(cx),
        };
        let recorded = result.and_then(|produced| {
            let mut outputs = BTreeMap::new();
            for output in produced {
                let hash = cx
                    .hash(&output)?
                    .with_context(|| format!("it succeeded but did not produce {output}"))?;
                outputs.insert(output, hash);
            }
            let record = StepRecord {
                digest: fingerprint.digest(),
                outputs,
                run_id: now_ns(),
            };
            cx.state.record(&state_dir, &name, &fingerprint, record)
        });
        if let Err(err) = recorded {
            line.failed();
            let what = if is_task { "task" } else { "step" };
            return Err(err.context(format!("{what} `{name}` failed")));
        }
        if let Some(key) = key {
            let keys: Vec<String> = std::iter::once(key.key).chain(early_too(cx)).collect();
            cached::upload(cx, &name, keys);
        }
        line.done(&step.summary(cx));
        ran.push(name);
    }
    Ok(ran)
}

/// Runs `f` (a task's commands: the user's program, which may run for hours or run
/// pybuild itself) without the project's lock, then takes it back. The engine saved the
/// state on forgetting the task's record, so nothing takes the task for fresh meanwhile;
/// if another pybuild saved the state since, its records are the truth.
fn without_lock<'a, Cx, T>(cx: &mut Cx, f: impl FnOnce(&mut Cx) -> Result<T>) -> Result<T>
where
    Cx: DerefMut<Target = Session<'a>>,
{
    let state_dir = cx.project.state_dir();
    let before = saved_stamp(&state_dir);
    let mut lock = cx.lock.take();
    if let Some(lock) = &mut lock {
        lock.release()?;
    }
    let result = f(cx);
    if let Some(lock) = &mut lock {
        lock.retake(cx.printer)?;
    }
    cx.lock = lock;
    if saved_stamp(&state_dir) != before {
        cx.state = State::load(&state_dir, cx.printer);
    }
    result
}

/// The first reason, and the second or how many more there are.
pub(crate) fn brief(reasons: &[Reason]) -> String {
    match reasons {
        [] => String::new(),
        [one] => one.to_string(),
        [first, second] => format!("{first}, and {second}"),
        [first, rest @ ..] => format!("{first}, and {} more", rest.len()),
    }
}

mod cached;
#[cfg(test)]
mod tests;
