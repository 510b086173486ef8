//! The bundle is read back in process: an edit → bundle with the layered PEX starts no
//! process at all, and the bundle it leaves runs the edit.

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
