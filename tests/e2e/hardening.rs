//! Every path pybuild writes is inside the project and its own (issue 25, "Hardening, round
//! 2"): a name cannot lead a descriptor out of the project, `dist/` may be another file
//! system, a value cannot change a descriptor's structure, a folder pybuild did not make is
//! kept, a file named in project.toml is read with a cap, what a killed run left is swept,
//! pex and `[bundle] output` cannot write into `.git/` or outside, and the umask gives the
//! modes.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::containers::{base_reference, tool_venv};
use crate::support::{Project, Run, SAMPLE_CONFIG, finish, kill};

/// `pybuild ARGS`, killed (and the test failed) if it has not ended within `limit`: what
/// must fail fast must not hang the suite when it regresses.
#[track_caller]
fn pybuild_within(project: &Project, args: &[&str], limit: Duration) -> Run {
    let child = project.spawn_pybuild(args);
    let pid = child.id();
    let start = Instant::now();
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            kill(pid, true);
            let run = finish(child);
            panic!(
                "`pybuild {}` still ran after {limit:?}\n{}",
                args.join(" "),
                run.describe()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    finish(child)
}

/// Every path under `dir`, relative to it.
fn listing(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
            let rel = entry.path().strip_prefix(dir).unwrap().to_path_buf();
            found.push(rel.display().to_string());
        }
    }
    found.sort();
    found
}

#[test]
fn a_name_cannot_lead_an_output_out_of_the_project() {
    let project = Project::sample().with_file(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[image]\nname = \"../../escaped\"\n"),
    );
    let above = project.root.parent().unwrap().to_path_buf();
    let before = listing(&above);
    for target in ["marathon", "spark", "kubernetes"] {
        let run = project.pybuild(&["deploy", target]).failure(2);
        assert!(
            run.stderr.contains("`../../escaped` cannot name")
                || run
                    .stderr
                    .contains("`[image] name` = \"../../escaped\" cannot name"),
            "{target}: {}",
            run.describe()
        );
        assert!(
            !run.stderr.contains("\nbundle "),
            "{target}: refused only after building\n{}",
            run.describe()
        );
    }
    let after: Vec<String> = listing(&above)
        .into_iter()
        .filter(|p| !p.starts_with("sample/.pybuild"))
        .collect();
    let before: Vec<String> = before
        .into_iter()
        .filter(|p| !p.starts_with("sample/.pybuild"))
        .collect();
    assert_eq!(after, before, "something was written around the project");
}

/// Unmounts the file system mounted on a path when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_bundle_is_placed_in_a_dist_on_another_file_system() {
    let project = Project::sample();
    let dist = project.path("dist");
    fs::create_dir_all(&dist).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256m", "tmpfs"])
        .arg(&dist)
        .output()
        .unwrap();
    if !mounted.status.success() {
        eprintln!(
            "skipped: cannot mount a tmpfs on {} ({})",
            dist.display(),
            String::from_utf8_lossy(&mounted.stderr).trim()
        );
        return;
    }
    let _guard = Mounted(dist.clone());
    let state = fs::metadata(project.path(".")).unwrap().dev();
    assert_ne!(
        fs::metadata(&dist).unwrap().dev(),
        state,
        "dist/ is no other file system"
    );

    project.pybuild(&["bundle"]).success();
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        crate::bundle::GREETING
    );
    let mode = fs::metadata(project.path("dist/greet.pex")).unwrap().mode();
    assert_eq!(mode & 0o111, 0o111, "the bundle lost its x bits: {mode:o}");
    let hidden: Vec<String> = listing(&dist)
        .into_iter()
        .filter(|p| p.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "temp files left: {hidden:?}");
}

