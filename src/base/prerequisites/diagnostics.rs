//! What a failed build's output says is missing from the system, so that a failure
//! without `[check]` is still explained (issue #16).
//!
//! [`scan`] reads the output of the command that failed, line by line, for the
//! diagnostics compilers, linkers and build scripts print when a system prerequisite is
//! missing: gcc's `fatal error: X.h: No such file or directory`, clang's
//! `fatal error: 'X.h' file not found`, the linkers' `cannot find -lX` (GNU ld),
//! `unable to find library -lX` (lld) and `library not found for -lX` (ld64), psycopg2's
//! `pg_config executable not found`, mysqlclient's `mysql_config not found`, pkg-config's
//! `Package X was not found`, and a compiler or known tool that could not be executed.
//! Each finding names the dependency being built when the installer said so before (pip's
//! `Collecting X`, `Building wheel for X`, uv's ``Failed to build `X==1.0` ``) or after
//! (pip's `Failed building wheel for X`).
//!
//! [`explain`] turns the findings of a [`CommandFailed`] into hint lines: the packages that
//! provide each (see `hints`), and the `[check]` lines that make the next run fail in
//! milliseconds. The log itself is left as it is.

use std::fs;

use super::hints::{self, Kind};
use super::known;
use crate::base::process::CommandFailed;

/// What a build could not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Missing {
    Header(String),
    /// A library the linker was asked for (`-lname`), by its name.
    Library(String),
    Command(String),
    PkgConfig(String),
}

/// One thing the output says is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) missing: Missing,
    /// The distribution being built when it was found missing, when the output says.
    pub(crate) dependency: Option<String>,
}

/// Everything the output says is missing, each once, in the order first seen.
pub(crate) fn scan(output: &str) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    let mut building: Option<String> = None;
    for line in output.lines() {
        let line = line.trim();
        if let Some(name) = dependency_failed(line) {
            // Said after the build's output (pip): it names what was being built.
            for finding in findings.iter_mut().filter(|f| f.dependency.is_none()) {
                finding.dependency = Some(name.clone());
            }
        }
        if let Some(name) = dependency_started(line) {
            building = Some(name);
            continue;
        }
        if let Some(missing) = diagnostic(line)
            && !findings.iter().any(|f| f.missing == missing)
        {
            findings.push(Finding {
                missing,
                dependency: building.clone(),
            });
        }
    }
    findings
}

/// The distribution an installer's line says it starts building (or collecting: pip
/// builds metadata then, and that can fail on a missing `pg_config`).
fn dependency_started(line: &str) -> Option<String> {
    const MARKS: &[&str] = &[
        "Collecting ",
        "Building wheel for ",
        "Building editable for ",
        "Running setup.py install for ",
        "Failed to build `",
        "Failed to download and build `",
    ];
    MARKS.iter().find_map(|mark| {
        let (_, rest) = line.split_once(mark)?;
        distribution_name(rest)
    })
}

/// The distribution a line says failed to build, said after its output.
fn dependency_failed(line: &str) -> Option<String> {
    let rest = line
        .strip_prefix("ERROR: Failed building wheel for ")
        .or_else(|| line.strip_prefix("Failed to build "))?;
    // pip lists several names separated by spaces: only one of them is surely the one.
    distribution_name(rest).filter(|_| !rest.trim().contains(' '))
}

/// The leading distribution name of `text` (`python-ldap==3.4.8`, `psycopg2 (from x)`).
fn distribution_name(text: &str) -> Option<String> {
    let name: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    let name = name.trim_end_matches(['.', '-', '_']);
    (!name.is_empty()).then(|| name.to_string())
}

