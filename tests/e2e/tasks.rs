//! User tasks, `help`, `completions` and `man`. Only one test creates a venv (~25 s): every
//! scenario that needs one runs in it; the others check what needs no Python at all.

use std::fs;

use crate::support::{Project, SAMPLE_CONFIG};

const TASKS: &str = r#"
[tasks.prefix]
help = "Print the venv's prefix"
run = [["python", "-c", "import sys; print('prefix', sys.prefix)"]]

[tasks.import]
run = [["python", "-c", "import greeter.words; print('imported')"]]
deps = ["setup"]

[tasks.a]
run = "echo a >> \"$ORDER\""

[tasks.b]
run = "echo b >> \"$ORDER\""
deps = ["a"]

[tasks.all]
help = "a, then b, then itself"
run = "echo all >> \"$ORDER\""
deps = ["a", "b"]

[tasks.count]
help = "Count the lines of the sources"
run = "echo count >> \"$ORDER\"; cat src/greeter/*.py | wc -l > lines.txt"
sources = ["src/**/*.py"]
outputs = ["lines.txt"]

[tasks.nested]
run = "\"$PYBUILD\" --no-wait count"

[tasks.fail]
run = "echo failing; exit 7"

[tasks.hold]
run = "touch \"$ORDER.holding\"; while [ ! -e \"$ORDER.stop\" ]; do sleep 0.05; done"

[tasks.args]
run = [["python", "-c", "import sys; print(sys.argv[1:])"]]

[tasks.where]
run = "echo $GREETING from $(basename \"$PWD\")"
env = { GREETING = "hey" }
cwd = "src"
"#;

fn tasks_project(tasks: &str) -> Project {
    Project::fixture("sample").with_file("project.toml", &format!("{SAMPLE_CONFIG}{tasks}"))
}

