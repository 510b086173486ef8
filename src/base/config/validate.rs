//! The checks of a parsed [`Config`]'s sections that serde's types cannot express, each
//! failing at the offending key or value (`[tasks]`: `task_check`).

use std::path::{Component, Path};

use super::error::ConfigError;
use super::schema::{BundleSection, Config};
use super::source::At;

/// Checks that serde's types cannot express, pointing at the offending value.
pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let fail = |at: At, message: String| config.error_at(at, message);
    if let Some((index, why)) = super::cache::bad_trusted_key(&config.cache) {
        return Err(fail(
            At::Item(&["cache", "trusted-keys"], index),
            format!("bad key in `cache.trusted-keys`: {why}"),
        )
        .hint("`pybuild cache keygen NAME --out FILE` prints a key as `NAME:BASE64`"));
    }
    if config.project.name.trim().is_empty() {
        return Err(fail(
            At::Value(&["project", "name"]),
            "`project.name` must not be empty".into(),
        ));
    }
    if config.bundle.console_script.is_some() && config.bundle.entry_point.is_some() {
        return Err(fail(
            At::Key(&["bundle", "entry-point"]),
            "`bundle.console-script` and `bundle.entry-point` are exclusive: set one".into(),
        ));
    }
    if let Some(entry) = &config.bundle.entry_point
        && !is_entry_point(entry)
    {
        return Err(fail(
            At::Value(&["bundle", "entry-point"]),
            format!("`bundle.entry-point` must look like `package.module:function`, not `{entry}`"),
        ));
    }
    if let Some(output) = &config.bundle.output
        && !crate::base::paths::is_plain_file_path(output)
    {
        return Err(fail(
            At::Value(&["bundle", "output"]),
            format!(
                "`bundle.output` must be a relative path to a file inside the project, \
                     without `.`, `..` or a trailing `/`, not `{output}`"
            ),
        )
        .hint("write it like `dist/app.pex`"));
    }
    // A key another kind reads would be ignored silently: say so instead.
    for (key, kind, set) in config.bundle.kind_keys() {
        if set && kind != config.bundle.kind.as_str() {
            return Err(fail(
                    At::Key(&["bundle", key]),
                    format!(
                        "`bundle.{key}` is read only by `kind = \"{kind}\"`, but `bundle.kind` is `\"{}\"`",
                        config.bundle.kind
                    ),
                )
                .hint(format!(
                    "remove `{key}`, or set `kind = \"{kind}\"` in `[bundle]`"
                )));
        }
    }
    for (key, patterns) in [
        ("sources", &config.bundle.sources),
        ("external-links", &config.bundle.external_links),
    ] {
        for (index, pattern) in patterns.iter().enumerate() {
            let glob = match key {
                "sources" => pattern.strip_prefix('!').unwrap_or(pattern),
                _ => pattern,
            };
            if let Err(err) = globset::Glob::new(glob) {
                return Err(fail(
                    At::Item(&["bundle", key], index),
                    format!("bad glob in `bundle.{key}`: {err}"),
                ));
            }
        }
    }
    for (index, requirement) in config.env.requirements.iter().enumerate() {
        if !is_inside(Path::new(requirement)) {
            return Err(fail(
                At::Item(&["env", "requirements"], index),
                format!(
                    "`env.requirements` entries must be files inside the project, not `{requirement}`"
                ),
            ));
        }
    }
    Ok(())
}

impl BundleSection {
    /// The keys that only one kind reads, each with that kind's name and whether it is set.
    fn kind_keys(&self) -> [(&'static str, &'static str, bool); 5] {
        [
            ("pex-args", "pex", !self.pex_args.is_empty()),
            ("shiv-args", "shiv", !self.shiv_args.is_empty()),
            (
                "pyinstaller-args",
                "pyinstaller",
                !self.pyinstaller_args.is_empty(),
            ),
            (
                "hidden-imports",
                "pyinstaller",
                !self.hidden_imports.is_empty(),
            ),
            ("zipapp-args", "zipapp", !self.zipapp_args.is_empty()),
        ]
    }
}

/// An `entry_points` style reference: `module.path:attr.path`.
fn is_entry_point(entry: &str) -> bool {
    let ident = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                let mut chars = part.chars();
                chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                    && chars.all(|c| c.is_alphanumeric() || c == '_')
            })
    };
    matches!(entry.split_once(':'), Some((module, attr)) if ident(module) && ident(attr))
}

/// A relative path that stays inside the directory it is relative to.
pub(crate) fn is_inside(path: &Path) -> bool {
    let mut depth = 0i32;
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    depth > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::base::config::load::parse_text as parse;

    #[test]
    fn output_outside_project_is_refused() {
        let err = parse("[project]\nname = \"a\"\n[bundle]\noutput = \"../x.pex\"\n").unwrap_err();
        assert_eq!(err.location.unwrap().0, 4);
        assert!(err.message.contains("inside the project"));
    }

    #[test]
    fn another_kinds_key_is_refused_at_its_line() {
        let err =
            parse("[project]\nname = \"a\"\n[bundle]\nkind = \"shiv\"\npex-args = [\"--venv\"]\n")
                .unwrap_err();
        assert_eq!(err.location.clone().unwrap().0, 5);
        assert!(err.message.contains("`kind = \"pex\"`"), "{}", err.message);
        let err = parse("[project]\nname = \"a\"\n[bundle]\nshiv-arg = []\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `shiv-args`?"));
    }

    #[test]
    fn external_links_are_globs() {
        let config =
            parse("[project]\nname = \"a\"\n[bundle]\nexternal-links = [\"vendor/**\"]\n").unwrap();
        assert_eq!(config.bundle.external_links, ["vendor/**"]);
        let err =
            parse("[project]\nname = \"a\"\n[bundle]\nexternal-links = [\"a/[\"]\n").unwrap_err();
        assert_eq!(err.location.unwrap().0, 4);
    }

    #[test]
    fn entry_point_shape_is_checked() {
        assert!(is_entry_point("app.cli:main"));
        assert!(!is_entry_point("app.cli"));
        assert!(!is_entry_point("app-cli:main"));
    }

    #[test]
    fn is_inside_rejects_escapes() {
        assert!(is_inside(Path::new("dist/app.pex")));
        assert!(is_inside(Path::new("a/../b")));
        assert!(!is_inside(Path::new("a/../../b")));
        assert!(!is_inside(Path::new("/tmp/x")));
        assert!(!is_inside(Path::new(".")));
    }
}
