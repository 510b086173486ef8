//! `pybuild clean` removes what builds produced, and nothing else.

use std::fs;
use std::os::unix::fs::symlink;

use crate::support::Project;

fn built_looking_project() -> Project {
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\noutput = \"dist/greet.pex\"\n",
    );
    for file in [
        "dist/greet.pex",
        ".pybuild/state.bin",
        ".pybuild/logs/bundle.log",
        "src/greeter.egg-info/SOURCES.txt",
        "build/lib/greeter/words.py",
        "build/bdist.linux-x86_64/x",
        ".venv/pyvenv.cfg",
    ] {
        project.write(file, "x");
    }
    // What a build records: clean removes the bundles pybuild produced, not what config names.
    project.write(".pybuild/produced/bundle.json", r#"["dist/greet.pex"]"#);
    project
}

#[test]
fn clean_removes_build_outputs_and_keeps_sources_and_venv() {
    let project = built_looking_project();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("keep.txt"), "precious").unwrap();
    symlink(outside.path(), project.path("dist/link-out")).unwrap();

    let dry = project.pybuild(&["clean", "--dry-run"]).success();
    assert!(
        dry.stdout.contains("would remove dist/greet.pex"),
        "{}",
        dry.describe()
    );
    assert!(project.path("dist/greet.pex").exists());

    project.pybuild(&["clean"]).success();
    for gone in [
        "dist/greet.pex",
        ".pybuild/state.bin",
        ".pybuild/logs",
        "src/greeter.egg-info",
        "build",
    ] {
        assert!(!project.path(gone).exists(), "{gone} survived clean");
    }
    for kept in [
        "src/greeter/cli.py",
        "pyproject.toml",
        "project.toml",
        ".venv/pyvenv.cfg",
        "dist/link-out",
    ] {
        assert!(
            project.path(kept).symlink_metadata().is_ok(),
            "{kept} was removed"
        );
    }
    assert_eq!(
        fs::read_to_string(outside.path().join("keep.txt")).unwrap(),
        "precious"
    );

    project.pybuild(&["clean", "--all"]).success();
    assert!(!project.path(".venv").exists());
}

#[test]
fn clean_never_follows_a_symlinked_directory_out_of_the_project() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("greet.pex"), "not ours").unwrap();
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\noutput = \"dist/greet.pex\"\n",
    );
    symlink(outside.path(), project.path("dist")).unwrap();
    let run = project.pybuild(&["clean", "--dry-run"]).success();
    assert!(!run.stdout.contains("greet.pex"), "{}", run.describe());
    project.pybuild(&["clean", "--all"]).success();
    assert_eq!(
        fs::read_to_string(outside.path().join("greet.pex")).unwrap(),
        "not ours"
    );
    assert!(project.path("dist").symlink_metadata().is_ok());

    let outside_venv = tempfile::tempdir().unwrap();
    fs::write(outside_venv.path().join("pyvenv.cfg"), "x").unwrap();
    project.write(
        "project.toml",
        &format!(
            "[project]\nname = \"greeter\"\n[env]\npath = \"{}\"\n",
            outside_venv.path().display()
        ),
    );
    let run = project.pybuild(&["clean", "--all"]).success();
    assert!(
        run.stderr.contains("outside the project: not removed"),
        "{}",
        run.describe()
    );
    assert!(outside_venv.path().join("pyvenv.cfg").exists());
}

#[test]
fn clean_refuses_an_output_outside_the_project() {
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\noutput = \"../greet.pex\"\n",
    );
    let run = project.pybuild(&["clean"]).failure(2);
    assert!(
        run.stderr.contains("inside the project"),
        "{}",
        run.describe()
    );
}

/// Every way a configured or recorded path can name a directory through a link that
/// leads out of the project: none may let `clean` touch what is outside.
#[test]
fn clean_never_reaches_through_a_link_whatever_the_path_form() {
    let base = tempfile::tempdir().unwrap();
    let canary = base.path().join("outside");
    fs::create_dir(&canary).unwrap();
    fs::write(canary.join("precious.txt"), "keep me").unwrap();
    let project = Project::fixture("sample");
    symlink(&canary, project.path("shared")).unwrap();
    let absolute = canary.display().to_string();
    let forms = [
        "shared/",
        "shared/.",
        "shared/../outside",
        "shared/x.pex",
        // A real file where the path lands: the one a missing guard would remove.
        "shared/precious.txt",
        absolute.as_str(),
    ];
    for form in forms {
        for (section, key) in [("bundle", "output"), ("env", "path")] {
            project.write(
                "project.toml",
                &format!("[project]\nname = \"greeter\"\n[{section}]\n{key} = \"{form}\"\n"),
            );
            // A state that says pybuild produced exactly that path, as a garbled or
            // hand-edited one might.
            project.write(
                ".pybuild/produced/bundle.json",
                &serde_json::to_string(&[form]).unwrap(),
            );
            for args in [&["clean", "--dry-run"][..], &["clean"], &["clean", "--all"]] {
                let run = project.pybuild(args);
                assert!(
                    !run.stdout.contains("would remove shared"),
                    "{section}.{key} = {form}: {}",
                    run.describe()
                );
                assert_eq!(
                    fs::read_to_string(canary.join("precious.txt"))
                        .ok()
                        .as_deref(),
                    Some("keep me"),
                    "{section}.{key} = {form}, pybuild {args:?} reached outside\n{}",
                    run.describe()
                );
            }
            assert!(project.path("shared").is_symlink());
        }
    }
}

