//! pybuild never shows a secret, never leaves a killed build's processes running, and never
//! crashes or prints raw escape codes whatever project.toml holds.
use crate::support::Project;

/// `[tasks.t0]` needs `t1`, ... `t{depth-1}`, whose own entry is `last`.
fn chain(depth: usize, last: &str) -> String {
    let mut config = format!("{}\n", crate::support::SAMPLE_CONFIG);
    for i in 0..depth - 1 {
        config.push_str(&format!("[tasks.t{i}]\ndeps = [\"t{}\"]\n", i + 1));
    }
    config.push_str(&format!("[tasks.t{}]\n{last}\n", depth - 1));
    config
}

#[test]
fn a_task_chain_deeper_than_the_stack_is_listed_and_planned() {
    let project = Project::sample().with_file("project.toml", &chain(50_000, "run = \"true\""));
    let run = project.pybuild(&["help"]).success();
    assert!(run.stdout.contains("\n  t49999 "), "{}", run.describe());
    project.pybuild(&["help", "t0"]).success();
    let run = project.pybuild(&["status", "t0"]).success();
    let last = run.stdout.lines().last().unwrap_or_default();
    assert!(last.contains("always runs"), "{}", run.describe());
    assert!(run.stdout.contains("\nt0 "), "{}", run.describe());

    // Closed into a cycle, it is refused where the cycle starts.
    project.write("project.toml", &chain(50_000, "deps = [\"t0\"]"));
    let run = project.pybuild(&["status", "t0"]).failure(2);
    assert!(
        run.stderr
            .contains("project.toml:8:9: tasks depend on each other in a cycle: t0 → t1 → t2 → t3 → … 49993 more … → t49997 → t49998 → t49999 → t0\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn what_a_task_says_of_itself_is_shown_escaped() {
    let config = format!(
        "{}\n[tasks.cls]\nhelp = \"x\\u001b[2Jy\"\nrun = [[\"printf\", \"\\u001b]0;pwned\\u0007\"]]\n",
        crate::support::SAMPLE_CONFIG
    );
    let project = Project::sample().with_file("project.toml", &config);
    let run = project.pybuild(&["help", "cls"]).success();
    assert!(
        run.stdout.starts_with("pybuild cls: x\\u{1b}[2Jy\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("printf \\u{1b}]0;pwned\\u{7}\n"),
        "{}",
        run.describe()
    );
    let overview = project.pybuild(&["help"]).success();
    assert!(
        overview.stdout.contains("  x\\u{1b}[2Jy\n"),
        "{}",
        overview.describe()
    );
    for out in [&run.stdout, &overview.stdout] {
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    }
}
