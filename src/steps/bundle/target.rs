//! The bundle's target: the backend that builds it (`[bundle] kind`), what it starts (the
//! [`Entry`] and the `module:function` it runs) and the file it is written to. Resolved
//! once per invocation by [`target`] and read from there by everything that needs it: the
//! bundle step's fingerprint, its job and its cache key, the image and deploy steps (which
//! take the bundle file) and `status` (which names it). Each of them used to read the
//! editable install's `entry_points.txt` again.
//!
//! The entry is configured (`[bundle] console-script`, `entry-point`) or the one console
//! script the editable install declares (or the one named like the project); its function
//! comes from the same `entry_points.txt`. The output is `[bundle] output`, else
//! `dist/<script>.<ext>` (`dist/<project>.<ext>` for an entry point), the extension the
//! backend's.
//!
//! Kept in the session as a derived value (`Session::derived`): it is derived from
//! project.toml and the venv, so a step that can change the venv forgets it before it runs
//! (`Step::keeps_derived`), and the next reader resolves it again.

use std::rc::Rc;

use anyhow::Result;

use crate::base::error::UserError;
use crate::python::build::Build;
use crate::python::installed::Dist;
use crate::steps::bundle::backend::{Entry, Target};
use crate::steps::bundle::kinds::backend;

/// The bundle's target, resolved when first asked for since the venv last changed.
pub(crate) fn target(cx: &mut Build) -> Result<Rc<Target>> {
    if let Some(target) = cx.derived::<Target>() {
        return Ok(target);
    }
    let target = Rc::new(resolve(cx)?);
    cx.keep_derived(target.clone());
    Ok(target)
}

/// The target, reading what the configuration leaves to the editable install (its
/// console scripts) once.
fn resolve(cx: &mut Build) -> Result<Target> {
    let config = &cx.project.config;
    let backend = backend(config)?;
    let name = config.project.name.clone();
    let bundle = &config.bundle;
    let (entry, function) = match (&bundle.console_script, &bundle.entry_point) {
        (None, Some(entry)) => (Entry::EntryPoint(entry.clone()), Ok(entry.clone())),
        (configured, _) => {
            let configured = configured.clone();
            // A configured script is the entry whatever the venv holds: without an
            // interpreter only its function is unknown.
            let env = match configured {
                Some(_) => cx.env().ok(),
                None => Some(cx.env()?),
            };
            let dist = env.as_deref().and_then(|env| env.find(&name));
            let scripts = dist.map(Dist::console_scripts).unwrap_or_default();
            let script = match configured {
                Some(script) => script,
                None => chosen(&name, scripts).ok_or_else(|| {
                    // In a workspace, the app's own table says it.
                    let section = match &cx.project.app {
                        Some(app) => format!("[apps.{}.bundle]", app.name),
                        None => "[bundle]".to_string(),
                    };
                    no_entry(&name, scripts, dist, &section)
                })?,
            };
            let function = function_of(scripts, &script, &name);
            (Entry::ConsoleScript(script), function)
        }
    };
    let config = &cx.project.config;
    let output = match &config.bundle.output {
        Some(output) => output.clone(),
        None => Target::default_output(config, &entry, backend.extension()),
    };
    Ok(Target {
        backend,
        entry,
        function,
        output,
    })
}

/// The console script a bundle runs when project.toml names none: the only one the
/// project declares, or the one named like it.
fn chosen(name: &str, scripts: &[(String, String)]) -> Option<String> {
    match scripts {
        [(only, _)] => Some(only.clone()),
        _ => scripts
            .iter()
            .find(|(script, _)| script == name)
            .map(|(script, _)| script.clone()),
    }
}

/// The function `script` runs, among the console scripts `dist` declares.
fn function_of(
    scripts: &[(String, String)],
    script: &str,
    dist: &str,
) -> Result<String, UserError> {
    let (_, target) = scripts.iter().find(|(s, _)| s == script).ok_or_else(|| {
        UserError::usage(format!(
            "the editable install of {dist} declares no console script `{script}`"
        ))
        .hint("set `[bundle] console-script` to one it declares, or `[bundle] entry-point`")
    })?;
    // An entry point may name extras after the function: `module:func [extra]`.
    let target = target.split('[').next().unwrap_or(target).trim();
    Ok(target.to_string())
}

