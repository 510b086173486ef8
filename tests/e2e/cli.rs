//! The command line's conventions, as CI and shells rely on them: `status --exit-code`,
//! versioned JSON, colour and options from the environment, one help text per command,
//! and completion that follows the project.

use std::path::Path;

use crate::support::{Project, SAMPLE_CONFIG};

const LINT: &str = "\n[tasks.lint]\nhelp = \"Check the code\"\nrun = \"true\"\n";

#[test]
fn status_exit_code_says_whether_the_bundle_is_current() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    let run = project.pybuild(&["status", "--exit-code"]).success();
    assert!(run.stdout.contains("bundle   fresh"), "{}", run.describe());

    project.write(
        "src/greeter/cli.py",
        &format!("{}\n# edited\n", project.read("src/greeter/cli.py")),
    );
    let run = project.pybuild(&["status", "--exit-code"]).failure(1);
    assert!(
        run.stdout.contains("bundle   stale") && run.stdout.contains("src/greeter/cli.py changed"),
        "{}",
        run.describe()
    );
    // Without the flag, status reports and succeeds; a usage error stays 2.
    project.pybuild(&["status"]).success();
    project
        .pybuild(&["status", "--exit-code", "bundel"])
        .failure(2);
}

#[test]
fn status_and_help_json_are_versioned_objects_with_stable_keys() {
    let project = Project::sample().with_file("project.toml", &format!("{SAMPLE_CONFIG}{LINT}"));
    project.pybuild(&["bundle"]).success();
    project.write(
        "src/greeter/cli.py",
        &format!("{}\n# edited\n", project.read("src/greeter/cli.py")),
    );
    let run = project
        .pybuild(&["status", "--json", "bundle", "lint"])
        .success();
    let status: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status["version"], 1, "{}", run.stdout);
    assert_eq!(status["fresh"], false);
    assert_eq!(status["bundle"]["kind"], "pex");
    assert_eq!(status["bundle"]["output"], "dist/greet.pex");
    let steps = status["steps"].as_array().unwrap();
    let targets: Vec<&str> = steps
        .iter()
        .map(|s| s["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        ["check", "venv", "tools", "develop", "bundle", "lint"]
    );
    for step in steps {
        let keys: Vec<&String> = step.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["fresh", "outputs", "reasons", "target", "type"],
            "{step}"
        );
    }
    let bundle = &steps[4];
    assert_eq!(bundle["type"], "step");
    assert_eq!(bundle["fresh"], false);
    assert_eq!(
        bundle["reasons"][0],
        serde_json::json!({
            "kind": "changed",
            "path": "src/greeter/cli.py",
            "key": null,
            "detail": "src/greeter/cli.py changed",
        })
    );
    let outputs = bundle["outputs"].as_array().unwrap();
    assert!(outputs.iter().any(|o| o == "dist/greet.pex"), "{bundle}");
    assert_eq!(steps[5]["type"], "task");
    assert_eq!(steps[5]["reasons"][0]["kind"], "always-runs");

    let run = project.pybuild(&["help", "--json"]).success();
    let help: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(help["version"], 1);
    assert!(
        help["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "status")
    );
    assert_eq!(help["tasks"][0]["name"], "lint");
    // One topic: the same shape, holding only it.
    let run = project.pybuild(&["help", "--json", "lint"]).success();
    let one: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(one["version"], 1);
    assert_eq!(one["commands"], serde_json::json!([]));
    assert_eq!(one["tasks"][0]["help"], "Check the code");
}

#[test]
fn force_color_colours_without_a_terminal_and_no_color_wins() {
    let project = Project::sample().with_file("project.toml", &format!("{SAMPLE_CONFIG}{LINT}"));
    let colours = |env: &[(&str, &str)], args: &[&str]| {
        let run = project.pybuild_with_env_unset(
            args,
            env,
            &["NO_COLOR", "FORCE_COLOR", "PYBUILD_COLOR"],
        );
        assert_eq!(run.code, 0, "{}", run.describe());
        run.stdout.contains("\u{1b}[")
    };
    for args in [
        &["help"][..],
        &["help", "lint"],
        &["lint", "--help"],
        &["status"],
    ] {
        assert!(!colours(&[], args), "no terminal, no colour: {args:?}");
        assert!(colours(&[("FORCE_COLOR", "1")], args), "{args:?}");
        assert!(
            !colours(&[("FORCE_COLOR", "1"), ("NO_COLOR", "1")], args),
            "NO_COLOR wins: {args:?}"
        );
    }
    // The option and its twin decide over both.
    assert!(colours(
        &[("NO_COLOR", "1")],
        &["--color", "always", "help"]
    ));
    assert!(!colours(
        &[("FORCE_COLOR", "1"), ("PYBUILD_COLOR", "never")],
        &["help"]
    ));
    // Empty is unset (no-color.org, force-color.org).
    assert!(!colours(&[("FORCE_COLOR", "")], &["help"]));
}

