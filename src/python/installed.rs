//! What is installed in a venv's site-packages, read without running Python: the
//! distributions there (one listing of the folder), and what each one's dist-info says
//! (`RECORD`, `METADATA`, `entry_points.txt`), each file read once, when first asked for.
//! `python::env` holds one such listing per venv state.
//!
//! An install interrupted by Ctrl-C or a kill can leave a `*.dist-info` whose files are
//! not all there (a `pex-*.dist-info` without `bin/pex`): pip and uv then call it
//! "already satisfied" forever. [`Dist::is_complete`] finds such distributions from their
//! `RECORD`, so the step that installs them can reinstall them instead of trusting them.

use std::cell::OnceCell;
use std::fs;
use std::path::{Path, PathBuf};

use crate::engine::statcache::hash_bytes;
use crate::python::requirement::Requirement;

/// PEP 503 normalisation, which also matches wheel's `_` escaping (the one normaliser,
/// re-exported for the callers that find it here).
pub(crate) use crate::base::distribution_name::normalize;

/// One installed distribution. Its dist-info's files are read when first asked for, once.
#[derive(Debug, Clone)]
pub(crate) struct Dist {
    /// As the dist-info folder spells it.
    pub(crate) name: String,
    /// `name`, PEP 503 normalised.
    pub(crate) key: String,
    pub(crate) version: String,
    pub(crate) dist_info: PathBuf,
    record: OnceCell<Option<String>>,
    metadata: OnceCell<Option<String>>,
    console_scripts: OnceCell<Vec<(String, String)>>,
}

impl Dist {
    fn new(name: &str, version: &str, dist_info: PathBuf) -> Dist {
        Dist {
            name: name.to_string(),
            key: normalize(name),
            version: version.to_string(),
            dist_info,
            record: OnceCell::new(),
            metadata: OnceCell::new(),
            console_scripts: OnceCell::new(),
        }
    }

    /// Its `RECORD`, if it has one.
    pub(crate) fn record(&self) -> Option<&str> {
        self.record
            .get_or_init(|| fs::read_to_string(self.dist_info.join("RECORD")).ok())
            .as_deref()
    }

    /// The paths its `RECORD` lists, as written (relative to site-packages, or `../`).
    pub(crate) fn recorded_paths(&self) -> impl Iterator<Item = &str> {
        self.record()
            .unwrap_or_default()
            .lines()
            .filter_map(record_path)
    }

    /// The files its `RECORD` lists, relative ones joined to `site_packages`.
    pub(crate) fn recorded_files(&self, site_packages: &Path) -> Vec<PathBuf> {
        self.recorded_paths()
            .map(|path| site_packages.join(path))
            .collect()
    }

    /// What its files are, as one digest: its `RECORD`'s lines (each file's path, hash and
    /// size) for files inside site-packages, sorted (the order installers write them in
    /// is theirs); the scripts outside (`../../../bin/...`) are left out, as their `#!`
    /// names the venv's path. Empty when there is no `RECORD`. Two venvs with the same
    /// distributions built from the same sources have the same digests.
    pub(crate) fn record_digest(&self) -> String {
        let Some(record) = self.record() else {
            return String::new();
        };
        let mut lines: Vec<&str> = record.lines().filter(|l| !l.starts_with("../")).collect();
        lines.sort_unstable();
        hash_bytes(lines.join("\n").as_bytes())
    }

    /// Its `METADATA`, if readable.
    pub(crate) fn metadata(&self) -> Option<&str> {
        self.metadata
            .get_or_init(|| fs::read_to_string(self.dist_info.join("METADATA")).ok())
            .as_deref()
    }

    /// The `Requires-Dist` of its `METADATA` that apply without extras (see
    /// [`requires`]).
    pub(crate) fn requires(&self) -> Vec<String> {
        self.metadata().map(requires).unwrap_or_default()
    }