#[test]
fn an_output_naming_sources_is_refused_before_anything_runs() {
    let project = Project::fixture("sample");
    for output in [
        "src",
        "pyproject.toml",
        "project.toml",
        "src/greeter/cli.py",
        "src/greeter/greet.pex",
        "app.pex",
    ] {
        project.write(
            "project.toml",
            &format!("[project]\nname = \"greeter\"\n[bundle]\noutput = \"{output}\"\n"),
        );
        let run = project.pybuild(&["bundle"]).failure(2);
        assert!(
            run.stderr.contains("project.toml:4:10:")
                && (run.stderr.contains("among the project's inputs")
                    || run.stderr.contains("is a directory")),
            "{output}: {}",
            run.describe()
        );
        project.pybuild(&["clean"]).success();
        project.pybuild(&["clean", "--all"]).success();
        for kept in ["src/greeter/cli.py", "pyproject.toml", "project.toml"] {
            assert!(project.path(kept).is_file(), "{output}: {kept} was removed");
        }
    }
    assert!(
        !project.path(".venv").exists(),
        "a refused output must be caught before any step runs"
    );

    // A file that is there already and that pybuild did not write is not overwritten.
    project.write("out/app.pex", "somebody's file");
    project.write(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\noutput = \"out/app.pex\"\n",
    );
    let run = project.pybuild(&["bundle"]).failure(2);
    assert!(
        run.stderr.contains("pybuild did not produce it"),
        "{}",
        run.describe()
    );
    assert_eq!(project.read("out/app.pex"), "somebody's file");
}

#[test]
fn a_bundle_is_never_written_through_a_link_out_of_the_project() {
    let elsewhere = tempfile::tempdir().unwrap();
    let project = Project::fixture("sample").with_file(
        "project.toml",
        "[project]\nname = \"greeter\"\n[bundle]\noutput = \"link/greet.pex\"\n",
    );
    symlink(elsewhere.path(), project.path("link")).unwrap();
    let run = project.pybuild(&["bundle"]).failure(2);
    assert!(
        run.stderr.contains("project.toml:4:10:") && run.stderr.contains("outside the project"),
        "{}",
        run.describe()
    );
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn a_dry_run_writes_nothing() {
    let project = Project::sample();
    let run = project.pybuild(&["clean", "--dry-run"]).success();
    assert!(
        !project.path(".pybuild").exists(),
        "clean --dry-run created .pybuild\n{}",
        run.describe()
    );
}

#[test]
fn the_build_after_clean_keeps_the_venv() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    project.write(".venv/kept.txt", "this venv was not made again");
    project.pybuild(&["clean"]).success();
    let run = project.pybuild(&["bundle"]).success();
    assert!(
        project.path(".venv/kept.txt").exists(),
        "clean made the next build recreate the venv\n{}",
        run.describe()
    );
    assert_eq!(
        project.exec("dist/greet.pex", &[]).success().stdout,
        crate::bundle::GREETING
    );
}

