//! Whether a path not listed yet would be an input: `watch` asks of each file or directory
//! created, or renamed into place, after
//! [`project_files`](crate::engine::fileset::project_files) ran, to tell a new input from a
//! tool's output without listing the project again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use globset::GlobSet;
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::exclusions::Exclusions;
use super::patterns::split_patterns;
use super::rules::Rules;

/// The listing's rules, applied to one path from the root down: the built-in exclusions on
/// every component of the path, a directory holding a `pyvenv.cfg`, `.gitignore` files (the
/// nearest with a say decides, an ignored directory hides all below it) and
/// `.git/info/exclude`, then `[bundle] sources`.
pub(crate) struct Admission {
    root: PathBuf,
    exclusions: Exclusions,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    /// Parsed `.gitignore` of each directory asked about (relative path, "" for the root).
    gitignores: HashMap<String, Option<Gitignore>>,
    info_exclude: Option<Option<Gitignore>>,
}

impl Admission {
    pub(crate) fn new(root: &Path, rules: &Rules) -> Result<Admission> {
        let (include, exclude) = split_patterns(&rules.sources)?;
        Ok(Admission {
            root: root.to_path_buf(),
            exclusions: Exclusions::new(rules),
            include,
            exclude,
            gitignores: HashMap::new(),
            info_exclude: None,
        })
    }

    /// Forgets the `.gitignore` files read so far (one of them changed).
    pub(crate) fn forget_gitignores(&mut self) {
        self.gitignores.clear();
        self.info_exclude = None;
    }

    /// Whether `rel` (a directory if `is_dir`) would be listed, or for a directory, walked.
    pub(crate) fn admits(&mut self, rel: &str, is_dir: bool) -> bool {
        let names: Vec<&str> = rel.split('/').collect();
        let mut parent = String::new();
        let mut ignored = false;
        for (i, name) in names.iter().enumerate() {
            let last = i + 1 == names.len();
            let dir = is_dir || !last;
            let path = if parent.is_empty() {
                name.to_string()
            } else {
                format!("{parent}/{name}")
            };
            let excluded = if dir {
                self.exclusions.dir(&parent, name, i + 1)
                    || self.root.join(&path).join("pyvenv.cfg").is_file()
            } else {
                self.exclusions.file(&path)
            };
            if excluded {
                return false;
            }
            ignored = ignored || self.ignored(&parent, &path, dir);
            parent = path;
        }
        let matches = |set: &Option<GlobSet>| set.as_ref().is_some_and(|set| set.is_match(rel));
        if matches(&self.exclude) {
            return false;
        }
        // An ignored directory may hold files that `sources` adds back.
        !ignored || (is_dir && self.include.is_some()) || matches(&self.include)
    }

    /// Whether `.gitignore` files in `parent` and above, or `.git/info/exclude`, ignore `path`.
    fn ignored(&mut self, parent: &str, path: &str, is_dir: bool) -> bool {
        let full = self.root.join(path);
        let mut dirs: Vec<&str> = vec![""];
        dirs.extend(
            parent
                .match_indices('/')
                .map(|(i, _)| &parent[..i])
                .chain((!parent.is_empty()).then_some(parent)),
        );
        for dir in dirs.into_iter().rev() {
            let root = &self.root;
            let gitignore = self.gitignores.entry(dir.to_string()).or_insert_with(|| {
                let dir = root.join(dir);
                let file = dir.join(".gitignore");
                file.is_file().then(|| parse_gitignore(&dir, &file))
            });
            if let Some(decided) = gitignore.as_ref().and_then(|g| decide(g, &full, is_dir)) {
                return decided;
            }
        }
        let root = &self.root;
        let info_exclude = self.info_exclude.get_or_insert_with(|| {
            let file = root.join(".git/info/exclude");
            file.is_file().then(|| parse_gitignore(root, &file))
        });
        info_exclude
            .as_ref()
            .and_then(|g| decide(g, &full, is_dir))
            .unwrap_or(false)
    }
}

fn parse_gitignore(dir: &Path, file: &Path) -> Gitignore {
    let mut builder = GitignoreBuilder::new(dir);
    // A malformed line is skipped, as git does (and as the listing does).
    let _ = builder.add(file);
    builder.build().unwrap_or_else(|_| Gitignore::empty())
}

/// `Some(true)` if ignored, `Some(false)` if whitelisted, `None` if `gitignore` has no say.
fn decide(gitignore: &Gitignore, path: &Path, is_dir: bool) -> Option<bool> {
    match gitignore.matched(path, is_dir) {
        Match::Ignore(_) => Some(true),
        Match::Whitelist(_) => Some(false),
        Match::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fileset::tests::{list, rules, tree};
    use std::fs;

    #[test]
    fn admission_agrees_with_the_listing() {
        let dir = tree(&[
            "src/app/__init__.py",
            "src/app/gen/x.py",
            "src/app/keep/x.py",
            "logs/today.log",
            "other-venv/pyvenv.cfg",
        ]);
        let root = dir.path();
        fs::write(root.join(".gitignore"), "logs/\n*.tmp\n").unwrap();
        fs::write(root.join("src/app/.gitignore"), "gen/\n!keep.tmp\n").unwrap();
        let rules = rules(&["src/app/gen/wanted.py"]);
        let mut admission = Admission::new(root, &rules).unwrap();
        for (rel, is_dir, listed) in [
            ("src/app/new.py", false, true),
            ("src/app/sub", true, true),
            ("src/app/save.tmp", false, false),
            ("src/app/keep.tmp", false, true),
            ("src/app/gen/other.py", false, false),
            ("src/app/gen/wanted.py", false, true),
            ("logs/more.log", false, false),
            ("dist/app.pex", false, false),
            ("build", true, false),
            ("docs/build", true, true),
            ("src/app/__pycache__", true, false),
            ("src/app.egg-info", true, false),
            (".venv", true, false),
            ("other-venv", true, false),
            ("out/app.pex", false, false),
            ("project.toml", false, false),
            ("src/app/.cli.py.swp", false, false),
            ("src/app/cli.py~", false, false),
            ("src/app/.#cli.py", false, false),
        ] {
            assert_eq!(admission.admits(rel, is_dir), listed, "{rel}");
        }
        // What the listing says of the files that exist.
        for rel in list(root, &rules) {
            assert!(admission.admits(&rel, false), "{rel}");
        }
    }
}
