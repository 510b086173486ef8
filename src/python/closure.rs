//! What the app asks for, and what that leads to in the venv.
//!
//! The app asks for what a bundler is given: the project (with the extras a requirement
//! file's `-e .[x]` asks for), each requirement line of the `[env] requirements` files and
//! of the files they include with `-r`, and a line naming a folder (`-e ../lib`, `../lib`)
//! as the distribution the venv installed from it. With an environment lock, the project
//! alone: its `Requires-Dist` are what the lock resolved.
//!
//! What that leads to is found two ways, for two uses:
//! - [`reachable`] follows every `Requires-Dist`, whatever its extra or marker, in
//!   process: an estimate that may be too large, never too small, for what must not be
//!   missed on every run (a path dependency that may ship is an input of the bundle).
//! - [`needed`] asks the venv's interpreter, which evaluates markers and extras as pip
//!   does (`packaging`): what every bundle must carry, or it drops a distribution the
//!   tests ran with. The venv's pruning (`prune`) walks the same way ([`WALK`]).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;

use anyhow::{Context as _, Result};

use crate::args;
use crate::base::project::Project;
use crate::engine::statcache::hash_bytes;
use crate::engine::state;
use crate::python::build::Build;
use crate::python::env::Env;
use crate::python::installed;
use crate::python::own_requirement::project_extras;
use crate::python::path_deps::{self, PathDep};
use crate::python::requirement;
use crate::python::sources::{self, Sources};

/// What the app asks for, as requirement strings.
pub(crate) struct Asked {
    pub(crate) requirements: Vec<String>,
    /// False when a requirement file takes requirements from a file outside the project,
    /// which is not read: then the app asks for more than `requirements` says.
    pub(crate) complete: bool,
}

/// What the app of `project` asks for (see the module doc); `folders` are the
/// distributions the venv installed from folders (`path_deps::folder_installs`).
pub(crate) fn asked(project: &Project, sources: &Sources, folders: &[PathDep]) -> Asked {
    let name = &project.config.project.name;
    let mut requirements = vec![name.clone()];
    for file in sources.requiring_files() {
        let text = sources.text(&file);
        requirements.extend(sources::requirement_lines(&text));
        let path = project.root.join(&file);
        let bases = [path.parent().unwrap_or(&project.root), &project.root];
        for line in text.lines() {
            if let Some(extras) = project_extras(line).filter(|extras| !extras.is_empty()) {
                requirements.push(format!("{name}[{}]", extras.join(",")));
            } else if let Some((dep, extras)) = path_deps::named_by(line, &bases, folders) {
                requirements.push(format!("{}{extras}", dep.name));
            }
        }
    }
    Asked {
        requirements,
        complete: !sources.requires_outside(),
    }
}

/// The normalised names of the distributions in `env` that `requirements` lead to,
/// following every `Requires-Dist` whatever its extra or marker.
pub(crate) fn reachable(env: &Env, requirements: &[String]) -> BTreeSet<String> {
    let mut queue: Vec<String> = requirements
        .iter()
        .filter_map(|text| requirement::name(text))
        .collect();
    let mut reached = BTreeSet::new();
    while let Some(name) = queue.pop() {
        let Some(dist) = env.find(&name) else {
            continue;
        };
        if !reached.insert(dist.key.clone()) {
            continue;
        }
        let metadata = dist.metadata().unwrap_or_default();
        queue.extend(installed::requires_dist(metadata).filter_map(requirement::name));
    }
    reached
}

/// The path dependencies of `project` installed in `env` that its bundle may ship, by
/// name: those the app's requirements reach (see [`reachable`]), or all of them when what
/// the app asks for is not all in the project. A development tool installed editable from
/// a folder (`[env] tools = ["-r dev.txt"]` with `-e ../lint`, a uv dev group's path
/// source) is not one: its edits rebuild nothing, and no bundler gets it.
pub(crate) fn shipped_path_deps(env: &Env, project: &Project, sources: &Sources) -> Vec<PathDep> {
    let mut deps = path_deps::of(env, project);
    if deps.is_empty() {
        return deps;
    }
    let asked = asked(project, sources, &deps);
    if !asked.complete {
        return deps;
    }
    let reached = reachable(env, &asked.requirements);
    deps.retain(|dep| reached.contains(&installed::normalize(&dep.name)));
    deps
}

/// A Python function `walk(lines, left_out, strict)`: the set of `(name, extras)` the
/// requirement strings `lines` lead to among the distributions installed where it runs
/// (`installed`, by normalised name), markers and extras evaluated by that interpreter,
/// not going into a name of `left_out`. An invalid requirement string raises when
/// `strict`, else leads nowhere.
pub(crate) const WALK: &str = r#"
import importlib.metadata as md, re, sys
try:
    from packaging.requirements import InvalidRequirement, Requirement
except ImportError:
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