    /// The top-level names it lists in `top_level.txt` (setuptools writes one; hatchling
    /// and uv_build do not), in file order.
    pub(crate) fn top_level(&self) -> Vec<String> {
        let text = fs::read_to_string(self.dist_info.join("top_level.txt")).unwrap_or_default();
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The console scripts it declares (`entry_points.txt`), in file order.
    pub(crate) fn console_scripts(&self) -> &[(String, String)] {
        self.console_scripts.get_or_init(|| {
            fs::read_to_string(self.dist_info.join("entry_points.txt"))
                .map(|text| console_scripts(&text))
                .unwrap_or_default()
        })
    }

    /// The entry point groups it declares besides scripts (`[myapp.plugins]` in
    /// `entry_points.txt`): how plugins make themselves known to an application.
    pub(crate) fn plugin_groups(&self) -> Vec<String> {
        let text = fs::read_to_string(self.dist_info.join("entry_points.txt")).unwrap_or_default();
        text.lines()
            .filter_map(|line| line.trim().strip_prefix('[')?.strip_suffix(']'))
            .filter(|group| !matches!(*group, "console_scripts" | "gui_scripts"))
            .map(str::to_string)
            .collect()
    }

    /// The programs it installed into the venv's `bin/`, by name: its console scripts'
    /// wrappers and its plain scripts (setuptools' `scripts=`, `script-files`) alike.
    pub(crate) fn bin_scripts(&self) -> Vec<String> {
        self.recorded_paths()
            // From `lib/pythonX.Y/site-packages`, where RECORD paths are relative to.
            .filter_map(|path| path.strip_prefix("../../../bin/"))
            .filter(|name| !name.contains('/'))
            .map(str::to_string)
            .collect()
    }

    /// Whether its install is complete: a `RECORD`, and every file it lists (but compiled
    /// bytecode, which is written after the fact) there.
    pub(crate) fn is_complete(&self, site_packages: &Path) -> bool {
        self.record().is_some()
            && self
                .recorded_paths()
                .filter(|path| !path.ends_with(".pyc"))
                .all(|path| site_packages.join(path).symlink_metadata().is_ok())
    }
}

/// Every distribution in `site_packages`, by its `NAME-VERSION.dist-info` directory,
/// sorted by name: one listing of the folder.
pub(crate) fn list(site_packages: &Path) -> Vec<Dist> {
    let Ok(entries) = fs::read_dir(site_packages) else {
        return Vec::new();
    };
    let mut dists: Vec<Dist> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let stem = path.file_name()?.to_str()?.strip_suffix(".dist-info")?;
            let (name, version) = stem.rsplit_once('-')?;
            Some(Dist::new(name, version, path.clone()))
        })
        .collect();
    dists.sort_by(|a, b| a.name.cmp(&b.name));
    dists
}

/// The path of a `RECORD` line (a CSV row: path, hash, size; the path may be quoted).
fn record_path(line: &str) -> Option<&str> {
    let path = match line.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?.0,
        None => line.split(',').next()?,
    };
    (!path.is_empty()).then_some(path)
}

/// The distribution of that name (PEP 503 normalised) among `dists`.
pub(crate) fn find<'a>(dists: &'a [Dist], name: &str) -> Option<&'a Dist> {
    let wanted = normalize(name);
    dists.iter().find(|dist| dist.key == wanted)
}

/// The `NAME-VERSION.dist-info` directory of a distribution installed in `site_packages`,
/// for a caller that has no `Env` (a fetched bundle's check).
pub(crate) fn dist_info(site_packages: &Path, name: &str) -> Option<PathBuf> {
    find(&list(site_packages), name).map(|dist| dist.dist_info.clone())
}

/// The `Requires-Dist` values of a METADATA file, minus those only an extra asks for.
pub(crate) fn requires(metadata: &str) -> Vec<String> {
    requires_dist(metadata)
        .filter(|text| Requirement::parse(text).is_some_and(|r| r.applies_without_extras()))
        .map(str::to_string)
        .collect()
}

/// Every `Requires-Dist` value of a METADATA file, in file order.
pub(crate) fn requires_dist(metadata: &str) -> impl Iterator<Item = &str> {
    metadata
        .lines()
        // The headers end at the first empty line; the description follows. A line of
        // spaces continues a header (a multi-line `License:`), it does not end them.
        .take_while(|line| !line.trim_end_matches('\r').is_empty())
        .filter_map(|line| line.strip_prefix("Requires-Dist:"))
        .map(str::trim)
}

