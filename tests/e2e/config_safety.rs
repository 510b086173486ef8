//! Hardening: every value checked where it is loaded, every file read bounded, and
//! read-only commands that never need to write.

use crate::support::{Project, SAMPLE_CONFIG};

#[test]
fn values_that_cannot_be_used_are_refused_at_their_place_when_loaded() {
    let cases = [
        ("[tasks.t]\nrun = \"echo\"\ncwd = \"a\\u0000b\"\n", "9:7", "NUL"),
        ("[tasks.t]\nrun = \"echo\"\nenv = { A = \"x\\ny\" }\n", "9:13", "one line"),
        ("[deploy.marathon]\ncpus = nan\n", "8:8", "above 0"),
        ("[image]\nport = 0\n", "8:8", "not 0"),
        ("[image]\npython = \"\"\n", "8:10", "image.python"),
        ("[tasks.t]\nrun = \"echo\"\nenv = { \"A=B\" = \"x\" }\n", "9:9", "A=B"),
        ("[tasks.t]\nrun = \"\"\n", "8:7", "empty"),
        ("[image]\nname = \"../../evil\"\n", "8:8", "cannot name an image"),
        ("[deploy.kubernetes]\nname = \"Greeter_App\"\n", "8:8", "DNS label"),
        ("[deploy.kubernetes.labels]\ntier = \"web\\u2028x\"\n", "8:8", "label value"),
        ("[deploy.marathon]\nid = \"/team/app\\u0085\"\n", "8:6", "Marathon id"),
        ("[deploy.marathon.labels]\nx = \"a\\u007fb\"\n", "8:5", "control character"),
        ("[deploy.spark.conf]\n\"spark.app.name=x\" = \"y\"\n", "8:1", "Spark property"),
    ];
    for (section, place, what) in cases {
        let project =
            Project::sample().with_file("project.toml", &format!("{SAMPLE_CONFIG}\n{section}"));
        let run = project.pybuild(&["bundle"]).failure(2);
        assert!(
            run.stderr.contains(&format!("project.toml:{place}: ")) && run.stderr.contains(what),
            "{section}: {}",
            run.describe()
        );
        assert!(
            !project.path(".venv").exists(),
            "{section}: a step ran before the mistake was found"
        );
    }
}