installed = {}
for dist in md.distributions():
    name = dist.metadata["Name"]
    if name:
        installed.setdefault(norm(name), dist)

def applies(req, extras):
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": extra}) for extra in (extras or {""}))

def walk(lines, left_out, strict):
    def parsed(line):
        try:
            return Requirement(line)
        except InvalidRequirement:
            if strict:
                raise
            return None
    wanted = set()
    todo = [(parsed(line), {""}) for line in lines]
    while todo:
        req, extras = todo.pop()
        if req is None or not applies(req, extras):
            continue
        name = norm(req.name)
        dist = installed.get(name)
        if dist is None or name in left_out or (name, frozenset(req.extras)) in wanted:
            continue
        wanted.add((name, frozenset(req.extras)))
        for line in dist.requires or []:
            todo.append((parsed(line), set(req.extras) | {""}))
    return wanted
"#;

/// Prints the normalised names `walk` reaches from its arguments, one a line; an argument
/// `!NAME` is left out.
const NEEDED: &str = r#"
args = sys.argv[1:]
left_out = {norm(arg[1:]) for arg in args if arg.startswith("!")}
for name in sorted({name for name, _ in walk([a for a in args if not a.startswith("!")], left_out, False)}):
    print(name)
"#;

/// The normalised names of the distributions the venv's interpreter says `requirements`
/// lead to, markers and extras evaluated, not going into `left_out` (what the bundler is
/// told to leave out, with what only it needs). `env` is the venv's listing.
///
/// The answer is kept in the project's state under a digest of all it depends on: the
/// venv's `pyvenv.cfg` (its interpreter), each distribution's name, version and
/// `Requires-Dist`, and the question. So a rebuild after an edit, which changes none of
/// them, starts no interpreter.
pub(crate) fn needed(
    cx: &Build,
    env: &Env,
    requirements: &[String],
    left_out: &[String],
) -> Result<BTreeSet<String>> {
    let python = cx.project.venv_python();
    let mut question = String::from("needed-v1\n");
    let pyvenv = cx.project.venv().join("pyvenv.cfg");
    question.push_str(&fs::read_to_string(&pyvenv).unwrap_or_default());
    for dist in env.dists() {
        question.push_str(&format!("\0{} {}\n", dist.key, dist.version));
        for line in installed::requires_dist(dist.metadata().unwrap_or_default()) {
            question.push_str(&format!("{line}\n"));
        }
    }
    question.push_str(&format!("\0{requirements:?}\n{left_out:?}\n"));
    let key = hash_bytes(question.as_bytes());
    let kept = cx.project.state_dir().join("needed");
    if let Some(names) = fs::read_to_string(&kept)
        .ok()
        .and_then(|text| text.strip_prefix(&format!("{key}\n")).map(str::to_string))
    {
        return Ok(names.lines().map(str::to_string).collect());
    }
    // `-I`: the project's root, where it runs, is not on its path (an `*.egg-info` there
    // is no installed distribution).
    let script = format!("{WALK}{NEEDED}");
    let mut argv = args!["-I", "-c", script].to_vec();
    argv.extend(requirements.iter().map(OsString::from));
    argv.extend(
        left_out
            .iter()
            .map(|name| OsString::from(format!("!{name}"))),
    );
    let out = cx
        .runner
        .capture(&python, &argv)
        .with_context(|| format!("cannot ask {} what the app needs", python.display()))?;
    let names: BTreeSet<String> = out
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    let text: String = names.iter().map(|name| format!("{name}\n")).collect();
    state::write_atomically(&kept, format!("{key}\n{text}").as_bytes())?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn dist(site: &std::path::Path, name: &str, requires: &[&str]) {
        let info = site.join(format!("{name}-1.0.dist-info"));
        fs::create_dir_all(&info).unwrap();
        let mut metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
        for line in requires {
            metadata.push_str(&format!("Requires-Dist: {line}\n"));
        }
        fs::write(info.join("METADATA"), metadata).unwrap();
        fs::write(info.join("RECORD"), "").unwrap();
    }

    #[test]
    fn every_requires_dist_is_followed_whatever_its_marker_or_extra() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path();
        dist(site, "app", &["Lib_A>=1", "win; sys_platform == 'win32'"]);
        dist(site, "lib-a", &["deep; extra == 'x'", "app"]);
        dist(site, "win", &[]);
        dist(site, "deep", &[]);
        dist(site, "tool", &["deep"]);
        dist(site, "alone", &[]);
        let env = Env::read(site);
        let names = |requirements: &[&str]| {
            let requirements: Vec<String> = requirements.iter().map(|r| r.to_string()).collect();
            reachable(&env, &requirements)
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&["app"]), ["app", "deep", "lib-a", "win"]);
        assert_eq!(names(&["tool", "absent", "-e ../x"]), ["deep", "tool"]);
        assert_eq!(names(&[]), Vec::<String>::new());
    }
}
