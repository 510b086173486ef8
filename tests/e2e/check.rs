//! System prerequisites: everything missing is reported at once, with how to get it; `init`
//! writes them for the dependencies it knows; a build that fails for lack of one says
//! which; `check --fix` installs them.

use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::support::{Project, SAMPLE_CONFIG};

/// What python-ldap includes: absent where these tests run. One test installs them and
/// removes them again; the tests that need them absent take [`system`] first.
const LDAP_HEADERS: [&str; 3] = [
    "/usr/include/lber.h",
    "/usr/include/ldap.h",
    "/usr/include/sasl/sasl.h",
];

fn system() -> MutexGuard<'static, ()> {
    static SYSTEM: Mutex<()> = Mutex::new(());
    let guard = SYSTEM.lock().unwrap_or_else(PoisonError::into_inner);
    for header in LDAP_HEADERS {
        assert!(
            !std::path::Path::new(header).exists(),
            "this test needs a machine without {header}: `apt-get purge libldap-dev \
             libsasl2-dev` if an earlier run was killed before it removed them"
        );
    }
    guard
}

#[test]
fn missing_header_fails_naming_it_and_its_package_then_passes_when_configured_away() {
    let _system = system();
    let missing = format!(
        "{SAMPLE_CONFIG}\n[check]\ncommands = [\"cc\"]\nheaders = [\"Python.h\", \"pybuild_no_such_header.h\", \"ldap.h\"]\n"
    );
    let project = Project::sample().with_file("project.toml", &missing);
    let run = project.pybuild(&["setup"]).failure(1);
    assert!(
        !project.path(".venv").exists(),
        "the check must fail before a venv is made\n{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("2 system prerequisites from [check] in project.toml are missing"),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("header ldap.h"), "{}", run.describe());
    assert!(
        run.stderr
            .contains("hint: ldap.h: Debian/Ubuntu: apt-get install libldap-dev"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("hint: pybuild_no_such_header.h: install the package"),
        "{}",
        run.describe()
    );
    assert!(
        !run.stderr.contains("header Python.h"),
        "{}",
        run.describe()
    );

    let fixed =
        format!("{SAMPLE_CONFIG}\n[check]\ncommands = [\"cc\"]\nheaders = [\"Python.h\"]\n");
    project.write("project.toml", &fixed);
    let run = project.pybuild(&["setup"]).success();
    assert!(run.step_ran("check"));
    // Passed once, it is not checked again while nothing it checks changed.
    let run = project.pybuild(&["setup"]).success();
    assert!(!run.step_ran("check"));
}

/// The Debian packages installed now.
fn installed_packages() -> Vec<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${db:Status-Status}\n"])
        .output()
        .expect("dpkg-query");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(" installed"))
        .map(str::to_string)
        .collect()
}

/// Purges, when dropped, the packages installed since it was made: what the test had
/// `check --fix` install leaves the machine with it, even when the test fails.
struct Uninstall {
    before: Vec<String>,
}

impl Drop for Uninstall {
    fn drop(&mut self) {
        let added: Vec<String> = installed_packages()
            .into_iter()
            .filter(|p| !self.before.contains(p))
            .collect();
        if !added.is_empty() {
            let status = Command::new("apt-get")
                .args(["purge", "-y", "-q"])
                .args(&added)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(std::process::Stdio::null())
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "could not purge {added:?}"
            );
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout == b"0\n")
}

#[test]
fn python_ldap_prerequisites_are_written_by_init_explained_without_check_and_installed_by_fix() {
    let _system = system();
    let project = Project::fixture("ldap-app");
    // A cache of its own: a python-ldap wheel that an earlier run built would install
    // without compiling anything, and there would be nothing to explain.
    let caches = project.root.with_extension("caches");
    let uv_cache = caches.join("uv");
    let pip_cache = caches.join("pip");
    let env = [
        ("UV_CACHE_DIR", uv_cache.to_str().unwrap()),
        ("PIP_CACHE_DIR", pip_cache.to_str().unwrap()),
    ];

    // init finds python-ldap among the dependencies, and PyPI has no Linux wheel of it.
    let run = project
        .pybuild_with_env(&["init", "--no-setup"], &env)
        .success();
    assert!(
        run.stderr.contains("[check]: python-ldap ") && run.stderr.contains("built from source"),
        "{}",
        run.describe()
    );
    let written = project.read("project.toml");
    for entry in [
        "\"cc\",  # python-ldap",
        "\"lber.h\",       # python-ldap",
        "\"ldap.h\",       # python-ldap",
        "\"sasl/sasl.h\",  # python-ldap",
    ] {
        assert!(written.contains(entry), "{entry}\n{written}");
    }
    let run = project.pybuild_with_env(&["check"], &env).failure(1);
    assert!(
        run.stderr.contains("header lber.h") && run.stderr.contains("header sasl/sasl.h"),
        "{}",
        run.describe()
    );
    assert!(!project.path(".venv").exists(), "{}", run.describe());

    // Without [check], the build fails in the compiler, and the error says why.
    project.write(
        "project.toml",
        "[project]\nname = \"ldap-app\"\n\n[bundle]\nconsole-script = \"ldap-app\"\n",
    );
    let run = project.pybuild_with_env(&["bundle"], &env).failure(1);
    let explained = "header lber.h, to build python-ldap: Debian/Ubuntu package libldap-dev, \
                     Fedora package openldap-devel";
    assert!(run.stderr.contains(explained), "{}", run.describe());
    assert!(
        run.stderr
            .contains("\n  [check]\n  commands = [\"cc\"]\n  headers = [\"lber.h\", "),
        "{}",
        run.describe()
    );
    assert!(
        project.log_mentions("develop", "fatal error: lber.h"),
        "the full log stays"
    );

    // --fix without --yes, and no terminal to ask on: the command, and nothing installed.
    project.write("project.toml", &written);
    let run = project
        .pybuild_with_env(&["check", "--fix"], &env)
        .failure(1);
    assert!(
        run.stdout.contains("apt-get install -y ")
            && run.stdout.contains(" libldap-dev libsasl2-dev\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("nothing was installed"),
        "{}",
        run.describe()
    );
    assert!(!std::path::Path::new(LDAP_HEADERS[0]).exists());

    if !is_root() || !std::path::Path::new("/usr/bin/apt-get").exists() {
        eprintln!("`check --fix --yes` left untested: it needs root and apt-get, as in CI");
        return;
    }
    let _uninstall = Uninstall {
        before: installed_packages(),
    };
    let run = project
        .pybuild_with_env(&["check", "--fix", "--yes"], &env)
        .success();
    assert!(run.step_ran("check"), "{}", run.describe());
    for header in LDAP_HEADERS {
        assert!(std::path::Path::new(header).exists(), "{header}");
    }
    project.pybuild_with_env(&["bundle"], &env).success();
    let out = project.exec("dist/ldap-app.pex", &[]).success();
    assert_eq!(out.stdout, "cn=admin | dc=example | dc=org\n");
}
