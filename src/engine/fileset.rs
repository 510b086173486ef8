//! Which files of the project are inputs: the set the bundle is built from, and that
//! `develop` derives its top-level packages from ([`top_level`]).
//!
//! Every file under the root, minus build outputs and tool state that never belong in a
//! bundle (the built-in [`exclusions`], with what the language's layer says its tools
//! write, [`ToolFiles`], and directories holding its environment marker), minus
//! git-ignored files (the project's own `.gitignore` files, with or without a `.git`).
//! Directories are read through the [`Listing`] cache. `[bundle] sources` adjusts it
//! ([`patterns`]): `pattern` adds git-ignored files that match, `!pattern` removes files
//! that match. Paths are relative to the root, with `/` separators, sorted.
//!
//! A link among them is an input when it leads to a regular file (see `listing`), inside
//! the project, or outside it when `[bundle] external-links` allows it ([`links`]); one
//! not allowed is an error for the build ([`FileSet::refuse_external_links`]). What the
//! listing left out is reported to the user. `watch` asks the same rules of one new
//! path at a time ([`admission`]).

use std::collections::HashSet;
use std::path::Path;

use anyhow::Result;

use crate::engine::listing::{Filter, Listing};
use crate::engine::statcache::StatCache;
use exclusions::Exclusions;
use links::split_links;
use patterns::split_patterns;

pub(crate) mod admission;
mod exclusions;
mod links;
pub(crate) mod patterns;
mod rules;
mod set;
pub(crate) mod top_level;

pub(crate) use rules::{Rules, Scope, ToolFiles};
pub(crate) use set::FileSet;

