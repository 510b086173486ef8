//! The step graph: targets → the steps that make them, in order, each once.
//!
//! A target is a built-in step, `setup` (the built-in steps up to `develop`), or a task.
//! Each built-in step names the steps it runs after in [`built_ins`]: the pipeline check →
//! venv → tools → develop → bundle is a chain (`check` first: a missing header fails in
//! milliseconds, before any venv), and what takes the bundle further (`image`, the
//! `deploy-*` steps) runs after `bundle` or `image` without being in `bundle`'s plan.
//! The registry's order is one the steps can run in: a test keeps each step after what it
//! names, which also keeps the built-in steps free of cycles. Every task runs inside
//! the venv, so it implicitly depends on `venv` and `tools` (the dev tools it most likely
//! runs); what needs the project installed says `deps = ["setup"]`. Plan order is
//! depth-first, deps in the order written, each target once: a task's implicit deps, then
//! its deps, then the task.
//!
//! Running after a step is not building on it: `Step::deps` says whose runs a step's
//! result depends on (the engine records them in its fingerprint), and a test keeps every
//! dep of a built-in step among the steps it runs after, directly or not.

use std::collections::HashSet;
use std::ffi::OsString;

use anyhow::{Result, bail};

use crate::base::config::Config;
use crate::base::config::task::{SETUP, STEPS};
use crate::engine::step::Step;
use crate::python::build::Build;
use crate::steps::bundle::{self, Bundle};
use crate::steps::check::Check;
use crate::steps::deploy::{Deploy, Target};
use crate::steps::develop::Develop;
use crate::steps::image::Image;
use crate::steps::push::Push;
use crate::steps::sbom::Sbom;
use crate::steps::task::{self, Task};
use crate::steps::tools::Tools;
use crate::steps::venv::Venv;

/// A step of a plan, working with one build's context.
pub(crate) type Planned<'c, 'a> = Box<dyn Step<Build<'a>> + 'c>;

/// A built-in step and the steps it runs after.
struct BuiltIn<'a> {
    step: Planned<'static, 'a>,
    after: &'static [&'static str],
}

impl<'a> BuiltIn<'a> {
    fn new(step: impl Step<Build<'a>> + 'static, after: &'static [&'static str]) -> Self {
        BuiltIn {
            step: Box::new(step),
            after,
        }
    }
}

/// The built-in steps, each with what it runs after, in an order they can run in: the one
/// registry of them.
fn built_ins<'a>() -> Vec<BuiltIn<'a>> {
    vec![
        BuiltIn::new(Check, &[]),
        BuiltIn::new(Venv, &["check"]),
        BuiltIn::new(Tools, &["venv"]),
        BuiltIn::new(Develop, &["tools"]),
        BuiltIn::new(Bundle, &["develop"]),
        BuiltIn::new(Image, &["bundle"]),
        BuiltIn::new(Sbom, &["image"]),
        BuiltIn::new(Push, &["sbom"]),
        BuiltIn::new(Deploy(Target::Marathon), &["bundle"]),
        BuiltIn::new(Deploy(Target::Kubernetes), &["image"]),
        BuiltIn::new(Deploy(Target::Spark), &["bundle"]),
    ]
}

/// The built-in steps whose outputs are the project's build products, which `pybuild
/// clean` removes (the other steps' outputs are files of the venv and of the system).
pub(crate) const PRODUCTS: &[&str] = &[
    "bundle",
    "image",
    "sbom",
    "push",
    "deploy-marathon",
    "deploy-kubernetes",
    "deploy-spark",
];

/// Whether `name` is something `steps::build` can build in this project.
pub(crate) fn is_target(config: &Config, name: &str) -> bool {
    name == SETUP || STEPS.contains(&name) || config.tasks.contains_key(name)
}

/// The steps that make all of `targets`, in order, each once; `args` go to the targets
/// that are tasks. A `[bundle] kind` no backend answers to is refused first (see
/// `bundle::backend`): every build, `status` and `watch` plans before anything else.
pub(crate) fn plan<'c, 'a>(
    config: &'c Config,
    targets: &[&str],
    args: &[OsString],
) -> Result<Vec<Planned<'c, 'a>>> {
    // Before anything is planned, as project.toml's other errors are found when it is
    // loaded: the tools step installs the kind's bundler, and the bundle step builds with it.
    bundle::backend(config)?;
    // Made once: a plan of tens of thousands of tasks looks each name up in it.
    let mut registry = built_ins();
    let mut names: Vec<(&str, &str)> = Vec::new();
    let mut planned: HashSet<&str> = HashSet::new();
    for target in targets {
        for name in order(config, &registry, target)? {
            if planned.insert(name) {
                names.push((name, target));
            }
        }
    }
    let steps = names.into_iter().map(|(name, target)| -> Planned<'c, 'a> {
        // Each built-in is planned once: it can be taken out of the registry.
        if let Some(at) = registry.iter().position(|b| b.step.name() == name) {
            return registry.swap_remove(at).step;
        }
        let (name, task) = config
            .tasks
            .get_key_value(name)
            .expect("order only holds known targets");
        let args = match name == target {
            true => args.to_vec(),
            false => Vec::new(),
        };
        Box::new(Task {
            name: name.clone(),
            config: task,
            args,
        })
    });
    Ok(steps.collect())
}