#[test]
fn tasks_run_in_the_venv_with_deps_freshness_args_and_exit_codes() {
    let project = tasks_project(TASKS);
    let order_dir = tempfile::tempdir().unwrap();
    let order = order_dir.path().join("order.txt");
    let env = [("ORDER", order.to_str().unwrap())];
    let ran = || fs::read_to_string(&order).unwrap_or_default();

    // Inside the venv, which the task's implicit deps created.
    let run = project.pybuild(&["prefix"]).success();
    assert!(run.step_ran("venv") && run.step_ran("tools"));
    let venv = project.path(".venv");
    assert!(
        run.stdout.contains(&format!("prefix {}\n", venv.display())),
        "{}",
        run.describe()
    );

    // A built-in step as a dep: the project installed first.
    let run = project.pybuild(&["import"]).success();
    assert_eq!(run.stdout, "imported\n");
    assert!(run.step_ran("develop") && !run.step_ran("venv"));
    let develop_at = run.stderr.find("develop  done").unwrap();
    assert!(run.stderr.find("import   running").unwrap() > develop_at);

    // Deps first, in order, each once.
    project.pybuild_with_env(&["all"], &env).success();
    assert_eq!(ran(), "a\nb\nall\n");

    // Skipped while its sources are unchanged, run again after an edit.
    let run = project.pybuild_with_env(&["count"], &env).success();
    assert!(run.step_ran("count"));
    let lines = project.read("lines.txt");
    let run = project.pybuild_with_env(&["count"], &env).success();
    assert!(!run.step_ran("count"), "{}", run.describe());
    assert_eq!(ran(), "a\nb\nall\ncount\n");
    let words = project.read("src/greeter/words.py");
    let status = project
        .pybuild(&["status", "count", "all"])
        .success()
        .stdout;
    assert!(status.contains("count    fresh\n"), "{status}");
    assert!(
        status.contains("all      stale\n           a task without sources or outputs always runs"),
        "{status}"
    );
    project.write("src/greeter/words.py", &format!("{words}# one more line\n"));
    let status = project.pybuild(&["status", "count"]).success().stdout;
    assert!(
        status.contains("count    stale\n           src/greeter/words.py changed"),
        "{status}"
    );
    let run = project
        .pybuild_with_env(&["--explain", "count"], &env)
        .success();
    assert!(run.step_ran("count"));
    assert!(
        run.stderr.contains("src/greeter/words.py"),
        "{}",
        run.describe()
    );
    assert_ne!(project.read("lines.txt"), lines);
    // A deleted output is made again.
    fs::remove_file(project.path("lines.txt")).unwrap();
    assert!(
        project
            .pybuild_with_env(&["count"], &env)
            .success()
            .step_ran("count")
    );
    assert_eq!(ran(), "a\nb\nall\ncount\ncount\ncount\n");

    // A task may run pybuild on its own project: the parent lets go of the lock while the
    // task's command runs, and what the nested one recorded survives the parent's save.
    fs::remove_file(project.path("lines.txt")).unwrap();
    let nested_env = [env[0], ("PYBUILD", env!("CARGO_BIN_EXE_pybuild"))];
    project.pybuild_with_env(&["nested"], &nested_env).success();
    assert!(project.path("lines.txt").exists());
    let run = project.pybuild_with_env(&["count"], &env).success();
    assert!(!run.step_ran("count"), "{}", run.describe());

    // A long task (a server, a test watcher) does not keep other builds waiting.
    let mut hold = project.spawn_pybuild_with_env(&["hold"], &env);
    let holding = order.with_extension("txt.holding");
    project.wait_until("the task runs", || holding.exists());
    fs::remove_file(project.path("lines.txt")).unwrap();
    let run = project.pybuild_with_env(&["--no-wait", "count"], &env);
    fs::write(order.with_extension("txt.stop"), "").unwrap();
    assert!(hold.wait().unwrap().success());
    assert!(run.success().step_ran("count"));
    let run = project.pybuild_with_env(&["count"], &env).success();
    assert!(!run.step_ran("count"), "{}", run.describe());

    // The task's exit code is pybuild's; its output is shown, not logged.
    let run = project.pybuild(&["fail"]).failure(7);
    assert_eq!(run.stdout, "failing\n");
    assert!(
        run.stderr.contains("exited with code 7"),
        "{}",
        run.describe()
    );

    // Extra arguments, by both spellings; env and cwd.
    let run = project
        .pybuild(&["-q", "args", "--", "-x", "two words"])
        .success();
    assert_eq!(run.stdout, "['-x', 'two words']\n");
    let run = project
        .pybuild(&["-q", "run", "args", "--", "-k"])
        .success();
    assert_eq!(run.stdout, "['-k']\n");
    let run = project.pybuild(&["-q", "where"]).success();
    assert_eq!(run.stdout, "hey from src\n");

    // `run -- CMD` still runs any program; a name that is no task runs as a program too.
    let run = project
        .pybuild(&["-q", "run", "--", "python", "-c", "print('plain')"])
        .success();
    assert_eq!(run.stdout, "plain\n");
    let run = project
        .pybuild(&["-q", "run", "echo", "--", "hello"])
        .success();
    assert_eq!(run.stdout, "hello\n");

    // clean keeps the venv and the tasks' outputs, and forgets that they ran.
    project.pybuild(&["clean"]).success();
    assert!(project.path(".venv/bin/python").exists());
    assert!(project.path("lines.txt").exists());
    assert!(
        project
            .pybuild_with_env(&["count"], &env)
            .success()
            .step_ran("count")
    );
}

#[test]
fn help_lists_builtins_and_tasks_and_details_one() {
    let project = tasks_project(TASKS);
    let run = project.pybuild(&["help"]).success();
    // Aligned on the longest name, `completions`.
    for (name, help) in [
        ("bundle", "Everything `setup` does"),
        ("clean", "Remove the bundle"),
        ("prefix", "Print the venv's prefix\n"),
        ("count", "Count the lines of the sources\n"),
        ("fail", "(undocumented)\n"),
    ] {
        let line = format!("  {name:11}  {help}");
        assert!(run.stdout.contains(&line), "{line:?}\n{}", run.describe());
    }
    assert!(run.stdout.contains("\nTasks (project.toml):\n"));
    assert_eq!(project.pybuild(&[]).success().stdout, run.stdout);

    let run = project.pybuild(&["help", "count"]).success();
    assert!(
        run.stdout.contains("sources   src/**/*.py\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("outputs   lines.txt\n"),
        "{}",
        run.describe()
    );
    let run = project.pybuild(&["help", "all"]).success();
    assert!(
        run.stdout.contains("deps      (venv, tools), a, b\n"),
        "{}",
        run.describe()
    );

    let run = project.pybuild(&["help", "--json"]).success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let tasks = json["tasks"].as_array().unwrap();
    let count = tasks.iter().find(|t| t["name"] == "count").unwrap();
    assert_eq!(count["help"], "Count the lines of the sources");
    assert_eq!(count["sources"][0], "src/**/*.py");
    assert!(
        json["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "run")
    );

    // Without a project.toml: the built-ins alone, quietly.
    let bare = Project::fixture("sample");
    let run = bare.pybuild(&["help"]).success();
    assert!(run.stdout.contains("  bundle ") && !run.stdout.contains("Tasks"));
    assert_eq!(run.stderr, "");

    // A broken project.toml does not break the help of the built-ins.
    let broken = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"g\"\n[tasks.x]\nrun = 3\n",
    );
    let run = broken.pybuild(&["help"]).success();
    assert!(run.stdout.contains("  bundle "), "{}", run.describe());
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("project.toml:4:7"),
        "{}",
        run.describe()
    );
}