#[test]
fn a_value_changes_no_descriptors_structure() {
    let validators = tool_venv("validators", &["jsonschema", "kubernetes-validate"]);
    let python = validators.join("bin/python");
    // A line separator in a name or label is refused where it is written, at its place
    // in project.toml: it never reaches a descriptor.
    let refused = Project::sample().with_file(
        "project.toml",
        &format!(
            "{SAMPLE_CONFIG}\n[image]\nbase = \"{}\"\n\n[deploy.kubernetes]\nname = \"{}\"\n",
            base_reference(),
            toml_escaped("greeter\u{2028}injected: true"),
        ),
    );
    let run = refused.pybuild(&["deploy", "kubernetes"]).failure(2);
    assert!(
        run.stderr.contains("project.toml:") && run.stderr.contains("deploy.kubernetes.name"),
        "{}",
        run.describe()
    );
    // What the configuration lets through is escaped by the writer: non-ASCII and astral
    // characters in a Kubernetes value; DEL, a C1 control and a quote in a Marathon
    // environment value (which may hold anything but a line break).
    let memory = "64Mi\u{e9}\u{1F600}";
    let env = "x\u{7f}\u{9b}\"injected\": 1\u{1F600}";
    let config = format!(
        "{SAMPLE_CONFIG}\n[image]\nbase = \"{}\"\n\n\
         [deploy.marathon]\nenv = {{ NOTE = \"{}\" }}\nargs = [\"{{a,b}}\", \"[x]\", \"a,b\", \"*\"]\n\n\
         [deploy.kubernetes]\nmemory = \"{}\"\n",
        base_reference(),
        toml_escaped(env),
        toml_escaped(memory),
    );
    let project = Project::sample().with_file("project.toml", &config);

    project.pybuild(&["deploy", "kubernetes"]).success();
    let check = "import json, sys, yaml\n\
                 docs = list(yaml.safe_load_all(open(sys.argv[1], encoding='utf-8')))\n\
                 memory = sys.argv[2]\n\
                 assert [sorted(d) for d in docs] == [['apiVersion', 'kind', 'metadata', 'spec']] * 2, docs\n\
                 assert [d['kind'] for d in docs] == ['Deployment', 'Service'], docs\n\
                 container = docs[0]['spec']['template']['spec']['containers'][0]\n\
                 assert container['resources']['requests']['memory'] == memory, container\n";
    let yaml = project.path("dist/greeter.kubernetes.yaml");
    let text = fs::read(&yaml).unwrap();
    assert!(
        text.iter()
            .all(|b| (b' '..=b'~').contains(b) || *b == b'\n'),
        "{}",
        String::from_utf8_lossy(&text)
    );
    project
        .run_program(&python, &["-c", check, yaml.to_str().unwrap(), memory])
        .success();

    project.pybuild(&["deploy", "marathon"]).success();
    let text = project.read("dist/greeter.marathon.json");
    assert!(
        text.bytes()
            .all(|b| (b' '..=b'~').contains(&b) || b == b'\n'),
        "{text}"
    );
    let app: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(app["env"]["NOTE"], env, "{text}");
    assert_eq!(app["env"].as_object().unwrap().len(), 1, "{text}");
    // The command's words reach the program as written: no glob, no brace expansion,
    // even with files a glob would match and run by bash.
    let cmd = app["cmd"].as_str().unwrap();
    let (_, words) = cmd.split_once("./greet.pex ").unwrap();
    let here = tempfile::tempdir().unwrap();
    for file in ["x", "a", "b"] {
        fs::write(here.path().join(file), "").unwrap();
    }
    let script = format!("printf '%s\\n' {words}");
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(here.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{a,b}\n[x]\na,b\n*\n",
        "{cmd}"
    );
}

/// `text` for a TOML basic string: what is not printable ASCII as `\uXXXX` or `\UXXXXXXXX`.
fn toml_escaped(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => format!("\\{c}"),
            ' '..='~' => c.to_string(),
            c if u32::from(c) > 0xFFFF => format!("\\U{:08X}", u32::from(c)),
            c => format!("\\u{:04X}", u32::from(c)),
        })
        .collect()
}

#[test]
fn a_folder_pybuild_did_not_make_is_kept() {
    let project = Project::sample().with_file(
        "project.toml",
        &format!(
            "{SAMPLE_CONFIG}\n[image]\nbase = \"{}\"\n",
            base_reference()
        ),
    );
    project.write("dist/greeter.oci/notes.txt", "mine");
    let run = project.pybuild(&["image"]).failure(2);
    assert!(
        run.stderr.contains("dist/greeter.oci/notes.txt")
            && run.stderr.contains("which pybuild did not produce"),
        "{}",
        run.describe()
    );
    assert_eq!(project.read("dist/greeter.oci/notes.txt"), "mine");
    assert!(
        !project.path(".venv").exists(),
        "refused only after building"
    );
}

#[test]
fn a_file_named_in_the_configuration_is_read_with_a_cap() {
    let project = Project::sample();
    let fifo = project.path("deploy/fifo.json");
    fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    project.write("deploy/huge.json", &"x".repeat(2 << 20));
    // /dev/zero made again inside the project: root may.
    let zero = project.path("deploy/zero.json");
    let made = Command::new("mknod")
        .arg(&zero)
        .args(["c", "1", "5"])
        .status()
        .unwrap();
    assert!(made.success());
    let cases = [
        ("marathon", "template", "deploy/fifo.json", "a named pipe"),
        ("marathon", "template", "/dev/zero", "outside the project"),
        ("marathon", "template", "deploy/zero.json", "a device"),
        ("marathon", "template", "deploy/huge.json", "larger than"),
        ("marathon", "template", "/etc/passwd", "outside the project"),
        ("spark", "main", "/etc/passwd", "outside the project"),
    ];
    for (target, key, value, why) in cases {
        project.write(
            "project.toml",
            &format!("{SAMPLE_CONFIG}\n[deploy.{target}]\n{key} = \"{value}\"\n"),
        );
        let run = pybuild_within(&project, &["deploy", target], Duration::from_secs(20));
        assert_eq!(run.code, 2, "{value}: {}", run.describe());
        assert!(
            run.stderr
                .contains(&format!("`[deploy.{target}] {key} = \"{value}\"`"))
                && run.stderr.contains(why),
            "{value}: {}",
            run.describe()
        );
    }
    assert!(!project.path("dist").exists());
}