/// A product a real build recorded, whose directory was then replaced by a link out of the
/// project (a user pointing `dist/` at a shared folder): the file now at the recorded path
/// is the user's, and no form of `clean` may remove it. The same for a venv moved out and
/// linked back: `clean --all` removes the link, never what it points to.
#[test]
fn a_recorded_product_reached_through_a_link_is_never_removed() {
    let project = Project::sample();
    project.pybuild(&["bundle"]).success();
    let recorded = project.read(".pybuild/produced/bundle.json");
    assert!(recorded.contains("dist/greet.pex"), "{recorded}");

    let elsewhere = tempfile::tempdir().unwrap();
    let shared = elsewhere.path().join("shared-dist");
    fs::create_dir(&shared).unwrap();
    fs::write(shared.join("greet.pex"), "the user's own file").unwrap();
    fs::remove_dir_all(project.path("dist")).unwrap();
    symlink(&shared, project.path("dist")).unwrap();
    let venv = elsewhere.path().join("venv");
    fs::rename(project.path(".venv"), &venv).unwrap();
    symlink(&venv, project.path(".venv")).unwrap();

    // Each form of clean on the state the build left (a clean removes `.pybuild/`).
    let state = elsewhere.path().join("state");
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        let status = std::process::Command::new("cp")
            .arg("-a")
            .args([from, to])
            .status()
            .unwrap();
        assert!(status.success());
    };
    copy(&project.path(".pybuild"), &state);
    for args in [&["clean", "--dry-run"][..], &["clean"], &["clean", "--all"]] {
        if !project.path(".pybuild").exists() {
            copy(&state, &project.path(".pybuild"));
        }
        let run = project.pybuild(args).success();
        assert!(!run.stdout.contains("greet.pex"), "{}", run.describe());
        assert_eq!(
            fs::read_to_string(shared.join("greet.pex")).ok().as_deref(),
            Some("the user's own file"),
            "pybuild {args:?} removed a file outside the project\n{}",
            run.describe()
        );
        assert!(project.path("dist").is_symlink(), "{args:?}");
    }
    assert!(
        project.path(".venv").symlink_metadata().is_err(),
        "clean --all kept the venv's link"
    );
    assert!(
        venv.join("pyvenv.cfg").is_file(),
        "the linked venv was emptied"
    );
    assert!(
        venv.join("bin/python").exists(),
        "the linked venv was emptied"
    );
}

#[test]
fn clean_removes_the_projects_store_and_leaves_the_one_its_checkouts_share() {
    let project = Project::sample();
    // pybuild's cache of this test's own, to see what clean leaves in it.
    let cache = tempfile::tempdir().unwrap();
    let own = [("PYBUILD_CACHE_DIR", cache.path().to_str().unwrap())];
    project.pybuild_with_env(&["bundle"], &own).success();
    let deps = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|name| name.starts_with("deps-"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let shared = cache.path().join("layers");
    let before = deps(&shared);
    assert_eq!(
        before.len(),
        2,
        "the layer and its hash are shared: {before:?}"
    );
    assert_eq!(deps(&project.path(".pybuild/layers")), before);
    let bytes: Vec<Vec<u8>> = before
        .iter()
        .map(|n| fs::read(shared.join(n)).unwrap())
        .collect();

    project.pybuild_with_env(&["clean"], &own).success();
    assert!(
        !project.path(".pybuild/layers").exists(),
        "the project's store is left"
    );
    assert_eq!(deps(&shared), before, "clean removed a shared entry");
    let after: Vec<Vec<u8>> = before
        .iter()
        .map(|n| fs::read(shared.join(n)).unwrap())
        .collect();
    assert!(after == bytes, "clean changed a shared entry");
}

/// A directory the user put where a bundle once was is theirs: `clean` names it and keeps
/// it, with what it holds (removing a recorded output removes a folder whole).
#[test]
fn a_folder_where_a_recorded_bundle_was_is_kept() {
    let project = built_looking_project();
    fs::remove_file(project.path("dist/greet.pex")).unwrap();
    project.write("dist/greet.pex/notes.txt", "mine");
    let run = project.pybuild(&["clean"]).success();
    assert!(
        run.stderr
            .contains("dist/greet.pex was built once but is now a directory: not removed"),
        "{}",
        run.describe()
    );
    assert_eq!(project.read("dist/greet.pex/notes.txt"), "mine");
}

/// What a killed build left half-written goes with `clean` (and `dist/`, left empty), and
/// stays with `clean --dry-run`, which removes nothing.
#[test]
fn a_dry_run_leaves_what_a_killed_build_left_and_clean_removes_it() {
    let project = built_looking_project();
    let leftover = project.path("dist/.pybuild-tmp-gone-1");
    fs::write(&leftover, "half a bundle").unwrap();
    let long_ago = filetime::FileTime::from_unix_time(1_000_000_000, 0);
    filetime::set_file_mtime(&leftover, long_ago).unwrap();
    let run = project.pybuild(&["clean", "--dry-run"]).success();
    assert!(leftover.exists(), "{}", run.describe());
    let run = project.pybuild(&["clean"]).success();
    assert!(!leftover.exists(), "{}", run.describe());
    // And the folder it leaves empty, pybuild's own.
    assert!(!project.path("dist").exists(), "{}", run.describe());
}