/// The `[console_scripts]` of an `entry_points.txt`, in file order.
fn console_scripts(text: &str) -> Vec<(String, String)> {
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

    fn only(sp: &Path) -> Dist {
        list(sp).remove(0)
    }

    #[test]
    fn top_level_txt_names_each_line_but_blank_ones() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("lib/python3.11/site-packages");
        install(&sp, "greeter-1.0", &[], &[]);
        assert!(only(&sp).top_level().is_empty());
        fs::write(
            sp.join("greeter-1.0.dist-info/top_level.txt"),
            "greeter\n\n  helpers \n",
        )
        .unwrap();
        assert_eq!(only(&sp).top_level(), ["greeter", "helpers"]);
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
        assert_eq!(only(&sp).bin_scripts(), ["app", "app tool"]);
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
        let broken = |sp: &Path| -> Vec<String> {
            list(sp)
                .into_iter()
                .filter(|d| !d.is_complete(sp))
                .map(|d| d.name)
                .collect()
        };
        assert_eq!(broken(&sp), ["click", "pex"]);
        fs::create_dir_all(dir.path().join("bin")).unwrap();
        fs::write(dir.path().join("bin/pex"), "#!").unwrap();
        assert_eq!(broken(&sp), ["click"]);
    }

    #[test]
    fn the_record_digest_is_of_the_files_inside_site_packages_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path();
        install(
            sp,
            "six-1.16.0",
            &["six.py", "../../../bin/six", "a.py"],
            &[],
        );
        let digest = only(sp).record_digest();
        assert_eq!(digest.len(), 32);
        install(
            sp,
            "six-1.16.0",
            &["a.py", "six.py", "../../../bin/other"],
            &[],
        );
        assert_eq!(only(sp).record_digest(), digest);
        install(sp, "six-1.16.0", &["a.py", "six2.py"], &[]);
        assert_ne!(only(sp).record_digest(), digest);
        fs::remove_file(sp.join("six-1.16.0.dist-info/RECORD")).unwrap();
        assert_eq!(only(sp).record_digest(), "");
    }

    #[test]
    fn finds_dists_by_normalised_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("legacy_tool-0.4.0.dist-info")).unwrap();
        fs::create_dir(dir.path().join("PyYAML-6.0.dist-info")).unwrap();
        fs::create_dir(dir.path().join("pex-2.105.2.dist-info")).unwrap();
        let dists = list(dir.path());
        let version = |name: &str| find(&dists, name).map(|d| d.version.as_str());
        assert_eq!(version("Legacy-Tool"), Some("0.4.0"));
        assert_eq!(version("pyyaml"), Some("6.0"));
        assert_eq!(version("pex"), Some("2.105.2"));
        assert_eq!(version("pe"), None);
        assert_eq!(find(&dists, "pyyaml").unwrap().key, "pyyaml");
    }

    #[test]
    fn reads_console_scripts_section_only() {
        let dir = tempfile::tempdir().unwrap();
        let dist_info = dir.path().join("app-1.0.dist-info");
        fs::create_dir(&dist_info).unwrap();
        fs::write(
            dist_info.join("entry_points.txt"),
            "[gui_scripts]\nx = a:b\n\n[console_scripts]\ngreet = greeter.cli:main\nother=o.p:q\n",
        )
        .unwrap();
        assert_eq!(
            only(dir.path()).console_scripts(),
            [
                ("greet".to_string(), "greeter.cli:main".to_string()),
                ("other".to_string(), "o.p:q".to_string())
            ]
        );
    }

    #[test]
    fn requires_skips_extras_and_the_description() {
        let metadata = "Metadata-Version: 2.4\nName: app\nRequires-Dist: six\n\
             Requires-Dist: tomli; python_version < \"3.11\"\n\
             License: MIT\n        \n        Copyright (c) someone\n\
             Requires-Dist: click\n\
             Requires-Dist: pytest; extra == \"test\"\n\nRequires-Dist: not-a-header\n";
        assert_eq!(
            requires(metadata),
            ["six", "tomli; python_version < \"3.11\"", "click"]
        );
    }
}