/// The project's input files under `root`, read through `listing` (which remembers what
/// it read for the next call).
pub(crate) fn project_files(
    root: &Path,
    rules: &Rules,
    listing: &mut Listing,
    hashes: &mut StatCache,
) -> Result<FileSet> {
    let (include, exclude) = split_patterns(&rules.sources)?;
    let exclusions = Exclusions::new(rules);
    let exclude_dir = |parent: &str, name: &str, depth: usize| exclusions.dir(parent, name, depth);
    let exclude_file = |rel: &str| exclusions.file(rel);
    let mut filter = Filter {
        exclude_dir: &exclude_dir,
        exclude_file: &exclude_file,
        env_marker: rules.tool_files.env_marker,
        gitignore: true,
    };
    let mut listed = listing.list(root, &exclusions.digest(), &filter, hashes)?;
    if let Some(include) = include {
        filter.gitignore = false;
        let all = Listing::default().list(root, "", &filter, hashes)?;
        listed.add(all, |rel| include.is_match(rel));
    }
    if let Some(exclude) = exclude {
        listed.retain(|rel| !exclude.is_match(rel));
    }
    let (links, refused) = split_links(root, &rules.external_links, listed.links)?;
    if !refused.is_empty() {
        let refused_paths: HashSet<&str> = refused.iter().map(|l| l.path.as_str()).collect();
        listed
            .files
            .retain(|rel| !refused_paths.contains(rel.as_str()));
    }
    Ok(FileSet {
        files: listed.files,
        links,
        left_out: listed.left_out,
        refused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    // The helpers are shared with the tests of the submodules.

    pub(super) fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x").unwrap();
        }
        dir
    }

    pub(super) fn list(root: &Path, rules: &Rules) -> Vec<String> {
        file_set(root, rules).files
    }

    pub(super) fn file_set(root: &Path, rules: &Rules) -> FileSet {
        let mut listing = Listing::default();
        project_files(root, rules, &mut listing, &mut StatCache::default()).unwrap()
    }

    pub(super) fn age_dirs(root: &Path) {
        let old = filetime::FileTime::from_unix_time(1_000_000_000, 0);
        for entry in walkdir_all(root) {
            if entry.is_dir() {
                filetime::set_file_mtime(&entry, old).unwrap();
            }
        }
    }

    fn walkdir_all(root: &Path) -> Vec<PathBuf> {
        let mut all = vec![root.to_path_buf()];
        let mut i = 0;
        while i < all.len() {
            if all[i].is_dir() {
                let children: Vec<PathBuf> = fs::read_dir(&all[i])
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                all.extend(children);
            }
            i += 1;
        }
        all
    }

    pub(super) fn rules(sources: &[&str]) -> Rules {
        Rules {
            scope: None,
            venv: Some(".venv".into()),
            outputs: vec!["out/app.pex".into()],
            sources: sources.iter().map(|s| s.to_string()).collect(),
            external_links: Vec::new(),
            tool_files: crate::python::byproducts::tool_files(),
        }
    }

    #[test]
    fn unchanged_directories_are_not_read_again_and_changes_are_seen() {
        let dir = tree(&["src/app/__init__.py", "src/app/a.py", "src/app/sub/b.py"]);
        let root = dir.path();
        let (rules, mut listing, mut hashes) =
            (rules(&[]), Listing::default(), StatCache::default());
        let mut list = |listing: &mut Listing| {
            project_files(root, &rules, listing, &mut hashes)
                .unwrap()
                .files
        };
        age_dirs(root);
        let first = list(&mut listing);
        listing.mark_saved();
        assert_eq!(list(&mut listing), first);
        assert!(!listing.is_changed(), "nothing changed, nothing was read");

        fs::write(root.join("src/app/new.py"), "").unwrap();
        fs::remove_file(root.join("src/app/sub/b.py")).unwrap();
        fs::create_dir(root.join("src/app/fresh")).unwrap();
        fs::write(root.join("src/app/fresh/c.py"), "").unwrap();
        assert_eq!(
            list(&mut listing),
            vec![
                "src/app/__init__.py",
                "src/app/a.py",
                "src/app/fresh/c.py",
                "src/app/new.py"
            ]
        );

        // A .gitignore edit changes no directory's mtime, yet applies below it.
        age_dirs(root);
        list(&mut listing);
        fs::write(root.join(".gitignore"), "").unwrap();
        age_dirs(root);
        list(&mut listing);
        fs::write(root.join(".gitignore"), "a.py\n").unwrap();
        age_dirs(root);
        assert!(!list(&mut listing).contains(&"src/app/a.py".to_string()));

        // A directory that becomes a virtualenv stops being an input.
        fs::write(root.join("src/app/fresh/pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        assert!(
            !list(&mut listing)
                .iter()
                .any(|f| f.starts_with("src/app/fresh/"))
        );
    }

    #[test]
    fn gitignore_applies_and_sources_adjust() {
        let dir = tree(&[
            "app/__init__.py",
            "app/_version.py",
            "notes.txt",
            "tests/test_app.py",
        ]);
        fs::write(dir.path().join(".gitignore"), "_version.py\nnotes.txt\n").unwrap();
        let files = list(dir.path(), &rules(&[]));
        assert_eq!(
            files,
            vec![".gitignore", "app/__init__.py", "tests/test_app.py"]
        );
        let files = list(dir.path(), &rules(&["app/_version.py", "!tests/**"]));
        assert_eq!(
            files,
            vec![".gitignore", "app/__init__.py", "app/_version.py"]
        );
    }

    #[test]
    fn names_not_utf8_and_special_files_are_left_out_and_said_unless_ignored() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tree(&["app/__init__.py"]);
        let root = dir.path();
        let name = |bytes: &[u8]| root.join("app").join(std::ffi::OsStr::from_bytes(bytes));
        fs::write(name(b"caf\xe9.txt"), "x").unwrap();
        fs::write(name(b"caf\xe9.log"), "x").unwrap();
        fs::create_dir(name(b"d\xe9j\xe0")).unwrap();
        let socket = std::os::unix::net::UnixListener::bind(root.join("app/server.sock"));
        fs::write(root.join(".gitignore"), "*.log\n").unwrap();
        age_dirs(root);
        let mut listing = Listing::default();
        for _ in 0..2 {
            // The second time from the remembered listing.
            let set =
                project_files(root, &rules(&[]), &mut listing, &mut StatCache::default()).unwrap();
            assert_eq!(set.files, [".gitignore", "app/__init__.py"]);
            let said: Vec<String> = set.left_out.iter().map(|l| l.path.clone()).collect();
            assert_eq!(
                said,
                [
                    "app/caf\u{FFFD}.txt",
                    "app/d\u{FFFD}j\u{FFFD}",
                    "app/server.sock"
                ]
            );
            assert!(set.left_out[2].why.contains("a socket"));
        }
        drop(socket);
    }
}
