//! The check step: the system prerequisites that native dependencies need to build
//! (`[check]`: commands, C headers, pkg-config modules), all reported in one message with
//! how to get each.
//!
//! Headers are looked up in the C compiler's `#include <...>` search path and the
//! interpreter's include directory. The step is not re-run while its configuration, the
//! commands it found and the interpreter are unchanged and the headers and `.pc` files it
//! found are still there (they are its recorded outputs).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::args;
use crate::base::error::UserError;
use crate::engine::fingerprint::Fingerprint;
use crate::engine::step::Step;
use crate::python::build::Build;

use crate::base::prerequisites::hints::{self, Kind};

pub(crate) struct Check;

/// C compilers a header search can use, in order of preference.
const COMPILERS: &[&str] = &["cc", "gcc", "clang"];

impl<'a> Step<Build<'a>> for Check {
    fn name(&self) -> &str {
        "check"
    }

    fn fingerprint(&self, cx: &mut Build) -> Result<Fingerprint> {
        let section = &cx.project.config.check;
        let mut fingerprint = Fingerprint::default();
        fingerprint.part("check", serde_json::to_string(section)?);
        if section.is_empty() {
            return Ok(fingerprint);
        }
        let mut commands = section.commands.clone();
        if !section.headers.is_empty() {
            commands.extend(COMPILERS.iter().map(|c| c.to_string()));
        }
        if !section.pkg_config.is_empty() {
            commands.push("pkg-config".into());
        }
        for command in commands {
            let found =
                which::which(&command).map_or("missing".into(), |p| p.display().to_string());
            fingerprint.part(&format!("command {command}"), found);
        }
        if !section.headers.is_empty() {
            fingerprint.part("interpreter", cx.interpreter()?.describe());
        }
        Ok(fingerprint)
    }

    /// Its outputs are the header and `.pc` files found: one removed makes it stale.
    fn run(&self, cx: &mut Build) -> Result<Vec<String>> {
        let section = cx.project.config.check.clone();
        let (missing, found) = probe(cx)?;
        if !missing.is_empty() {
            return Err(report(&missing, &section.hints).into());
        }
        Ok(found.iter().map(|p| p.display().to_string()).collect())
    }

    fn summary(&self, cx: &Build) -> String {
        if cx.project.config.check.is_empty() {
            " (nothing to check)".into()
        } else {
            String::new()
        }
    }
}

/// One prerequisite of `[check]` that is missing: what, its name, where it was looked for.
pub(crate) type Missing = (Kind, String, String);

/// Looks for everything `[check]` lists: what is missing, and the header and `.pc` files
/// found.
pub(crate) fn probe(cx: &mut Build) -> Result<(Vec<Missing>, Vec<PathBuf>)> {
    let section = cx.project.config.check.clone();
    let mut missing: Vec<Missing> = Vec::new();
    let mut found = Vec::new();

    for command in &section.commands {
        if which::which(command).is_err() {
            missing.push((Kind::Command, command.clone(), "not on PATH".into()));
        }
    }
    if !section.headers.is_empty() {
        let dirs = include_dirs(cx)?;
        let searched = dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        for header in &section.headers {
            match dirs.iter().map(|d| d.join(header)).find(|p| p.is_file()) {
                Some(path) => found.push(path),
                None => {
                    missing.push((Kind::Header, header.clone(), format!("searched {searched}")))
                }
            }
        }
    }
    if !section.pkg_config.is_empty() {
        match which::which("pkg-config") {
            Err(_) => missing.push((
                Kind::Command,
                "pkg-config".into(),
                format!("needed for {}", section.pkg_config.join(", ")),
            )),
            Ok(pkg_config) => {
                for module in &section.pkg_config {
                    match pc_file(cx, &pkg_config, module) {
                        Some(path) => found.push(path),
                        None => missing.push((
                            Kind::PkgConfig,
                            module.clone(),
                            "not found by pkg-config".into(),
                        )),
                    }
                }
            }
        }
    }
    Ok((missing, found))
}

