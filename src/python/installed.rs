//! What is installed in a venv's site-packages, read without running Python: the
//! distributions there, whether an install left one incomplete, and the names that
//! requirement files and `Requires-Dist` ask for.
//!
//! An install interrupted by Ctrl-C or a kill can leave a `*.dist-info` whose files are
//! not all there (a `pex-*.dist-info` without `bin/pex`): pip and uv then call it
//! "already satisfied" forever. [`broken`] finds such distributions from their `RECORD`,
//! so the step that installs them can reinstall them instead of trusting them.

use std::fs;
use std::path::{Path, PathBuf};

/// PEP 503 normalisation, which also matches wheel's `_` escaping (the one normaliser,
/// re-exported for the callers that find it here).
pub(crate) use crate::base::distribution_name::normalize;

/// One installed distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dist {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) dist_info: PathBuf,
}

/// Every distribution in `site_packages`, by its `NAME-VERSION.dist-info` directory.
pub(crate) fn list(site_packages: &Path) -> Vec<Dist> {
    let Ok(entries) = fs::read_dir(site_packages) else {
        return Vec::new();
    };
    let mut dists: Vec<Dist> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let stem = path.file_name()?.to_str()?.strip_suffix(".dist-info")?;
            let (name, version) = stem.rsplit_once('-')?;
            Some(Dist {
                name: name.to_string(),
                version: version.to_string(),
                dist_info: path.clone(),
            })
        })
        .collect();
    dists.sort_by(|a, b| a.name.cmp(&b.name));
    dists
}

/// The distributions whose install is incomplete: no `RECORD`, or a file it lists (other
/// than compiled bytecode, which is written after the fact) is missing.
pub(crate) fn broken(site_packages: &Path) -> Vec<Dist> {
    list(site_packages)
        .into_iter()
        .filter(|dist| !is_complete(site_packages, &dist.dist_info))
        .collect()
}

fn is_complete(site_packages: &Path, dist_info: &Path) -> bool {
    let Ok(record) = fs::read_to_string(dist_info.join("RECORD")) else {
        return false;
    };
    record
        .lines()
        .filter_map(record_path)
        .filter(|path| !path.ends_with(".pyc"))
        .all(|path| site_packages.join(path).symlink_metadata().is_ok())
}

/// The path of a `RECORD` line (a CSV row: path, hash, size; the path may be quoted).
fn record_path(line: &str) -> Option<&str> {
    let path = match line.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?.0,
        None => line.split(',').next()?,
    };
    (!path.is_empty()).then_some(path)
}

/// The files a distribution's `RECORD` lists, as paths (relative ones joined to
/// `site_packages`).
pub(crate) fn recorded_files(site_packages: &Path, dist_info: &Path) -> Vec<PathBuf> {
    let record = fs::read_to_string(dist_info.join("RECORD")).unwrap_or_default();
    record
        .lines()
        .filter_map(record_path)
        .map(|path| site_packages.join(path))
        .collect()
}

/// The programs a distribution installed into the venv's `bin/`, by name: its console
/// scripts' wrappers and its plain scripts (setuptools' `scripts=`, `script-files`) alike.
pub(crate) fn bin_scripts(dist_info: &Path) -> Vec<String> {
    let record = fs::read_to_string(dist_info.join("RECORD")).unwrap_or_default();
    record
        .lines()
        .filter_map(record_path)
        // From `lib/pythonX.Y/site-packages`, where RECORD paths are relative to.
        .filter_map(|path| path.strip_prefix("../../../bin/"))
        .filter(|name| !name.contains('/'))
        .map(str::to_string)
        .collect()
}

/// The distribution of that name (PEP 503 normalised) among `dists`.
pub(crate) fn find<'a>(dists: &'a [Dist], name: &str) -> Option<&'a Dist> {
    let wanted = normalize(name);
    dists.iter().find(|dist| normalize(&dist.name) == wanted)
}

