//! `pybuild check --fix`, the Makefile's `system` target: the one command that installs
//! the packages providing everything `[check]` finds missing, with the system's package
//! manager (apt-get, else dnf; through `sudo` when not root). The command is printed on
//! stdout; it runs only with `--yes`, or after a yes to a question on a terminal. Then the
//! check step runs again, as `pybuild check` runs it.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::base::error::UserError;
use crate::base::prerequisites::hints::{self, Packages};
use crate::base::process::display_command;
use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::engine::state::State;
use crate::steps::check::{Missing, probe};
use crate::steps::{self, BuildOptions};

/// A package manager pybuild can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manager {
    Apt,
    Dnf,
}

/// Where apt keeps the package lists; without any, `apt-get install` knows no package.
const APT_LISTS: &str = "/var/lib/apt/lists";

/// Runs `pybuild check --fix [--yes]` in the project at `dir`.
pub(crate) fn run(dir: &Path, printer: &Printer, options: &BuildOptions, yes: bool) -> Result<()> {
    let project = Project::discover(dir)?;
    if project.config.check.is_empty() {
        printer.info("[check] in project.toml lists nothing to check, so nothing to fix");
        return Ok(());
    }
    let mut cx = steps::context(&project, printer, State::default());
    let (missing, _) = probe(&mut cx)?;
    if !missing.is_empty() {
        install(&missing, printer, yes)?;
    }
    steps::build(&project, printer, options, &["check"], &[], true).map(drop)
}

fn install(missing: &[Missing], printer: &Printer, yes: bool) -> Result<()> {
    let manager = which::which("apt-get")
        .map(|path| (Manager::Apt, path))
        .or_else(|_| which::which("dnf").map(|path| (Manager::Dnf, path)));
    let mut packages: Vec<&str> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for (kind, name, _) in missing {
        match (hints::packages(*kind, name), &manager) {
            (Some(provider), Ok((manager, _))) => {
                let package = package_for(provider, *manager);
                printer.info(&format!("missing: {} {name} ({package})", kind.noun()));
                if !packages.contains(&package) {
                    packages.push(package);
                }
            }
            _ => {
                printer.info(&format!("missing: {} {name}", kind.noun()));
                unknown.push(format!("{} {name}", kind.noun()));
            }
        }
    }
    let Ok((manager, program)) = manager else {
        return Err(UserError::failure(
            "`check --fix` needs apt-get or dnf, and this system has neither",
        )
        .hint(install_yourself(missing))
        .into());
    };
    if packages.is_empty() {
        return Err(not_fixed(&unknown, missing).into());
    }
    let update = manager == Manager::Apt && !has_apt_lists(Path::new(APT_LISTS));
    let planned = commands(&program, &packages, update)?;
    for (program, args) in &planned {
        println!("{}", display_command(program.as_os_str(), args));
    }
    let _ = std::io::stdout().flush();
    if !yes && !confirmed()? {
        return Err(UserError::failure(format!(
            "{} system prerequisite{} missing; nothing was installed",
            missing.len(),
            if missing.len() == 1 { " is" } else { "s are" }
        ))
        .hint("run the command above, or `pybuild check --fix --yes` to have pybuild run it")
        .into());
    }
    let ran = planned
        .iter()
        .try_for_each(|(program, args)| execute(program, args, printer));
    if let Err(err) = ran {
        // Package lists older than the archive name versions it no longer has.
        if manager != Manager::Apt || update {
            return Err(err);
        }
        printer.warn(&format!(
            "{err:#}: updating the package lists, then trying again"
        ));
        for (command, args) in commands(&program, &packages, true)? {
            execute(&command, &args, printer)?;
        }
    }
    if !unknown.is_empty() {
        return Err(not_fixed(&unknown, missing).into());
    }
    Ok(())
}

fn execute(program: &Path, args: &[std::ffi::OsString], printer: &Printer) -> Result<()> {
    let display = display_command(program.as_os_str(), args);
    printer.info(&format!("running {display}"));
    let status = duct::cmd(program, args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .unchecked()
        .run()
        .with_context(|| format!("cannot run `{display}`"))?
        .status;
    match status.success() {
        true => Ok(()),
        false => Err(UserError::failure(format!("`{display}` failed ({status})")).into()),
    }
}

fn package_for(provider: Packages, manager: Manager) -> &'static str {
    match manager {
        Manager::Apt => provider.debian,
        Manager::Dnf => provider.fedora,
    }
}

type Command = (PathBuf, Vec<std::ffi::OsString>);

