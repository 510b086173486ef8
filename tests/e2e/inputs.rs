//! Inputs that are not plain files of the project: links out of it, links to a named pipe or
//! to nothing, names that are not UTF-8, files that cannot be read. None of them may leak a
//! file into the bundle silently, hang a build, fail every build, or fail without a name.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Project, Run, SAMPLE_CONFIG, finish, kill};

#[test]
fn a_link_out_of_the_project_is_refused_unless_allowed() {
    let project = Project::sample().with_file("data/words.txt", "words\n");
    let secret = project.root.with_file_name("home");
    fs::create_dir(&secret).unwrap();
    fs::write(secret.join("id_rsa"), "PRIVATE KEY\n").unwrap();
    let secret = fs::canonicalize(secret.join("id_rsa")).unwrap();
    symlink(&secret, project.path("data/key.txt")).unwrap();
    // A link to a file of the project is an input as before.
    symlink("words.py", project.path("src/greeter/alias.py")).unwrap();

    let run = project.pybuild(&["bundle"]).failure(2);
    for needle in [
        "data/key.txt",
        secret.to_str().unwrap(),
        "hint:",
        "external-links",
    ] {
        assert!(run.stderr.contains(needle), "{needle}\n{}", run.describe());
    }
    assert!(!project.path("dist/greet.pex").exists());

    project.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[bundle]\nexternal-links = [\"data/*.txt\"]\n"),
    );
    project.pybuild(&["bundle"]).success();
    let has_alias = project.exec("dist/greet.pex", &["--has", "greeter.alias"]);
    assert_eq!(has_alias.success().stdout, "present\n");
}

#[test]
fn a_linked_input_whose_target_is_deleted_or_becomes_a_fifo_is_left_out() {
    let project = Project::sample().with_file("store/extra.txt", "extra\n");
    symlink(
        "../../../store/extra.txt",
        project.path("src/greeter/data/extra.txt"),
    )
    .unwrap();
    // An old directory keeps its listing from build to build: only the link's target changes.
    let old = filetime::FileTime::from_unix_time(1_000_000_000, 0);
    filetime::set_file_mtime(project.path("src/greeter/data"), old).unwrap();
    bundle_in_time(&project).success();

    // A deleted target is a removed input: one rebuild without it, then nothing to do.
    fs::remove_file(project.path("store/extra.txt")).unwrap();
    let run = bundle_in_time(&project).success();
    assert!(run.step_ran("bundle"), "{}", run.describe());
    let run = bundle_in_time(&project).success();
    assert!(!run.step_ran("bundle"), "{}", run.describe());

    // A named pipe is never opened (that would wait for a writer forever): left out, said.
    fs::write(project.path("store/extra.txt"), "extra again\n").unwrap();
    assert!(bundle_in_time(&project).success().step_ran("bundle"));
    fs::remove_file(project.path("store/extra.txt")).unwrap();
    let status = Command::new("mkfifo")
        .arg(project.path("store/extra.txt"))
        .status()
        .unwrap();
    assert!(status.success());
    let run = bundle_in_time(&project).success();
    assert!(run.step_ran("bundle"), "{}", run.describe());
    assert!(
        run.stderr
            .contains("warning: src/greeter/data/extra.txt is left out")
            && run.stderr.contains("named pipe"),
        "{}",
        run.describe()
    );
}

/// `pybuild bundle`, killed and failed if it takes longer than any build should.
fn bundle_in_time(project: &Project) -> Run {
    let mut child = project.spawn_pybuild(&["bundle"]);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(240) {
            kill(child.id(), true);
            panic!("pybuild bundle hung\n{}", finish(child).describe());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    finish(child)
}

#[test]
fn a_file_whose_name_is_not_utf8_is_named_in_a_warning() {
    let project = Project::sample().with_file(".gitignore", "*.log\n");
    let data = project.path("src/greeter/data");
    fs::write(data.join(OsStr::from_bytes(b"caf\xe9.txt")), "x").unwrap();
    fs::write(data.join(OsStr::from_bytes(b"caf\xe9.log")), "x").unwrap();
    let warning = "warning: src/greeter/data/caf\u{FFFD}.txt is left out";
    for _ in 0..2 {
        // Said by the build that reads the directory, and by those that reuse its listing.
        let run = project.pybuild(&["setup"]).success();
        assert!(run.stderr.contains(warning), "{}", run.describe());
        assert!(!run.stderr.contains(".log"), "{}", run.describe());
    }
}

#[test]
fn an_unreadable_input_is_named_in_the_error() {
    let project = Project::sample().with_file("src/greeter/x.py", "X = 1\n");
    project.pybuild(&["setup"]).success();
    fs::set_permissions(
        project.path("src/greeter/x.py"),
        fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    // File modes do not stop root: as root, run pybuild without the capabilities that let
    // it read any file.
    let as_root = fs::metadata("/proc/self").unwrap().uid() == 0;
    let wrapper: &[&str] = if as_root {
        &[
            "setpriv",
            "--bounding-set",
            "-dac_override,-dac_read_search",
            "--",
        ]
    } else {
        &["env"]
    };
    let run = project.pybuild_wrapped(wrapper, &["bundle"]).failure(1);
    assert!(
        run.stderr.contains("src/greeter/x.py"),
        "{}",
        run.describe()
    );
}
