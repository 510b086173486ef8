//! The `project.toml` that `init` writes: `templates/project.toml` filled with what
//! [`detect`](super::detect) found. Detected values are set, every other key is shown
//! commented out with its default, and the text always parses with
//! [`crate::base::config::Config::parse`].

use super::detected::Detected;

const TEMPLATE: &str = include_str!("../../../templates/project.toml");

/// The `project.toml` text for `detected`; `fallback_name` (the directory's name, say) is
/// the project name when none was detected and must not be empty. `check` is the body of
/// `[check]` (after its first comment), when `init` has entries to write.
pub(crate) fn render(detected: &Detected, fallback_name: &str, check: Option<&str>) -> String {
    let name = detected.name.as_deref().unwrap_or(fallback_name);
    // The default output is named after the console script the bundle runs, which is not
    // always the project's name (httpie's is `http`).
    let script = detected
        .console_scripts
        .first()
        .map_or(name, |(script, _)| script.as_str());
    fill(
        TEMPLATE,
        &[
            ("name", toml_string(name)),
            (
                "check",
                check.unwrap_or(DEFAULT_CHECK).trim_end().to_string(),
            ),
            ("python", python_line(detected.python.as_deref())),
            (
                "requirements",
                requirements_line(
                    &detected.requirements,
                    &detected.other_requirements,
                    detected.env_lock,
                ),
            ),
            ("tools", tools_line(&detected.dev_requirements)),
            (
                "console-script",
                console_script_line(&detected.console_scripts, name),
            ),
            ("output", toml_string(&format!("dist/{script}.pex"))),
        ],
    )
}

/// `[check]`'s keys, commented out with their defaults.
const DEFAULT_CHECK: &str = "\
# Commands that must be on PATH.
# commands = []        # e.g. [\"cc\"]
# C headers the compiler must find.
# headers = []         # e.g. [\"Python.h\", \"ldap.h\"]
# pkg-config packages that must be installed.
# pkg-config = []      # e.g. [\"libpq\"]
";

fn python_line(python: Option<&str>) -> String {
    match python {
        Some(version) => format!("python = {}", toml_string(version)),
        None => "# python = \"3.11\"".into(),
    }
}

fn requirements_line(requirements: &[String], other: &[String], env_lock: Option<&str>) -> String {
    let mut line = if requirements.is_empty() {
        "# requirements = []".into()
    } else {
        let files: Vec<String> = requirements.iter().map(|f| toml_string(f)).collect();
        let line = format!("requirements = [{}]", files.join(", "));
        match env_lock {
            // The lock wins: listing the files would only earn a warning on every install.
            Some(lock) => format!("# {line}   # not installed: {lock} is the venv's source"),
            None => line,
        }
    };
    if !other.is_empty() {
        let files: Vec<String> = other.iter().map(|f| toml_string(f)).collect();
        line.push_str(&format!(
            "\n# Not sorted by `pybuild init` (add each to requirements to ship it, or to tools as\n\
             # \"-r FILE\" for development): {}",
            files.join(", ")
        ));
    }
    line
}

/// The development requirement files as tools (`-r FILE`): in the venv, not the bundle.
fn tools_line(dev_requirements: &[String]) -> String {
    if dev_requirements.is_empty() {
        return "# tools = []".into();
    }
    let tools: Vec<String> = dev_requirements
        .iter()
        .map(|file| toml_string(&format!("-r {file}")))
        .collect();
    format!("tools = [{}]", tools.join(", "))
}

fn console_script_line(scripts: &[(String, String)], name: &str) -> String {
    let Some(((first, _), others)) = scripts.split_first() else {
        return format!("# console-script = {}", toml_string(name));
    };
    let mut line = format!("console-script = {}", toml_string(first));
    if !others.is_empty() {
        let others: Vec<String> = others.iter().map(|(other, _)| toml_string(other)).collect();
        line.push_str(&format!("  # also declared: {}", others.join(", ")));
    }
    line
}

