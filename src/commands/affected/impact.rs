//! Which apps a change reaches, rule by rule, each giving the apps it affects and why (the
//! files, relative to the root): pure functions of what `pybuild affected` read.

use std::collections::{BTreeMap, BTreeSet};

use crate::base::distribution_name::normalize;
use crate::base::workspace::{Member, Workspace};
use crate::python::uv_lock::UvLock;

/// App name → the changed files that affect it.
pub(super) type Why = BTreeMap<String, BTreeSet<String>>;

pub(super) fn add(why: &mut Why, app: &str, file: &str) {
    why.entry(app.to_string())
        .or_default()
        .insert(file.to_string());
}

/// Every app, for `file`.
pub(super) fn every_app(workspace: &Workspace, file: &str) -> Why {
    let mut why = Why::new();
    for app in workspace.apps() {
        add(&mut why, &app.name, file);
    }
    why
}

/// A changed input file inside a member reaches every app whose closure holds that member.
pub(super) fn by_files<'a>(workspace: &Workspace, paths: impl IntoIterator<Item = &'a str>) -> Why {
    let mut why = Why::new();
    for path in paths {
        if let Some(member) = workspace.member_at(path) {
            for app in workspace.dependents(&member.name) {
                add(&mut why, &app.name, path);
            }
        }
    }
    why
}

/// The apps whose third-party closure in the lock differs (`before`: `None` when the lock
/// was not there).
pub(super) fn by_lock(
    workspace: &Workspace,
    before: Option<&UvLock>,
    now: Option<&UvLock>,
    file: &str,
) -> Why {
    let closure = |lock: Option<&UvLock>, app: &Member| {
        lock.map(|lock| lock.closure(&app.name)).unwrap_or_default()
    };
    let mut why = Why::new();
    for app in workspace.apps() {
        if closure(before, app) != closure(now, app) {
            add(&mut why, &app.name, file);
        }
    }
    why
}

/// The apps whose place in the workspace differs: added, moved, their scripts or the
/// members of their closure changed (`before`: `None` when the workspace could not be
/// found then, and every app counts).
pub(super) fn by_workspace(before: Option<&Workspace>, now: &Workspace, file: &str) -> Why {
    let Some(before) = before else {
        return every_app(now, file);
    };
    let shape = |workspace: &Workspace, app: &str| {
        let member = workspace.member(app)?;
        let closure: Vec<(String, String)> = workspace
            .closure(app)
            .iter()
            .map(|member| (member.name.clone(), member.dir.clone()))
            .collect();
        Some((member.scripts.clone(), closure))
    };
    let mut why = Why::new();
    for app in now.apps() {
        if shape(before, &app.name) != shape(now, &app.name) {
            add(&mut why, &app.name, file);
        }
    }
    why
}

/// project.toml: a change outside `[apps]` reaches every app; one in `[apps.NAME]`, that
/// app (`before`: `None` when it was not there or could not be read, and every app counts).
pub(super) fn by_config(
    workspace: &Workspace,
    before: Option<&toml::Table>,
    now: &toml::Table,
    file: &str,
) -> Why {
    let Some(before) = before else {
        return every_app(workspace, file);
    };
    let without_apps = |table: &toml::Table| {
        let mut table = table.clone();
        table.remove("apps");
        table
    };
    if without_apps(before) != without_apps(now) {
        return every_app(workspace, file);
    }
    let section = |table: &toml::Table, app: &str| {
        let apps = table.get("apps")?.as_table()?;
        apps.iter()
            .find(|(key, _)| normalize(key) == app)
            .map(|(_, value)| value.clone())
    };
    let mut why = Why::new();
    for app in workspace.apps() {
        if section(before, &app.name) != section(now, &app.name) {
            add(&mut why, &app.name, file);
        }
    }
    why
}

pub(super) fn merge(into: &mut Why, from: Why) {
    for (app, files) in from {
        into.entry(app).or_default().extend(files);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn fixture() -> Workspace {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workspace");
        Workspace::find(&root).unwrap().unwrap()
    }

    fn apps(why: &Why) -> Vec<&str> {
        why.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_file_reaches_the_apps_whose_closure_holds_its_member() {
        let ws = fixture();
        let why = by_files(
            &ws,
            [
                "libs/core/src/ws_core/__init__.py",
                "apps/api/x.py",
                "README.md",
            ],
        );
        assert_eq!(apps(&why), ["ws-api", "ws-worker"]);
        assert_eq!(why["ws-api"].len(), 2);
        assert_eq!(
            apps(&by_files(&ws, ["apps/worker/src/ws_worker/cli.py"])),
            ["ws-worker"]
        );
        assert!(by_files(&ws, ["docs/index.md"]).is_empty());
    }

    #[test]
    fn a_config_change_reaches_every_app_or_the_one_of_its_section() {
        let ws = fixture();
        let parse = |text: &str| -> toml::Table { toml::from_str(text).unwrap() };
        let before = parse("[project]\nname = \"ws\"\n[apps.ws-api.bundle]\nkind = \"pex\"\n");
        let one = parse("[project]\nname = \"ws\"\n[apps.WS_Api.bundle]\nkind = \"shiv\"\n");
        assert_eq!(
            apps(&by_config(&ws, Some(&before), &one, "project.toml")),
            ["ws-api"]
        );
        let same = parse("[project]\nname = \"ws\"\n[apps.ws_api.bundle]\nkind = \"pex\"\n");
        assert!(by_config(&ws, Some(&before), &same, "project.toml").is_empty());
        let top = parse(
            "[project]\nname = \"ws\"\n[bundle]\nkind = \"pex\"\n[apps.ws-api.bundle]\nkind = \"pex\"\n",
        );
        assert_eq!(
            apps(&by_config(&ws, Some(&before), &top, "project.toml")),
            ["ws-api", "ws-worker"]
        );
        assert_eq!(
            apps(&by_config(&ws, None, &top, "project.toml")),
            ["ws-api", "ws-worker"]
        );
    }

    #[test]
    fn a_workspace_change_reaches_the_apps_whose_place_differs() {
        let ws = fixture();
        assert!(by_workspace(Some(&ws), &ws, "pyproject.toml").is_empty());
        let mut moved = fixture();
        moved
            .members
            .iter_mut()
            .find(|m| m.name == "ws-worker")
            .unwrap()
            .dir = "apps/w".into();
        assert_eq!(
            apps(&by_workspace(Some(&moved), &ws, "pyproject.toml")),
            ["ws-worker"]
        );
        let mut fewer = fixture();
        fewer.members.retain(|m| m.name != "ws-api");
        assert_eq!(
            apps(&by_workspace(Some(&fewer), &ws, "pyproject.toml")),
            ["ws-api"]
        );
        assert_eq!(
            apps(&by_workspace(None, &ws, "pyproject.toml")),
            ["ws-api", "ws-worker"]
        );
    }
}