#[test]
fn what_a_killed_run_left_is_swept() {
    let project = Project::sample().with_file(
        "project.toml",
        &format!(
            "{SAMPLE_CONFIG}\n[image]\nbase = \"{}\"\n",
            base_reference()
        ),
    );
    project.pybuild(&["image"]).success();
    let hidden = |project: &Project| -> Vec<String> {
        fs::read_dir(project.path("dist"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    };
    let killed_image = |project: &Project, epoch: &str| {
        // Another epoch makes the image stale: it is written again, and killed halfway.
        let child = project.spawn_pybuild_with_env(&["image"], &[("SOURCE_DATE_EPOCH", epoch)]);
        project.wait_until("the image is being written", || !hidden(project).is_empty());
        kill(child.id(), true);
        finish(child);
        assert!(!hidden(project).is_empty());
    };

    killed_image(&project, "1000");
    project.pybuild(&["image"]).success();
    assert_eq!(
        hidden(&project),
        Vec::<String>::new(),
        "the next build left them"
    );

    killed_image(&project, "2000");
    project.pybuild(&["clean"]).success();
    assert_eq!(hidden(&project), Vec::<String>::new(), "clean left them");
}

#[test]
fn pex_and_the_bundle_output_write_nowhere_else() {
    let project = Project::sample();
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("app.pex");
    project.write(
        "project.toml",
        &format!(
            "{SAMPLE_CONFIG}\n[bundle]\npex-args = [\"-o\", \"{}\"]\n",
            outside.display()
        ),
    );
    let run = project.pybuild(&["bundle"]).failure(2);
    assert!(
        run.stderr.contains("project.toml:") && run.stderr.contains("`-o` in `pex-args`"),
        "{}",
        run.describe()
    );
    assert!(!outside.exists());

    Command::new("git")
        .args(["init", "-q"])
        .current_dir(&project.root)
        .status()
        .unwrap();
    project.write(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[bundle]\noutput = \".git/hooks/pre-commit\"\n"),
    );
    let run = project.pybuild(&["bundle"]).failure(2);
    assert!(
        run.stderr.contains("project.toml:") && run.stderr.contains("`.git/`"),
        "{}",
        run.describe()
    );
    assert!(!project.path(".git/hooks/pre-commit").exists());
    assert!(
        !project.path(".venv").exists(),
        "refused only after building"
    );
}

#[test]
fn descriptors_get_the_modes_the_umask_gives() {
    let project = Project::fixture("spark-job");
    let umask = ["sh", "-c", "umask 022 && exec \"$0\" \"$@\""];
    project
        .pybuild_wrapped(&umask, &["deploy", "spark"])
        .success();
    project
        .pybuild_wrapped(&umask, &["deploy", "marathon"])
        .success();
    for (file, mode) in [
        ("dist/squares.spark-submit.sh", 0o755),
        ("dist/squares.spark-main.py", 0o644),
        ("dist/squares.marathon.json", 0o644),
        ("dist/squares.manifest.json", 0o644),
    ] {
        let found = fs::metadata(project.path(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(found, mode, "{file}: {found:o}");
    }
}

/// A bundle pybuild made is replaced by the next one wherever it goes: at a configured
/// output outside `dist/` (recorded as made), and in `dist/` after pybuild's state was
/// lost (nothing recorded: a file in `dist/` is pybuild's to replace).
#[test]
fn a_bundle_made_before_is_replaced_in_or_out_of_dist() {
    let project = Project::sample().with_file(
        "project.toml",
        &format!("{SAMPLE_CONFIG}\n[bundle]\noutput = \"out/app.pex\"\n"),
    );
    project.pybuild(&["bundle"]).success();
    project.write(
        "src/greeter/words.py",
        "def word():\n    return \"howdy\"\n",
    );
    project.pybuild(&["bundle"]).success();
    let out = project.exec("out/app.pex", &[]).success().stdout;
    assert!(out.starts_with("greeting: howdy\n"), "{out}");

    project.write("project.toml", SAMPLE_CONFIG);
    project.pybuild(&["bundle"]).success();
    fs::remove_dir_all(project.path(".pybuild")).unwrap();
    project.write("src/greeter/words.py", "def word():\n    return \"hi\"\n");
    project.pybuild(&["bundle"]).success();
    let out = project.exec("dist/greet.pex", &[]).success().stdout;
    assert!(out.starts_with("greeting: hi\n"), "{out}");
}
