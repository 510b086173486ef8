//! The bundle is read back in process: an edit → bundle with the layered PEX starts no
//! process at all, and the bundle it leaves runs the edit. And the venv is read once: it
//! lists site-packages once and opens each requirement and entry-point file once at most.

use std::path::Path;

use crate::support::Project;

#[test]
fn an_edit_to_bundle_starts_no_process_and_ships_the_edit() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"howdy\"\n",
    );
    let (run, execs) = project.pybuild_traced(&["bundle"]);
    let run = run.success();
    assert!(run.step_ran("bundle"), "{}", run.describe());
    assert_eq!(
        execs.len(),
        1,
        "an edit → bundle started processes besides pybuild:\n{execs:#?}"
    );
    let out = project.exec("dist/greet.pex", &[]).success().stdout;
    assert!(out.starts_with("greeting: howdy\n"), "{out}");
}

/// The venv is read once per state (`python/env.rs`): however many steps and checks ask
/// what it holds, an edit → bundle lists site-packages once. The project's
/// `entry_points.txt` is read once for what it says, and once more by the stat cache if
/// it has to hash it (the bundle's fingerprint holds it); the requirement file once for
/// what it says (`python/sources.rs`) and once more when the input files are copied to
/// the stage.
#[test]
fn an_edit_to_bundle_reads_the_venv_once() {
    let project = Project::sample();
    // Long unchanged, as in an edit loop: the stat cache trusts its hash (a file changed
    // within moments of being hashed is hashed again, see `statcache`).
    let an_hour_ago =
        filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - 3600, 0);
    filetime::set_file_mtime(project.path("requirements.txt"), an_hour_ago).unwrap();
    project.pybuild(&["bundle"]).success();
    project.write("src/greeter/words.py", "def word():\n    return \"hi\"\n");
    let (run, opens) = project.pybuild_opens(&["bundle"]);
    let run = run.success();
    assert!(run.step_ran("bundle"), "{}", run.describe());
    let count = |wanted: &dyn Fn(&str, bool) -> bool| {
        opens
            .iter()
            .filter(|(path, dir)| wanted(path, *dir))
            .count()
    };
    let listings = count(&|path, dir| dir && path.ends_with("/site-packages"));
    assert_eq!(
        listings, 1,
        "site-packages listed {listings} times:\n{opens:#?}"
    );
    let file = project.path("requirements.txt").canonicalize().unwrap();
    let requirements = count(&|path, _| Path::new(path) == file);
    assert!(
        requirements <= 2,
        "requirements.txt opened {requirements} times:\n{opens:#?}"
    );
    // The venv's (the layer's copy is the bundle's own business).
    let entry_points =
        count(&|path, _| path.contains("/site-packages/") && path.ends_with("/entry_points.txt"));
    assert!(
        entry_points <= 2,
        "entry_points.txt opened {entry_points} times:\n{opens:#?}"
    );
}