fn report(
    missing: &[Missing],
    configured: &std::collections::BTreeMap<String, String>,
) -> UserError {
    let mut message = format!(
        "{} system prerequisite{} from [check] in project.toml {} missing:",
        missing.len(),
        if missing.len() == 1 { "" } else { "s" },
        if missing.len() == 1 { "is" } else { "are" },
    );
    let mut error = UserError::failure(String::new());
    for (kind, name, detail) in missing {
        message.push_str(&format!("\n  {} {name} ({detail})", kind.noun()));
        let hint = configured
            .get(name)
            .cloned()
            .or_else(|| hints::builtin(*kind, name));
        error = error.hint(match hint {
            Some(hint) => format!("{name}: {hint}"),
            None => format!(
                "{name}: install the package that provides it, and say how in `[check] hints` of project.toml"
            ),
        });
    }
    if missing
        .iter()
        .any(|(kind, name, _)| hints::packages(*kind, name).is_some())
    {
        error = error.hint(
            "`pybuild check --fix` prints the command that installs them, and runs it if you say so",
        );
    }
    error.message = message;
    error
}

/// The C compiler's system include path, then the interpreter's include directory.
fn include_dirs(cx: &mut Build) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    if let Some(compiler) = COMPILERS.iter().find_map(|c| which::which(c).ok()) {
        // `-v` lists the `#include <...>` search path on stderr; fold it into stdout.
        let out = cx.runner.capture(
            "sh",
            &args![
                "-c",
                "\"$0\" -E -Wp,-v -xc /dev/null 2>&1 >/dev/null",
                &compiler
            ],
        )?;
        dirs.extend(parse_search_list(&out));
    }
    // The interpreter's own include directories (a venv shares them): no venv is needed,
    // so the check runs first and a missing header fails before anything is installed.
    let python = cx.interpreter()?.path;
    let out = cx.runner.capture(
        &python,
        &args![
            "-c",
            "import sysconfig; p = sysconfig.get_paths(); print(p['include']); print(p['platinclude'])"
        ],
    )?;
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let dir = PathBuf::from(line);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    Ok(dirs)
}

fn parse_search_list(output: &str) -> Vec<PathBuf> {
    output
        .lines()
        .skip_while(|l| !l.starts_with("#include <...> search starts here:"))
        .skip(1)
        .take_while(|l| !l.starts_with("End of search list."))
        .map(|l| PathBuf::from(l.trim()))
        .collect()
}

fn pc_file(cx: &Build, pkg_config: &Path, module: &str) -> Option<PathBuf> {
    let dir = cx
        .runner
        .capture(pkg_config, &args!["--variable=pcfiledir", module])
        .ok()?;
    let path = Path::new(dir.trim()).join(format!("{module}.pc"));
    path.is_file().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gcc_search_list() {
        let out = "ignoring nonexistent directory \"/x\"\n\
            #include \"...\" search starts here:\n\
            #include <...> search starts here:\n \
            /usr/lib/gcc/x86_64-linux-gnu/12/include\n \
            /usr/include\n\
            End of search list.\n";
        assert_eq!(
            parse_search_list(out),
            vec![
                PathBuf::from("/usr/lib/gcc/x86_64-linux-gnu/12/include"),
                PathBuf::from("/usr/include")
            ]
        );
    }

    #[test]
    fn report_lists_everything_with_hints() {
        let missing = vec![
            (
                Kind::Header,
                "ldap.h".to_string(),
                "searched /usr/include".to_string(),
            ),
            (Kind::Command, "swig".to_string(), "not on PATH".to_string()),
        ];
        let mut configured = std::collections::BTreeMap::new();
        configured.insert("swig".to_string(), "brew install swig".to_string());
        let err = report(&missing, &configured);
        assert!(err.message.contains("2 system prerequisites"));
        assert!(
            err.message
                .contains("header ldap.h (searched /usr/include)")
        );
        assert!(err.hints[0].contains("libldap-dev"));
        assert_eq!(err.hints[1], "swig: brew install swig");
    }
}