/// What one line of output says is missing, if anything.
fn diagnostic(line: &str) -> Option<Missing> {
    // gcc: `file.c:15:10: fatal error: lber.h: No such file or directory`
    if let Some((_, rest)) = line.split_once("fatal error: ")
        && let Some(header) = rest.strip_suffix(": No such file or directory")
    {
        return Some(Missing::Header(header.to_string()));
    }
    // clang: `file.c:15:10: fatal error: 'lber.h' file not found`
    if let Some((_, rest)) = line.split_once("fatal error: '")
        && let Some(header) = rest.strip_suffix("' file not found")
    {
        return Some(Missing::Header(header.to_string()));
    }
    // GNU ld, lld, ld64
    for mark in [
        "cannot find -l",
        "unable to find library -l",
        "library not found for -l",
    ] {
        if let Some((_, rest)) = line.split_once(mark) {
            let library: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != ':' && *c != '\'')
                .collect();
            if !library.is_empty() {
                return Some(Missing::Library(library));
            }
        }
    }
    if line.contains("pg_config executable not found") {
        return Some(Missing::Command("pg_config".into()));
    }
    if line.contains("mysql_config not found") {
        return Some(Missing::Command("mysql_config".into()));
    }
    // mysqlclient >= 2.2 asks pkg-config for mysqlclient, then mariadb.
    if line.contains("Can not find valid pkg-config name") {
        return Some(Missing::PkgConfig("mysqlclient".into()));
    }
    // pkg-config: `Package libxml-2.0 was not found in the pkg-config search path.`
    if let Some(rest) = line.strip_prefix("Package ")
        && let Some((module, _)) = rest.split_once(" was not found in the pkg-config search path")
    {
        return Some(Missing::PkgConfig(module.to_string()));
    }
    // A program that could not be started: `[Errno 2] No such file or directory: 'gcc'`,
    // setuptools' `error: command 'gcc' failed: No such file or directory`.
    let program = line
        .split_once("No such file or directory: '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(program, _)| program)
        .or_else(|| {
            let (_, rest) = line.split_once("command '")?;
            let (program, rest) = rest.split_once('\'')?;
            rest.contains("failed: No such file or directory")
                .then_some(program)
        })?;
    let program = program.rsplit('/').next().unwrap_or(program);
    if is_c_compiler(program) {
        return Some(Missing::Command("cc".into()));
    }
    hints::packages(Kind::Command, program).map(|_| Missing::Command(program.to_string()))
}

/// `gcc`, `cc`, `clang`, `x86_64-linux-gnu-gcc`, `gcc-12`...
fn is_c_compiler(program: &str) -> bool {
    let base = program
        .rsplit('-')
        .find(|part| !part.chars().all(|c| c.is_ascii_digit() || c == '.'));
    matches!(base, Some("gcc" | "cc" | "clang"))
}