#[test]
fn unknown_names_cycles_and_collisions_are_usage_errors() {
    let project = tasks_project(TASKS);
    let run = project.pybuild(&["cuont"]).failure(2);
    assert!(
        run.stderr.contains("no command or task `cuont`")
            && run.stderr.contains("hint: did you mean `count`?"),
        "{}",
        run.describe()
    );
    let run = project.pybuild(&["bundel"]).failure(2);
    assert!(
        run.stderr.contains("did you mean `bundle`?"),
        "{}",
        run.describe()
    );
    let run = project.pybuild(&["help", "cuont"]).failure(2);
    assert!(
        run.stderr.contains("did you mean `count`?"),
        "{}",
        run.describe()
    );

    let bare = Project::fixture("sample");
    let run = bare.pybuild(&["lint"]).failure(2);
    assert!(
        run.stderr.contains("no command or task `lint`") && run.stderr.contains("there is none in"),
        "{}",
        run.describe()
    );

    let cycle = tasks_project(
        "[tasks.a]\nrun = \"true\"\ndeps = [\"b\"]\n\n[tasks.b]\nrun = \"true\"\ndeps = [\"a\"]\n",
    );
    let run = cycle.pybuild(&["a"]).failure(2);
    assert!(
        run.stderr
            .contains("project.toml:8:9: tasks depend on each other in a cycle: a → b → a"),
        "{}",
        run.describe()
    );
    assert!(
        !cycle.path(".venv").exists(),
        "nothing runs on a bad config"
    );

    let collision = tasks_project("[tasks.clean]\nrun = \"rm -rf /\"\n");
    let run = collision.pybuild(&["clean"]).failure(2);
    assert!(
        run.stderr
            .contains("project.toml:6:8: task `clean` has the name of a built-in"),
        "{}",
        run.describe()
    );

    let unknown_dep = tasks_project("[tasks.t]\nrun = \"true\"\ndeps = [\"setpu\"]\n");
    let run = unknown_dep.pybuild(&["t"]).failure(2);
    assert!(
        run.stderr.contains("did you mean `setup`?"),
        "{}",
        run.describe()
    );
}

#[test]
fn completions_and_man_page_hold_the_commands_and_tasks() {
    let project = tasks_project(TASKS);
    // The script is a hook; the names come at completion time (see cli.rs).
    let run = project.pybuild(&["completions", "bash"]).success();
    assert!(run.stdout.contains("complete "), "{}", run.describe());
    let names = project.pybuild(&["help", "--names"]).success().stdout;
    for name in ["bundle", "clean", "completions", "prefix", "count"] {
        assert!(names.lines().any(|n| n == name), "{name}\n{names}");
    }

    let run = project.pybuild(&["man"]).success();
    assert!(run.stdout.contains(".TH pybuild"), "{}", run.describe());
    assert!(run.stdout.contains("pybuild") && run.stdout.contains("completions"));
    let out = tempfile::tempdir().unwrap();
    project
        .pybuild(&["man", "--out", out.path().to_str().unwrap()])
        .success();
    assert!(out.path().join("pybuild.1").exists());
    assert!(out.path().join("pybuild-clean.1").exists());
}