/// [`requirement_file_names`] of each of `files` (relative to `root`; an unreadable one
/// gives none: the install that reads it says why).
pub(crate) fn names_in_requirement_files(root: &Path, files: &[String]) -> Vec<String> {
    files
        .iter()
        .flat_map(|file| {
            let text = fs::read_to_string(root.join(file)).unwrap_or_default();
            requirement_file_names(&text)
        })
        .collect()
}

/// The names a requirement file asks for unconditionally: lines with an environment
/// marker, an option (`-r`, `-c`, `--hash` continuations), a URL or a path are skipped,
/// since only an installer can tell what they give.
pub(crate) fn requirement_file_names(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split(" #").next().unwrap_or(line).trim())
        .filter(|line| !line.is_empty() && !line.starts_with(['#', '-', '.', '/']))
        .filter(|line| !line.contains(';') && !line.contains("://") && !line.contains(" @ "))
        .filter_map(requirement_name)
        .collect()
}

/// The requirement lines of a requirement file, markers and extras kept, options (`-r`,
/// `-c`, `--hash`), URLs and paths left out: what an installer was asked for.
pub(crate) fn requirement_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let line = line.split(" #").next().unwrap_or(line);
            let line = line.split(" --").next().unwrap_or(line);
            line.trim().trim_end_matches('\\').trim()
        })
        .filter(|line| !line.is_empty() && !line.starts_with(['#', '-', '.', '/']))
        .filter(|line| !line.contains("://") || line.contains(" @ "))
        .map(String::from)
        .collect()
}

/// The first line of a requirement file that installs something no name can be read
/// from without building it: a path, an unnamed URL, an editable other than the project.
pub(crate) fn unnamed_requirement(text: &str) -> Option<&str> {
    let lines = text
        .lines()
        .map(|line| line.split(" #").next().unwrap_or(line).trim())
        .filter(|line| !line.starts_with('#'));
    lines.into_iter().find(|line| {
        let target = ["--editable", "-e"]
            .iter()
            .find_map(|option| line.strip_prefix(option))
            .map(|rest| rest.trim_start_matches('=').trim());
        match target {
            Some(target) => target != "." && !target.starts_with(".["),
            None => {
                line.starts_with(['.', '/']) && !line.starts_with(".[") && *line != "."
                    || (line.contains("://") && !line.contains(" @ ") && !line.starts_with('-'))
            }
        }
    })
}

