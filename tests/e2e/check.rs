//! System prerequisites: everything missing is reported at once, with how to get it.

use crate::support::{Project, SAMPLE_CONFIG};

#[test]
fn missing_header_fails_naming_it_and_its_package_then_passes_when_configured_away() {
    let missing = format!(
        "{SAMPLE_CONFIG}\n[check]\ncommands = [\"cc\"]\nheaders = [\"Python.h\", \"pybuild_no_such_header.h\", \"ldap.h\"]\n"
    );
    let project = Project::sample().with_file("project.toml", &missing);
    if project.path("/usr/include/ldap.h").exists() {
        panic!("this test needs a machine without ldap.h (libldap-dev)");
    }
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
