//! Makes the venv hold what the project asks for and nothing else (sync, not install):
//! after the installs, every distribution that nothing asks for is uninstalled.
//!
//! What is asked for: the project itself and its `Requires-Dist`, the requirement lines
//! of the `[env] requirements` files, the tools and the bundler, and the installers'
//! own `pip`, `setuptools` and `wheel`, each with the closure of what it requires.
//! Markers and extras are evaluated by the venv's own interpreter, with the `packaging`
//! that pip carries: only Python can say what `python_version < "3.11"` means for it. So
//! a dependency removed from `requirements.txt` or `pyproject.toml` leaves the venv, and
//! a test can never pass on a package the bundle will not carry.

use std::ffi::OsString;

use anyhow::Result;

use crate::args;
use crate::python::build::Build;
use crate::python::closure::WALK;
use crate::python::own_requirement::project_extras;
use crate::python::sources;

/// Prints the normalised names of the distributions nothing asks for, one a line, after
/// [`WALK`]. Its arguments are the requirements asked for; one that is no requirement
/// string fails it (then nothing is removed).
const UNWANTED: &str = r#"
kept = {name for name, _ in walk(sys.argv[1:], set(), True)}
for name in sorted(installed):
    if name not in kept:
        print(name)
"#;

/// Uninstalls what nothing asks for; `wanted` are requirement strings (see module doc).
pub(crate) fn prune(cx: &Build, wanted: &[String]) -> Result<()> {
    let python = cx.project.venv_python();
    let mut argv = args!["-c", format!("{WALK}{UNWANTED}")].to_vec();
    argv.extend(wanted.iter().map(OsString::from));
    let unwanted = match cx.runner.capture(&python, &argv) {
        Ok(unwanted) => unwanted,
        Err(err) => {
            // Hygiene, not the build: say so and go on.
            cx.printer.warn(&format!(
                "cannot tell which installed distributions the project still asks for, so none is removed: {err:#}"
            ));
            return Ok(());
        }
    };
    let unwanted: Vec<&str> = unwanted.lines().filter(|l| !l.is_empty()).collect();
    if unwanted.is_empty() {
        return Ok(());
    }
    cx.printer.warn(&format!(
        "removing from the venv what nothing asks for any more: {}",
        unwanted.join(", ")
    ));
    let mut argv = args!["-m", "pip", "uninstall", "-y", "-q"].to_vec();
    argv.extend(unwanted.iter().map(OsString::from));
    let ran = cx.runner.run(python, &argv);
    cx.venv_changed();
    ran
}

/// What the project asks for: its own name, the requirement lines of `files` (their text),
/// the tools, and the installers' own distributions.
pub(crate) fn wanted(project: &str, requirement_texts: &[String], tools: &[String]) -> Vec<String> {
    let mut wanted = vec![
        project.to_string(),
        "pip".into(),
        "setuptools".into(),
        "wheel".into(),
    ];
    for text in requirement_texts {
        wanted.extend(sources::requirement_lines(text));
        // `-e .[test]` (or `.[test]`): the project with extras.
        for extras in text.lines().filter_map(project_extras) {
            if !extras.is_empty() {
                wanted.push(format!("{project}[{}]", extras.join(",")));
            }
        }
    }
    wanted.extend(tools.iter().cloned());
    wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_its_extras_the_files_and_the_tools_are_wanted() {
        let texts = ["six==1.16.0\n-e .[test]\n-c c.txt\n".to_string()];
        assert_eq!(
            wanted("app", &texts, &["pex".into()]),
            [
                "app",
                "pip",
                "setuptools",
                "wheel",
                "six==1.16.0",
                "app[test]",
                "pex"
            ]
        );
    }
}