/// Replaces each `@key@` of `template` with its value in one pass, so a value that happens
/// to contain `@key@` is left as it is.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let placeholder = values
            .iter()
            .find(|(key, _)| after.strip_prefix(key).is_some_and(|r| r.starts_with('@')));
        match placeholder {
            Some((key, value)) => {
                out.push_str(value);
                rest = &after[key.len() + 1..];
            }
            None => {
                out.push('@');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A TOML basic string. Always one line, so it is safe inside a comment too.
pub(super) fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::base::config::{Config, DevelopMode, Installer};
    use crate::python::detect::detect;
    use crate::python::detect::detected::Layout;
    use crate::python::detect::tests::{project, scripts};

    fn parse(text: &str) -> Config {
        Config::parse(Path::new("project.toml"), text).unwrap_or_else(|err| panic!("{err}\n{text}"))
    }

    #[test]
    fn render_sets_detected_values_and_parses() {
        let detected = Detected {
            name: Some("greeter".into()),
            console_scripts: scripts(&[
                ("greet", "greeter.cli:main"),
                ("greet-admin", "greeter.admin:main"),
            ]),
            requirements: vec!["requirements.txt".into()],
            dev_requirements: vec!["requirements-dev.txt".into()],
            other_requirements: vec!["requirements-py38.txt".into()],
            env_lock: None,
            compiled: None,
            layout: Layout::Src,
            python: Some("3.11".into()),
            sources: vec!["pyproject.toml"],
            dependencies: Vec::new(),
        };
        let text = render(&detected, "fallback", None);
        let config = parse(&text);
        assert_eq!(config.project.name, "greeter");
        assert_eq!(config.project.python.as_deref(), Some("3.11"));
        assert_eq!(config.bundle.console_script.as_deref(), Some("greet"));
        assert_eq!(config.env.requirements, ["requirements.txt"]);
        assert_eq!(config.env.tools, ["-r requirements-dev.txt"]);
        assert!(
            text.contains("for development): \"requirements-py38.txt\"\n"),
            "{text}"
        );
        assert!(text.contains("# also declared: \"greet-admin\""), "{text}");
        assert!(text.contains("\n# output = \"dist/greet.pex\"\n"), "{text}");
        assert!(
            !text.contains("@name@") && !text.contains("@output@"),
            "{text}"
        );
    }

    #[test]
    fn render_without_detection_uses_fallback_and_comments_console_script() {
        let detected = detect(project(&[]).path()).unwrap();
        let text = render(&detected, "my-app", None);
        let config = parse(&text);
        assert_eq!(config.project.name, "my-app");
        assert_eq!(config.project.python, None);
        assert_eq!(config.bundle.console_script, None);
        assert!(config.env.requirements.is_empty());
        assert!(text.contains("\n# console-script = \"my-app\"\n"), "{text}");
        assert!(
            text.contains("\n# output = \"dist/my-app.pex\"\n"),
            "{text}"
        );
    }

    #[test]
    fn with_a_lock_the_requirement_files_are_left_commented() {
        let line = requirements_line(&["requirements.txt".into()], &[], Some("uv.lock"));
        assert!(
            line.starts_with("# requirements = [\"requirements.txt\"]"),
            "{line}"
        );
        assert!(line.contains("uv.lock is the venv's source"), "{line}");
        assert_eq!(
            requirements_line(&["requirements.txt".into()], &[], None),
            "requirements = [\"requirements.txt\"]"
        );
    }

    #[test]
    fn render_escapes_names() {
        let name = "we\"ird\\na\nme\u{7}@python@";
        let detected = Detected {
            name: Some(name.into()),
            console_scripts: scripts(&[("a\"b", "x:y"), ("c\nd", "x:z")]),
            requirements: Vec::new(),
            dev_requirements: Vec::new(),
            other_requirements: Vec::new(),
            env_lock: None,
            compiled: None,
            layout: Layout::Flat,
            python: None,
            sources: Vec::new(),
            dependencies: Vec::new(),
        };
        let config = parse(&render(&detected, "fallback", None));
        assert_eq!(config.project.name, name);
        assert_eq!(config.bundle.console_script.as_deref(), Some("a\"b"));
    }

    /// The template's commented-out keys are real keys, and those with a default show it.
    #[test]
    fn commented_keys_show_the_defaults() {
        let text = render(&detect(project(&[]).path()).unwrap(), "app", None);
        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if is_assignment(rest) && !rest.starts_with("entry-point") => rest,
                Some(rest) if rest.starts_with("[tasks.") => rest,
                Some(rest) if rest.starts_with("[image]") || rest.starts_with("[deploy.") => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let config = parse(&uncommented);
        assert_eq!(config.env.path, ".venv");
        assert_eq!(config.env.installer, Installer::Auto);
        assert!(config.env.requirements.is_empty() && config.env.tools.is_empty());
        assert!(config.check.is_empty() && config.check.hints.is_empty());
        assert_eq!(config.develop.mode, DevelopMode::Pip);
        assert_eq!(config.bundle.kind.as_str(), "pex");
        assert_eq!(config.bundle.output.as_deref(), Some("dist/app.pex"));
        assert!(config.bundle.sources.is_empty() && config.bundle.pex_args.is_empty());
        assert_eq!(config.bundle.strategy, crate::base::config::Strategy::Auto);
        let lint = &config.tasks["lint"];
        assert!(lint.outputs.is_empty() && lint.env.is_empty());
        assert_eq!(lint.cwd.as_deref(), Some("."));
        assert_eq!(config.watch.targets, ["bundle"]);
        assert_eq!(config.watch.debounce_ms, 50);
        assert!(!config.watch.restart);
        assert!(config.cache.remote.is_none() && !config.cache.read_only);
        assert!(config.cache.trusted_keys.is_empty() && config.cache.signing_key_file.is_none());
        let keys = uncommented
            .lines()
            .filter(|line| is_assignment(line))
            .count();
        assert_eq!(keys, 32, "{uncommented}");
    }

    fn is_assignment(line: &str) -> bool {
        line.split_once(" = ").is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        })
    }
}