#[test]
fn every_global_option_has_an_environment_twin_shown_in_help() {
    let project = Project::sample().with_file("project.toml", &format!("{SAMPLE_CONFIG}{LINT}"));
    let help = project.pybuild(&["--help"]).success().stdout;
    for twin in [
        "PYBUILD_PROJECT",
        "PYBUILD_VERBOSE",
        "PYBUILD_QUIET",
        "PYBUILD_COLOR",
        "PYBUILD_EXPLAIN",
        "PYBUILD_NO_WAIT",
        "PYBUILD_OFFLINE",
    ] {
        assert!(help.contains(&format!("[env: {twin}=]")), "{twin}\n{help}");
    }
    // Set to nothing is unset, as CI templates leave variables.
    let empty = [
        ("PYBUILD_COLOR", ""),
        ("PYBUILD_VERBOSE", ""),
        ("PYBUILD_OFFLINE", ""),
    ];
    project.pybuild_with_env(&["help"], &empty).success();
    // A twin acts as its option: PYBUILD_PROJECT as -C.
    let elsewhere = Project::fixture("sample");
    let root = project.root.to_str().unwrap();
    let run = elsewhere
        .pybuild_with_env(&["help"], &[("PYBUILD_PROJECT", root)])
        .success();
    assert!(run.stdout.contains("  lint "), "{}", run.describe());
    // The command line wins over a twin; a twin that says no is off.
    let run = project
        .pybuild_with_env(&["-v", "lint"], &[("PYBUILD_QUIET", "1")])
        .success();
    assert!(run.stderr.contains("lint     done"), "{}", run.describe());
    let run = project
        .pybuild_with_env(&["lint"], &[("PYBUILD_QUIET", "1")])
        .success();
    assert_eq!(run.stderr, "", "{}", run.describe());
    let run = project
        .pybuild_with_env(&["lint"], &[("PYBUILD_QUIET", "0")])
        .success();
    assert!(run.stderr.contains("lint     done"), "{}", run.describe());
}

#[test]
fn help_x_is_x_help_and_the_man_page_has_its_sections() {
    let project = Project::sample().with_file("project.toml", &format!("{SAMPLE_CONFIG}{LINT}"));
    let names = project.pybuild(&["help", "--names"]).success().stdout;
    for name in names.lines() {
        let help = project.pybuild(&["help", name]).success().stdout;
        let flag = project.pybuild(&[name, "--help"]).success().stdout;
        assert_eq!(help, flag, "pybuild help {name} vs pybuild {name} --help");
        assert!(
            help.contains("--offline") && help.contains("[env: PYBUILD_OFFLINE=]"),
            "{name} lacks the global options:\n{help}"
        );
    }
    let lint = project.pybuild(&["help", "lint"]).success().stdout;
    assert!(
        lint.starts_with("Check the code\n") && lint.contains("run       sh -c \"true\"\n"),
        "{lint}"
    );
    // After `--`, `--help` is the task's own.
    let run = project.pybuild(&["lint", "--", "--help"]).success();
    assert!(run.stderr.contains("lint     done"), "{}", run.describe());

    let man = project.pybuild(&["man"]).success().stdout;
    for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES"] {
        assert!(man.contains(section), "{section}\n{man}");
    }
    assert!(man.contains("PYBUILD_OFFLINE") && man.contains("FORCE_COLOR"));
}

#[test]
fn completion_offers_a_task_added_after_the_script_was_made() {
    let project = Project::sample();
    let script = project.pybuild(&["completions", "bash"]).success().stdout;
    let script_path = project.path("../pybuild.bash");
    std::fs::write(&script_path, script).unwrap();
    // Written after the script, as a task is added months after ~/.bashrc was.
    project.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[tasks.docs-deploy]\nhelp = \"Publish\"\nrun = \"true\"\n"),
    );
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let shell = format!(
            "source {}; COMP_WORDS=({line}); COMP_CWORD={}; _clap_complete_pybuild pybuild {} {}; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script_path.display(),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let run = project.run_program(Path::new("bash"), &["-c", &shell]);
        assert_eq!(run.code, 0, "{}", run.describe());
        run.stdout
    };
    let offered = complete("pybuild do");
    assert_eq!(
        offered.lines().collect::<Vec<_>>(),
        ["docs-deploy"],
        "{offered}"
    );
    let offered = complete("pybuild status d");
    assert!(
        offered.lines().any(|l| l == "docs-deploy") && offered.lines().any(|l| l == "develop"),
        "{offered}"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let run = project.pybuild(&["completions", shell]).success();
        assert!(
            run.stdout.contains("COMPLETE"),
            "{shell}\n{}",
            run.describe()
        );
    }
}