/// The install command, through `sudo` unless root; `update` first with apt (a fresh
/// container has no package lists, and old ones name versions the archive dropped).
fn commands(program: &Path, packages: &[&str], update: bool) -> Result<Vec<Command>> {
    let sudo = match rustix::process::geteuid().is_root() {
        true => None,
        false => Some(which::which("sudo").map_err(|_| {
            UserError::failure("installing system packages needs root, and sudo is not on PATH")
                .hint(format!(
                    "as root: {} install {}",
                    program.display(),
                    packages.join(" ")
                ))
        })?),
    };
    Ok(commands_through(sudo.as_deref(), program, packages, update))
}

/// [`commands`], each started by `sudo` when given.
fn commands_through(
    sudo: Option<&Path>,
    program: &Path,
    packages: &[&str],
    update: bool,
) -> Vec<Command> {
    let mut steps: Vec<Vec<std::ffi::OsString>> = Vec::new();
    if update {
        steps.push(vec!["update".into()]);
    }
    let mut install: Vec<std::ffi::OsString> = vec!["install".into(), "-y".into()];
    install.extend(packages.iter().map(Into::into));
    steps.push(install);
    steps
        .into_iter()
        .map(|args| match sudo {
            Some(sudo) => {
                let mut full = vec![program.as_os_str().to_owned()];
                full.extend(args);
                (sudo.to_path_buf(), full)
            }
            None => (program.to_path_buf(), args),
        })
        .collect()
}

fn has_apt_lists(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
    })
}

/// A yes typed on a terminal; never asked when stdin or stderr is not one.
fn confirmed() -> Result<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(false);
    }
    eprint!("run it? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

fn not_fixed(unknown: &[String], missing: &[Missing]) -> UserError {
    UserError::failure(format!(
        "pybuild knows no package for {}",
        unknown.join(", ")
    ))
    .hint(install_yourself(missing))
}

fn install_yourself(missing: &[Missing]) -> String {
    let known: Vec<String> = missing
        .iter()
        .filter_map(|(kind, name, _)| {
            let provider = hints::packages(*kind, name)?;
            Some(format!("{name}: {}", provider.hint()))
        })
        .collect();
    match known.is_empty() {
        true => "install what provides them yourself, then run `pybuild check`".into(),
        false => format!(
            "install them yourself ({}), then run `pybuild check`",
            known.join("; ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::prerequisites::hints::Kind;

    fn shown(commands: &[Command]) -> Vec<String> {
        commands
            .iter()
            .map(|(program, args)| display_command(program.as_os_str(), args))
            .collect()
    }

    #[test]
    fn one_install_for_everything_each_package_once() {
        let packages = ["libldap-dev", "libsasl2-dev"];
        let dnf = Path::new("/usr/bin/dnf");
        let install = "/usr/bin/dnf install -y libldap-dev libsasl2-dev";
        assert_eq!(
            shown(&commands_through(None, dnf, &packages, false)),
            [install]
        );
        let sudo = Some(Path::new("/usr/bin/sudo"));
        assert_eq!(
            shown(&commands_through(sudo, dnf, &packages, false)),
            [format!("/usr/bin/sudo {install}")]
        );
        let apt = Path::new("/usr/bin/apt-get");
        assert_eq!(
            shown(&commands_through(sudo, apt, &packages[..1], true)),
            [
                "/usr/bin/sudo /usr/bin/apt-get update",
                "/usr/bin/sudo /usr/bin/apt-get install -y libldap-dev"
            ]
        );
    }

    /// Root runs the install itself; anyone else through sudo, or is told how as root.
    #[test]
    fn sudo_only_when_not_root() {
        let dnf = Path::new("/usr/bin/dnf");
        let made = commands(dnf, &["libldap-dev"], false);
        let install = "/usr/bin/dnf install -y libldap-dev";
        match (rustix::process::geteuid().is_root(), which::which("sudo")) {
            (true, _) => assert_eq!(shown(&made.unwrap()), [install]),
            (false, Ok(sudo)) => assert_eq!(
                shown(&made.unwrap()),
                [format!("{} {install}", sudo.display())]
            ),
            (false, Err(_)) => {
                let err = format!("{:#}", made.unwrap_err());
                assert!(err.contains("sudo is not on PATH"), "{err}");
            }
        }
    }

    #[test]
    fn packages_by_manager() {
        let provider = hints::packages(Kind::Header, "lber.h").unwrap();
        assert_eq!(package_for(provider, Manager::Apt), "libldap-dev");
        assert_eq!(package_for(provider, Manager::Dnf), "openldap-devel");
    }

    #[test]
    fn apt_lists_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_apt_lists(dir.path()));
        std::fs::write(
            dir.path()
                .join("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"),
            "",
        )
        .unwrap();
        assert!(has_apt_lists(dir.path()));
        let compressed = tempfile::tempdir().unwrap();
        std::fs::write(
            compressed.path().join("x_main_binary-amd64_Packages.lz4"),
            "",
        )
        .unwrap();
        assert!(has_apt_lists(compressed.path()));
    }
}
