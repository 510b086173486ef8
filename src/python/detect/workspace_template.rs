//! The `project.toml` that `init` writes at the root of a uv workspace: the one template
//! (`template`), named after the root's folder, with no console script of its own, then
//! what makes it a workspace's: a comment naming its apps and libraries (the members come
//! from `pyproject.toml`, never from this file), a `[bundle]` that speaks of apps (PEX
//! only, each with its own console script), and a commented-out `[apps.NAME]` example for
//! each app.

use super::detected::Detected;
use super::template::{render, toml_string};
use crate::base::workspace::Workspace;

/// The text for the workspace at whose root `detected` was read (see
/// `detect::detect_workspace`), named `name`; `check` as for `render`.
pub(crate) fn render_workspace(
    detected: &Detected,
    name: &str,
    check: Option<&str>,
    workspace: &Workspace,
) -> String {
    let mut single = render(detected, name, check);
    // The single project's lines about the bundle, as they hold for a workspace's apps: a
    // line not found leaves the text as it was (the test sees that).
    let script = format!("# console-script = {}\n", toml_string(name));
    let output = format!("# output = {}", toml_string(&format!("dist/{name}.pex")));
    for (single_project, apps) in [
        (
            "# Bundler: \"pex\", \"shiv\" (.pyz, extracted to ~/.shiv), \"pyinstaller\" (native one-file\n\
             # executable, no Python needed to run it) or \"zipapp\" (.pyz, pure-Python dependencies only).\n",
            "# Bundler: \"pex\", the one kind a workspace's apps are built as.\n",
        ),
        (
            "# Console script the bundle runs. Default: read from the editable install's metadata.\n",
            "# Console script each app's bundle runs. Default: its member's only one; for a member\n\
             # that declares several, set it in [apps.NAME.bundle] (below).\n",
        ),
        (script.as_str(), ""),
        (
            "# Or the function the bundle runs, as package.module:function; exclusive with console-script.\n\
             # entry-point = \"package.module:function\"\n",
            "# Or the function an app's bundle runs, as package.module:function, in [apps.NAME.bundle].\n",
        ),
        (
            output.as_str(),
            "# output = \"dist/SCRIPT.pex\"   # each app's default: named after its console script",
        ),
        (
            "# For the other kinds: shiv-args, pyinstaller-args, hidden-imports (pyinstaller), zipapp-args.\n",
            "",
        ),
    ] {
        single = single.replacen(single_project, apps, 1);
    }
    let (head, rest) = single.split_at(single.find("[project]\n").unwrap_or(0));
    format!("{head}{}{rest}{}", about(workspace), apps(workspace))
}

/// What the workspace is and holds, before `[project]`.
fn about(workspace: &Workspace) -> String {
    let listed = |apps: bool| {
        let names: Vec<String> = workspace
            .members
            .iter()
            .filter(|member| member.scripts.is_empty() != apps)
            .map(|member| format!("{} ({})", member.name, member.dir))
            .collect();
        match names.is_empty() {
            true => "none".to_string(),
            false => names.join(", "),
        }
    };
    format!(
        "# A uv workspace: its members come from `[tool.uv.workspace]` in pyproject.toml, not\n\
         # from this file. Each member with a console script is an app, built into its own\n\
         # bundle; the others are libraries, shipped inside the apps that depend on them.\n\
         # `[project] name` names the workspace; every section below holds for every app, and\n\
         # `[apps.NAME]` (at the end) changes one app's.\n\
         # Apps: {}\n\
         # Libraries: {}\n\n",
        listed(true),
        listed(false)
    )
}

/// A commented-out `[apps.NAME]` per app.
fn apps(workspace: &Workspace) -> String {
    let mut out = String::from(
        "\n# Per-app settings: [apps.NAME] holds tables named like the sections above (bundle,\n\
         # image, deploy), with the same keys, merged over them for that app alone. NAME is the\n\
         # member's name, as `pybuild bundle -p NAME` takes it.\n",
    );
    for app in workspace.apps() {
        out.push_str(&format!("# [apps.{}.bundle]\n", app.name));
        match app.scripts.split_first() {
            Some((first, others)) if !others.is_empty() => {
                let others: Vec<String> = others.iter().map(|s| toml_string(s)).collect();
                out.push_str(&format!(
                    "# console-script = {}   # also declared: {}\n",
                    toml_string(first),
                    others.join(", ")
                ));
            }
            _ => out.push_str("# strategy = \"auto\"\n"),
        }
        out.push_str(&format!("# [apps.{}.image]\n# port = 8000\n", app.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::base::config::Config;
    use crate::python::detect::detect_workspace;

    #[test]
    fn the_fixture_gets_its_apps_and_libraries_and_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workspace");
        let workspace = Workspace::find(&root).unwrap().unwrap();
        let detected = detect_workspace(&root, &workspace).unwrap();
        assert_eq!(detected.dependencies, ["click", "idna", "six"]);
        assert_eq!(detected.env_lock, Some("uv.lock"));
        let text = render_workspace(&detected, "ws", None, &workspace);
        let config = Config::parse(Path::new("project.toml"), &text)
            .unwrap_or_else(|err| panic!("{err}\n{text}"));
        assert_eq!(config.project.name, "ws");
        assert_eq!(config.bundle.console_script, None);
        assert!(
            text.contains("# Apps: ws-api (apps/api), ws-worker (apps/worker)\n"),
            "{text}"
        );
        assert!(
            text.contains("# Libraries: ws-core (libs/core)\n"),
            "{text}"
        );
        assert!(text.contains("# [apps.ws-api.bundle]\n"), "{text}");
        assert!(text.contains("# [apps.ws-worker.image]\n"), "{text}");
        assert!(!text.contains("dist/ws.pex"), "{text}");
        // Nothing of a single project's bundle that an app cannot have.
        for single in [
            "shiv",
            "zipapp",
            "pyinstaller",
            "console-script = \"ws\"",
            "entry-point =",
        ] {
            assert!(!text.contains(single), "{single}\n{text}");
        }
        assert!(text.contains("# Bundler: \"pex\", the one kind"), "{text}");
        assert!(text.find("# A uv workspace").unwrap() < text.find("[project]\n").unwrap());
    }
}