/// The distribution name a requirement starts with (`six>=1 ; ...` → `six`).
pub(crate) fn requirement_name(requirement: &str) -> Option<String> {
    let name: String = requirement
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The `NAME-VERSION.dist-info` directory of an installed distribution.
pub(crate) fn dist_info(site_packages: &Path, name: &str) -> Option<PathBuf> {
    find(&list(site_packages), name).map(|dist| dist.dist_info.clone())
}

/// The installed version of a distribution, read from its dist-info directory's name.
pub(crate) fn installed_version(site_packages: &Path, name: &str) -> Option<String> {
    find(&list(site_packages), name).map(|dist| dist.version.clone())
}

/// The console scripts a distribution declares (`entry_points.txt`), in file order.
pub(crate) fn console_scripts(dist_info: &Path) -> Vec<(String, String)> {
    let Ok(text) = fs::read_to_string(dist_info.join("entry_points.txt")) else {
        return Vec::new();
    };
    let mut in_section = false;
    let mut scripts = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[console_scripts]";
        } else if in_section && let Some((name, target)) = line.split_once('=') {
            scripts.push((name.trim().to_string(), target.trim().to_string()));
        }
    }
    scripts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install(sp: &Path, name: &str, files: &[&str], written: &[&str]) {
        let dist_info = sp.join(format!("{name}.dist-info"));
        fs::create_dir_all(&dist_info).unwrap();
        let mut record = String::new();
        for file in files {
            record.push_str(&format!("{file},sha256=x,1\n"));
        }
        fs::write(dist_info.join("RECORD"), record).unwrap();
        for file in written {
            let path = sp.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x").unwrap();
        }
    }

    #[test]
    fn the_scripts_a_distribution_put_in_bin_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("lib/python3.11/site-packages");
        install(
            &sp,
            "app-1.0",
            &[
                "../../../bin/app",
                "\"../../../bin/app tool\"",
                "app/__init__.py",
                "../../../share/x/y",
            ],
            &[],
        );
        assert_eq!(
            bin_scripts(&sp.join("app-1.0.dist-info")),
            ["app", "app tool"]
        );
    }

    #[test]
    fn an_install_missing_a_recorded_file_or_its_record_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("lib/python3.11/site-packages");
        install(
            &sp,
            "six-1.16.0",
            &["six.py", "__pycache__/six.pyc"],
            &["six.py"],
        );
        install(
            &sp,
            "pex-2.1.0",
            &["pex/__init__.py", "../../../bin/pex"],
            &["pex/__init__.py"],
        );
        fs::create_dir_all(sp.join("click-8.1.3.dist-info")).unwrap();
        let broken: Vec<String> = broken(&sp).into_iter().map(|d| d.name).collect();
        assert_eq!(broken, ["click", "pex"]);
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        fs::write(dir.path().join("bin/pex"), "#!").unwrap();
        let broken: Vec<String> = super::broken(&sp).into_iter().map(|d| d.name).collect();
        assert_eq!(broken, ["click"]);
    }

    #[test]
    fn requirement_files_give_their_unconditional_names() {
        let text = "# pins\nclick==8.1.3 \\\n    --hash=sha256:abc\nsix>=1.16  # comment\n\
                    -r other.txt\n-c constraints.txt\ntomli; python_version < \"3.11\"\n\
                    ./local\nPyYAML[extra]~=6.0\npkg @ https://x/y.whl\n";
        assert_eq!(requirement_file_names(text), ["click", "six", "PyYAML"]);
        assert_eq!(
            requirement_lines(text),
            [
                "click==8.1.3",
                "six>=1.16",
                "tomli; python_version < \"3.11\"",
                "PyYAML[extra]~=6.0",
                "pkg @ https://x/y.whl"
            ]
        );
        assert_eq!(unnamed_requirement(text), Some("./local"));
        assert_eq!(
            unnamed_requirement("-e .[test]\nsix\npkg @ https://x\n"),
            None
        );
        assert_eq!(
            unnamed_requirement("-e ../shared-lib\n"),
            Some("-e ../shared-lib")
        );
        assert_eq!(
            unnamed_requirement("--index-url https://mirror/simple\nhttps://x/y.whl\n"),
            Some("https://x/y.whl")
        );
        let dists = [Dist {
            name: "PyYAML".into(),
            version: "6".into(),
            dist_info: PathBuf::new(),
        }];
        assert_eq!(find(&dists, "pyyaml"), Some(&dists[0]));
        assert_eq!(find(&dists, "yaml"), None);
    }

    #[test]
    fn finds_dist_info_by_normalised_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("legacy_tool-0.4.0.dist-info")).unwrap();
        fs::create_dir(dir.path().join("pex-2.105.2.dist-info")).unwrap();
        assert_eq!(
            installed_version(dir.path(), "Legacy-Tool").as_deref(),
            Some("0.4.0")
        );
        assert_eq!(
            installed_version(dir.path(), "pex").as_deref(),
            Some("2.105.2")
        );
        assert_eq!(installed_version(dir.path(), "pe"), None);
    }

    #[test]
    fn reads_console_scripts_section_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("entry_points.txt"),
            "[gui_scripts]\nx = a:b\n\n[console_scripts]\ngreet = greeter.cli:main\nother=o.p:q\n",
        )
        .unwrap();
        assert_eq!(
            console_scripts(dir.path()),
            vec![
                ("greet".to_string(), "greeter.cli:main".to_string()),
                ("other".to_string(), "o.p:q".to_string())
            ]
        );
    }
}