/// The configuration problem of a bundle that cannot tell what to run: the project
/// declares no console script, or several and none named like it.
/// `section` is the table the setting goes in.
fn no_entry(
    name: &str,
    scripts: &[(String, String)],
    dist: Option<&Dist>,
    section: &str,
) -> UserError {
    if !scripts.is_empty() {
        let names: Vec<String> = scripts.iter().map(|(s, _)| format!("`{s}`")).collect();
        return UserError::usage(format!(
            "project.toml does not say which console script the bundle runs: {name} declares \
             several ({}), none named `{name}`",
            names.join(", ")
        ))
        .hint(format!(
            "set `console-script = \"{}\"` (or another of them) in `{section}`",
            scripts[0].0
        ));
    }
    let mut err = UserError::usage(format!(
        "project.toml does not say what the bundle runs, and {name} declares no console script"
    ))
    .hint(format!(
        "set `entry-point = \"package.module:function\"` in `{section}`: the function the bundle starts"
    ));
    let plain = dist.map(Dist::bin_scripts).unwrap_or_default();
    if !plain.is_empty() {
        err = err.hint(format!(
            "{} declares only plain scripts ({}: `scripts=` in setup.py or setup.cfg, \
             `script-files` in pyproject.toml), which a bundle cannot start: \
             name the function they call as `entry-point`",
            name,
            plain.join(", ")
        ));
    }
    err
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::base::config::Config;
    use crate::steps::bundle::kinds::backend;

    fn scripts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(s, f)| (s.to_string(), f.to_string()))
            .collect()
    }

    fn config(bundle: &str) -> Config {
        let text = format!("[project]\nname = \"greeter\"\n\n[bundle]\n{bundle}");
        Config::parse(Path::new("project.toml"), &text).unwrap()
    }

    #[test]
    fn the_only_script_or_the_one_named_like_the_project_is_chosen() {
        let one = scripts(&[("greet", "greeter.cli:main")]);
        assert_eq!(chosen("greeter", &one).as_deref(), Some("greet"));
        let several = scripts(&[("greet", "a:b"), ("greeter", "c:d")]);
        assert_eq!(chosen("greeter", &several).as_deref(), Some("greeter"));
        let other = scripts(&[("greet", "a:b"), ("hello", "c:d")]);
        assert_eq!(chosen("greeter", &other), None);
        assert_eq!(chosen("greeter", &[]), None);
    }

    #[test]
    fn a_console_script_runs_its_function_without_extras() {
        let declared = scripts(&[("greet", "greeter.cli:main [color]"), ("x", "x.y:z")]);
        assert_eq!(
            function_of(&declared, "greet", "greeter").unwrap(),
            "greeter.cli:main"
        );
        assert_eq!(function_of(&declared, "x", "greeter").unwrap(), "x.y:z");
        let err = function_of(&declared, "other", "greeter").unwrap_err();
        assert!(err.usage);
        assert_eq!(
            err.message,
            "the editable install of greeter declares no console script `other`"
        );
    }

    #[test]
    fn the_default_output_is_named_after_the_script_with_the_kind_s_extension() {
        let script = Entry::ConsoleScript("greet".into());
        let entry = Entry::EntryPoint("greeter.cli:main".into());
        let pex = config("");
        assert_eq!(
            Target::default_output(&pex, &script, backend(&pex).unwrap().extension()),
            "dist/greet.pex"
        );
        assert_eq!(
            Target::default_output(&pex, &entry, backend(&pex).unwrap().extension()),
            "dist/greeter.pex"
        );
        let shiv = config("kind = \"shiv\"\n");
        assert_eq!(
            Target::default_output(&shiv, &script, backend(&shiv).unwrap().extension()),
            "dist/greet.pyz"
        );
        let pyinstaller = config("kind = \"pyinstaller\"\n");
        assert_eq!(
            Target::default_output(
                &pyinstaller,
                &script,
                backend(&pyinstaller).unwrap().extension()
            ),
            "dist/greet"
        );
    }
}
