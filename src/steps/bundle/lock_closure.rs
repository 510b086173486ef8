//! An app of a uv workspace ships its closure in `uv.lock` and nothing else: every
//! distribution read back from its bundle is the app, a member it depends on, or a
//! third-party package the lock puts in that app's closure, at a version the lock holds
//! for it there. The venv holds every member's dependencies, so a bundle built from it
//! could carry another app's (a requirement slipped in through `pex-args`, a member that
//! is not a dependency): that fails the build, naming each, and the previous bundle stays.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::base::distribution_name::normalize;
use crate::base::error::UserError;
use crate::base::project::App;
use crate::base::workspace::Workspace;
use crate::python::env::Env;
use crate::python::uv_lock::UvLock;

/// Checks what `output` ships (name → version) against the app's closure in `lock`.
pub(crate) fn check(
    lock: &UvLock,
    app: &App,
    shipped: &BTreeMap<String, String>,
    output: &str,
) -> Result<()> {
    let closure = lock.closure(&app.name);
    let members = lock.members();
    let strays: Vec<String> = shipped
        .iter()
        .filter(|(name, _)| !app.has_member(name))
        .filter_map(|(name, version)| {
            let name = normalize(name);
            if members.contains(&name) {
                return Some(format!(
                    "{name}: a member of the workspace that {} does not depend on",
                    app.name
                ));
            }
            match closure.get(&name) {
                None => Some(format!(
                    "{name} {version}: not in {}'s closure in uv.lock",
                    app.name
                )),
                Some(versions) if !versions.is_empty() && !versions.contains(version) => {
                    let locked: Vec<&str> = versions.iter().map(String::as_str).collect();
                    Some(format!(
                        "{name} {version}: uv.lock has {} for {}",
                        locked.join(", "),
                        app.name
                    ))
                }
                Some(_) => None,
            }
        })
        .collect();
    if strays.is_empty() {
        return Ok(());
    }
    Err(UserError::failure(format!(
        "{output} would ship what uv.lock does not give {}:\n  {}",
        app.name,
        strays.join("\n  ")
    ))
    .hint("the previous bundle was left in place; what an app ships comes from its dependencies in pyproject.toml as uv.lock resolves them: run `uv lock` after changing them (`--offline` syncs the venv to the lock as it is), and keep requirements out of `pex-args`")
    .into())
}

/// The workspace members the venv holds that `app` does not depend on, and that register
/// entry points (plugins): the tests that run in the venv see them, the app's bundle does
/// not. Each as `NAME ([group], ...)`.
pub(crate) fn plugins_left_out(env: &Env, workspace: &Workspace, app: &App) -> Vec<String> {
    workspace
        .members
        .iter()
        .filter(|member| !app.has_member(&member.name))
        .filter_map(|member| {
            let groups = env.find(&member.name)?.plugin_groups();
            (!groups.is_empty()).then(|| format!("{} ([{}])", member.name, groups.join("], [")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = include_str!("../../../tests/fixtures/workspace/uv.lock");

    fn api() -> App {
        App {
            name: "ws-api".into(),
            dir: "apps/api".into(),
            libs: vec![("ws-core".into(), "libs/core".into())],
        }
    }

    fn shipped(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_closure_passes_and_what_is_outside_it_is_named() {
        let lock = UvLock::parse(LOCK).unwrap();
        let good = shipped(&[
            ("idna", "3.21"),
            ("six", "1.17.0"),
            ("ws-api", "1.0.0"),
            ("ws-core", "0.3.0"),
        ]);
        check(&lock, &api(), &good, "dist/api.pex").unwrap();

        let mut bad = good.clone();
        bad.insert("click".into(), "8.5.1".into());
        bad.insert("ws-worker".into(), "1.0.0".into());
        bad.insert("idna".into(), "3.4".into());
        let err = check(&lock, &api(), &bad, "dist/api.pex").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("click 8.5.1: not in ws-api's closure"),
            "{text}"
        );
        assert!(
            text.contains("ws-worker: a member of the workspace"),
            "{text}"
        );
        assert!(text.contains("idna 3.4: uv.lock has 3.21"), "{text}");
    }
}