impl Missing {
    /// What `[check]` checks for it, and under which key: a library through a header or
    /// module of its package.
    pub(crate) fn check_entry(&self) -> Option<(Kind, String)> {
        match self {
            Missing::Header(name) => Some((Kind::Header, name.clone())),
            Missing::Command(name) => Some((Kind::Command, name.clone())),
            Missing::PkgConfig(name) => Some((Kind::PkgConfig, name.clone())),
            Missing::Library(name) => {
                hints::library(name).map(|(kind, what)| (kind, what.to_string()))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Missing::Header(name) => format!("header {name}"),
            Missing::Library(name) => format!("library -l{name}"),
            Missing::Command(name) if name == "cc" => "a C compiler (cc)".into(),
            Missing::Command(name) => format!("command {name}"),
            Missing::PkgConfig(name) => format!("pkg-config module {name}"),
        }
    }
}

/// The hints that explain a failed command by what its output says is missing: nothing
/// when it says nothing of the kind. Reads the command's part of its step's log (the
/// whole output), else the lines the error kept.
pub(crate) fn explain(failed: &CommandFailed) -> Vec<String> {
    let output = failed
        .log
        .as_ref()
        .and_then(|log| fs::read(log).ok())
        .map(|bytes| {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            // The log holds the step's earlier commands too: their output is not this one's.
            let start = format!("$ {}\n", failed.command);
            match text.rfind(&start) {
                Some(at) => text[at..].to_string(),
                None => text,
            }
        })
        .unwrap_or_else(|| failed.tail.join("\n"));
    hints_for(&scan(&output))
}

fn hints_for(findings: &[Finding]) -> Vec<String> {
    if findings.is_empty() {
        return Vec::new();
    }
    let mut missing = String::from("the build's output says this system lacks:");
    let mut entries: Vec<(Kind, String)> = Vec::new();
    for finding in findings {
        let entry = finding.missing.check_entry();
        missing.push_str(&format!("\n  {}", finding.missing.describe()));
        if let Some(dependency) = &finding.dependency {
            missing.push_str(&format!(", to build {dependency}"));
        }
        let packages = entry
            .as_ref()
            .and_then(|(kind, name)| hints::packages(*kind, name));
        missing.push_str(&match packages {
            Some(p) => format!(
                ": Debian/Ubuntu package {}, Fedora package {}",
                p.debian, p.fedora
            ),
            None => ": install the package that provides it".into(),
        });
        if let Some(entry) = entry
            && !entries.contains(&entry)
        {
            entries.push(entry);
        }
    }
    // What the dependencies named need besides, so that one round of installs is enough.
    let mut completed: Vec<&str> = Vec::new();
    for dependency in findings.iter().filter_map(|f| f.dependency.as_deref()) {
        let Some(known) = known::find(dependency) else {
            continue;
        };
        for (kind, name) in known.entries() {
            let entry = (kind, name.to_string());
            if !entries.contains(&entry) {
                entries.push(entry);
                if !completed.contains(&dependency) {
                    completed.push(dependency);
                }
            }
        }
    }
    let mut hints = vec![missing];
    if !entries.is_empty() {
        let besides = match completed.is_empty() {
            true => String::new(),
            false => format!(
                " (with all that {} needs to build, as pybuild knows it)",
                completed.join(" and ")
            ),
        };
        let mut check = format!(
            "add to project.toml{besides}, so that the next run fails in milliseconds, before \
             anything is installed, and `pybuild check --fix` installs what is missing:\n  [check]"
        );
        for kind in [Kind::Command, Kind::Header, Kind::PkgConfig] {
            let names: Vec<String> = entries
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, name)| format!("{name:?}"))
                .collect();
            if !names.is_empty() {
                check.push_str(&format!("\n  {} = [{}]", kind.key(), names.join(", ")));
            }
        }
        hints.push(check);
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/build-output/",
                $name
            ))
        };
    }

    fn header(name: &str, dependency: Option<&str>) -> Finding {
        Finding {
            missing: Missing::Header(name.into()),
            dependency: dependency.map(str::to_string),
        }
    }

    #[test]
    fn gcc_under_uv_names_the_header_and_the_dependency() {
        assert_eq!(
            scan(fixture!("uv-gcc-python-ldap.log")),
            [header("lber.h", Some("python-ldap"))]
        );
    }

    #[test]
    fn gcc_under_pip_names_the_header_and_the_dependency() {
        assert_eq!(
            scan(fixture!("pip-gcc-python-ldap.log")),
            [header("lber.h", Some("python-ldap"))]
        );
    }

    #[test]
    fn clang_under_pip_names_the_header_and_the_dependency() {
        assert_eq!(
            scan(fixture!("pip-clang-python-ldap.log")),
            [header("lber.h", Some("python-ldap"))]
        );
    }

    #[test]
    fn a_missing_python_h_from_gcc_and_clang() {
        for output in [fixture!("gcc-python-h.log"), fixture!("clang-python-h.log")] {
            assert_eq!(scan(output), [header("Python.h", None)], "{output}");
        }
    }

    #[test]
    fn libraries_the_linker_cannot_find() {
        for output in [
            fixture!("ld-cannot-find.log"),
            fixture!("clang-ld-cannot-find.log"),
        ] {
            let missing: Vec<Missing> = scan(output).into_iter().map(|f| f.missing).collect();
            assert_eq!(
                missing,
                [
                    Missing::Library("ldap".into()),
                    Missing::Library("lber".into())
                ],
                "{output}"
            );
        }
        assert_eq!(
            diagnostic("ld.lld: error: unable to find library -lpq"),
            Some(Missing::Library("pq".into()))
        );
        assert_eq!(
            diagnostic("ld: library not found for -lssl"),
            Some(Missing::Library("ssl".into()))
        );
    }

    #[test]
    fn pg_config_under_pip_and_uv() {
        for output in [
            fixture!("pip-pg-config-psycopg2.log"),
            fixture!("uv-pg-config-psycopg2.log"),
        ] {
            assert_eq!(
                scan(output),
                [Finding {
                    missing: Missing::Command("pg_config".into()),
                    dependency: Some("psycopg2".into()),
                }],
                "{output}"
            );
        }
    }

    #[test]
    fn a_compiler_that_cannot_be_run() {
        assert_eq!(
            scan(fixture!("pip-no-compiler-python-ldap.log")),
            [Finding {
                missing: Missing::Command("cc".into()),
                dependency: Some("python-ldap".into()),
            }]
        );
        assert_eq!(
            diagnostic("error: command 'gcc-12' failed: No such file or directory"),
            Some(Missing::Command("cc".into()))
        );
        // A file, not a program pybuild knows: nothing to say.
        assert_eq!(
            diagnostic("FileNotFoundError: [Errno 2] No such file or directory: 'data.json'"),
            None
        );
    }

    #[test]
    fn pkg_config_and_mysql() {
        assert_eq!(
            diagnostic("Package libxml-2.0 was not found in the pkg-config search path."),
            Some(Missing::PkgConfig("libxml-2.0".into()))
        );
        assert_eq!(
            diagnostic("Exception: Can not find valid pkg-config name."),
            Some(Missing::PkgConfig("mysqlclient".into()))
        );
        assert_eq!(
            diagnostic("OSError: mysql_config not found"),
            Some(Missing::Command("mysql_config".into()))
        );
    }

    #[test]
    fn ordinary_output_says_nothing() {
        assert!(scan("Collecting click\nSuccessfully installed click-8.1\n").is_empty());
    }

    #[test]
    fn hints_name_packages_and_the_check_lines() {
        let hints = hints_for(&scan(fixture!("uv-gcc-python-ldap.log")));
        assert_eq!(
            hints[0],
            "the build's output says this system lacks:\n  header lber.h, to build \
             python-ldap: Debian/Ubuntu package libldap-dev, Fedora package openldap-devel"
        );
        assert!(
            hints[1].starts_with("add to project.toml (with all that python-ldap needs to build"),
            "{}",
            hints[1]
        );
        assert!(
            hints[1].ends_with(
                "\n  [check]\n  commands = [\"cc\"]\n  \
                 headers = [\"lber.h\", \"Python.h\", \"ldap.h\", \"sasl/sasl.h\"]"
            ),
            "{}",
            hints[1]
        );

        let findings = scan(fixture!("ld-cannot-find.log"));
        let hints = hints_for(&findings);
        assert!(
            hints[0].contains("library -lldap: Debian/Ubuntu package libldap-dev"),
            "{}",
            hints[0]
        );
        assert!(
            hints[1].ends_with("headers = [\"ldap.h\", \"lber.h\"]"),
            "{}",
            hints[1]
        );
    }

    #[test]
    fn explain_reads_only_the_failed_commands_part_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("develop.log");
        fs::write(
            &log,
            "$ pip install a\nx.c:1:10: fatal error: yaml.h: No such file or directory\n\
             $ pip install b\nx.c:1:10: fatal error: ffi.h: No such file or directory\n",
        )
        .unwrap();
        let failed = CommandFailed {
            command: "pip install b".into(),
            status: "exited with code 1".into(),
            code: Some(1),
            log: Some(log),
            tail: Vec::new(),
        };
        let hints = explain(&failed);
        assert!(hints[0].contains("header ffi.h"), "{hints:?}");
        assert!(!hints[0].contains("yaml.h"), "{hints:?}");
    }
}