/// What `target` needs, depth-first, then `target`; each name once, `setup` left out (it
/// is its last step). The walk keeps its own stack: a chain of tasks tens of thousands
/// deep must not overflow the thread's.
fn order<'a>(config: &'a Config, registry: &[BuiltIn], target: &'a str) -> Result<Vec<&'a str>> {
    let mut order = Vec::new();
    let mut done: HashSet<&str> = HashSet::new();
    // The targets being visited, each with its deps and how many of them were visited.
    let mut path: Vec<(&str, Vec<&str>, usize)> =
        vec![(target, deps(config, registry, target)?, 0)];
    let mut on_path: HashSet<&str> = HashSet::from([target]);
    while let Some((name, deps_of_name, next)) = path.last_mut() {
        let Some(&dep) = deps_of_name.get(*next) else {
            let name = *name;
            path.pop();
            on_path.remove(name);
            done.insert(name);
            if name != SETUP {
                order.push(name);
            }
            continue;
        };
        *next += 1;
        if done.contains(dep) {
            continue;
        }
        if !on_path.insert(dep) {
            // project.toml's validation refuses cycles; this guards the walk anyway.
            let names: Vec<&str> = path.iter().map(|(on, _, _)| *on).collect();
            bail!(
                "tasks depend on each other in a cycle: {} → {dep}",
                names.join(" → ")
            );
        }
        path.push((dep, deps(config, registry, dep)?, 0));
    }
    Ok(order)
}

/// What `name` needs before it, in order: what a built-in step runs after, `develop`
/// for `setup`, a task's deps.
fn deps<'a>(config: &'a Config, registry: &[BuiltIn], name: &str) -> Result<Vec<&'a str>> {
    Ok(
        if let Some(built_in) = registry.iter().find(|b| b.step.name() == name) {
            built_in.after.to_vec()
        } else if name == SETUP {
            vec!["develop"]
        } else if let Some(task) = config.tasks.get(name) {
            task::deps(task).collect()
        } else {
            bail!("no step or task `{name}`");
        },
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(tasks: &str) -> Config {
        let source = format!("[project]\nname = \"app\"\n\n{tasks}");
        Config::parse(Path::new("project.toml"), &source).unwrap()
    }

    fn names(config: &Config, target: &str) -> Vec<String> {
        plan(config, &[target], &[])
            .unwrap()
            .iter()
            .map(|s| s.name().to_string())
            .collect()
    }

    #[test]
    fn several_targets_share_their_steps_and_plan_each_once() {
        let config = config("[tasks.lint]\nrun = \"flake8\"\n");
        let planned: Vec<String> = plan(&config, &["bundle", "image", "lint"], &[])
            .unwrap()
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        assert_eq!(
            planned,
            [
                "check", "venv", "tools", "develop", "bundle", "image", "lint"
            ]
        );
    }

    #[test]
    fn the_configuration_knows_the_built_in_steps_in_order() {
        let names: Vec<String> = (built_ins().iter())
            .map(|b| b.step.name().to_string())
            .collect();
        assert_eq!(names, STEPS);
    }

    #[test]
    fn a_built_in_step_runs_after_steps_registered_before_it() {
        let built_ins = built_ins();
        for (at, built_in) in built_ins.iter().enumerate() {
            for after in built_in.after {
                let before = built_ins[..at].iter().any(|b| b.step.name() == *after);
                assert!(
                    before,
                    "{} runs after {after}, registered after it (or not at all)",
                    built_in.step.name()
                );
            }
        }
    }

    #[test]
    fn a_built_in_step_builds_only_on_steps_it_runs_after() {
        let config = config("");
        for built_in in built_ins() {
            let name = built_in.step.name();
            let planned = names(&config, name);
            for dep in built_in.step.deps() {
                let at = planned.iter().position(|p| *p == dep);
                let me = planned.iter().position(|p| p == name);
                assert!(
                    at.is_some() && at < me,
                    "{name} builds on {dep}, which its plan does not run before it"
                );
            }
        }
    }

    #[test]
    fn what_takes_the_bundle_further_is_planned_only_when_asked_for() {
        let config = config("");
        let pipeline = ["check", "venv", "tools", "develop", "bundle"];
        assert_eq!(names(&config, "bundle"), pipeline);
        assert_eq!(
            names(&config, "image"),
            [&pipeline[..], &["image"]].concat()
        );
        assert_eq!(
            names(&config, "deploy-kubernetes"),
            [&pipeline[..], &["image", "deploy-kubernetes"]].concat()
        );
        assert_eq!(
            names(&config, "deploy-spark"),
            [&pipeline[..], &["deploy-spark"]].concat()
        );
    }

    #[test]
    fn deps_run_first_in_order_and_once() {
        let config = config(
            "[tasks.ci]\ndeps = [\"lint\", \"test\", \"bundle\"]\n\
             [tasks.lint]\nrun = \"flake8\"\n\
             [tasks.test]\nrun = \"pytest\"\ndeps = [\"setup\", \"lint\"]\n",
        );
        assert_eq!(
            names(&config, "ci"),
            [
                "check", "venv", "tools", "lint", "develop", "test", "bundle", "ci"
            ]
        );
        assert_eq!(names(&config, "lint"), ["check", "venv", "tools", "lint"]);
        assert_eq!(
            names(&config, "setup"),
            ["check", "venv", "tools", "develop"]
        );
        assert_eq!(names(&config, "check"), ["check"]);
    }

    #[test]
    fn a_chain_of_deps_deeper_than_the_stack_is_planned() {
        let depth = 50_000;
        let mut tasks = String::new();
        for i in 0..depth - 1 {
            tasks.push_str(&format!("[tasks.t{i}]\ndeps = [\"t{}\"]\n", i + 1));
        }
        tasks.push_str(&format!("[tasks.t{}]\nrun = \"true\"\n", depth - 1));
        let config = config(&tasks);
        let names = names(&config, "t0");
        assert_eq!(names.len(), depth + 3);
        assert_eq!(names[..4], ["check", "venv", "tools", "t49999"]);
        assert_eq!(names.last().map(String::as_str), Some("t0"));
    }
}
