//! Which files of the project are inputs: the set the bundle is built from, and that
//! `develop` derives its top-level packages from.
//!
//! Every file under the root, minus build outputs and tool state that never belong in a
//! bundle ([`EXCLUDED_DIRS`], [`EXCLUDED_TOP_DIRS`], [`is_excluded_file`], directories holding
//! a `pyvenv.cfg`, editors' swap and backup files), minus git-ignored
//! files (the project's own `.gitignore` files, with or without a `.git`), minus pybuild's
//! own `project.toml` (what steps use of it is in their fingerprints). Directories are
//! read through the [`Listing`] cache. `[bundle]
//! sources` adjusts it: `pattern` adds git-ignored files that match, `!pattern` removes
//! files that match. Paths are relative to the root, with `/` separators, sorted.
//!
//! A link among them is an input when it leads to a regular file (see `listing`), inside
//! the project, or outside it when `[bundle] external-links` allows it: a link out of the
//! project that is not allowed is no input, and an error for the build
//! ([`FileSet::refuse_external_links`]), since a bundle would ship whatever it leads to (a
//! key in the home directory). What the listing left out is reported to the user.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::base::error::UserError;
use crate::engine::listing::{Filter, LeftOut, Link, Listing};
use crate::engine::statcache::StatCache;

/// What to leave out besides the built-in exclusions.
pub(crate) struct Rules {
    /// The venv, if it is inside the project.
    pub(crate) venv: Option<PathBuf>,
    /// The bundle output and its manifest, relative to the root.
    pub(crate) outputs: Vec<PathBuf>,
    /// `[bundle] sources`.
    pub(crate) sources: Vec<String>,
    /// `[bundle] external-links`.
    pub(crate) external_links: Vec<String>,
}

/// The project's input files, and what the user should hear about them.
#[derive(Debug)]
pub(crate) struct FileSet {
    /// Relative, `/`-separated, sorted.
    pub(crate) files: Vec<String>,
    /// The inputs that are links, with the files they lead to.
    pub(crate) links: Vec<Link>,
    /// What the rules keep but cannot be an input: a named pipe, a name not UTF-8.
    pub(crate) left_out: Vec<LeftOut>,
    /// Links out of the project that `external-links` does not allow: not inputs.
    refused: Vec<Link>,
}

impl FileSet {
    /// An error naming the links out of the project that `[bundle] external-links` does not
    /// allow. Not silently left out either: the bundle would lack a file the project has.
    pub(crate) fn refuse_external_links(&self) -> Result<(), UserError> {
        let Some(first) = self.refused.first() else {
            return Ok(());
        };
        let mut message = format!(
            "{} links to {}, outside the project",
            first.path,
            first.target.display()
        );
        if let [_, more @ ..] = self.refused.as_slice()
            && !more.is_empty()
        {
            let names: Vec<&str> = more.iter().map(|link| link.path.as_str()).collect();
            message.push_str(&format!(" (and so do {})", names.join(", ")));
        }
        Err(UserError::usage(message)
            .hint(format!(
                "to bundle what it leads to, allow it in project.toml: `[bundle] external-links = [\"{}\"]`",
                first.path
            ))
            .hint(format!(
                "otherwise remove the link, or leave it out of the inputs (`[bundle] sources = [\"!{}\"]`, or .gitignore)",
                first.path
            )))
    }
}

const EXCLUDED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".pybuild",
    "__pycache__",
    ".eggs",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
];

/// Directories excluded only at the top: setuptools' and the bundlers' outputs.
const EXCLUDED_TOP_DIRS: &[&str] = &["build", "dist"];

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
        gitignore: true,
    };
    let digest = format!(
        "{:?} {:?} {EXCLUDED_DIRS:?} {EXCLUDED_TOP_DIRS:?} {EDITOR_FILES}",
        exclusions.venv, rules.outputs
    );
    let mut listed = listing.list(root, &digest, &filter, hashes)?;
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

/// `links` as (those that are inputs: inside the project, or out of it as `external_links`
/// allows; those refused).
fn split_links(
    root: &Path,
    external_links: &[String],
    links: Vec<Link>,
) -> Result<(Vec<Link>, Vec<Link>)> {
    if links.is_empty() {
        return Ok((links, Vec::new()));
    }
    let real_root =
        fs::canonicalize(root).with_context(|| format!("cannot resolve {}", root.display()))?;
    let mut allowed = GlobSetBuilder::new();
    for pattern in external_links {
        allowed.add(Glob::new(pattern).with_context(|| format!("bad glob `{pattern}`"))?);
    }
    let allowed = allowed.build()?;
    Ok(links
        .into_iter()
        .partition(|link| link.target.starts_with(&real_root) || allowed.is_match(&link.path)))
}

/// The built-in exclusions, decided per entry as a directory is read.
struct Exclusions {
    venv: Option<String>,
    outputs: Vec<PathBuf>,
}

impl Exclusions {
    fn new(rules: &Rules) -> Exclusions {
        Exclusions {
            venv: rules.venv.as_deref().map(normal_path),
            outputs: rules.outputs.clone(),
        }
    }

    /// Whether the directory `name` in `parent` (at `depth`, 1 for the root's entries) is
    /// left out.
    fn dir(&self, parent: &str, name: &str, depth: usize) -> bool {
        EXCLUDED_DIRS.contains(&name)
            || name.ends_with(".egg-info")
            || (depth == 1 && EXCLUDED_TOP_DIRS.contains(&name))
            || self
                .venv
                .as_deref()
                .is_some_and(|venv| is_child(venv, parent, name))
    }

    fn file(&self, rel: &str) -> bool {
        is_excluded_file(rel, &self.outputs)
    }
}

/// Tells whether a path that was not listed would be: a file or directory created, or
/// renamed into place, after [`project_files`] ran (`watch` asks, to tell a new input
/// from a tool's output). Same rules: the built-in exclusions on every component of the
/// path, a directory holding a `pyvenv.cfg`, `.gitignore` files (the nearest with a say
/// decides, an ignored directory hides all below it) and `.git/info/exclude`, then
/// `[bundle] sources`.
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

/// A relative path as `/`-separated normal components (`./.venv` → `.venv`).
fn normal_path(path: &Path) -> String {
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Whether `path` is `parent/name` (or `name` at the root).
fn is_child(path: &str, parent: &str, name: &str) -> bool {
    match path.strip_suffix(name) {
        Some("") => parent.is_empty(),
        Some(prefix) => prefix.strip_suffix('/') == Some(parent),
        None => false,
    }
}

/// The top-level importable names the files provide (`pkg` for `src/pkg/x.py` or
/// `pkg/x.py`, `mod` for `mod.py`): adding or removing one needs a new editable install.
pub(crate) fn top_level_names(files: &[String]) -> BTreeSet<String> {
    files
        .iter()
        .filter(|f| f.ends_with(".py"))
        .filter_map(|f| {
            let rel = f.strip_prefix("src/").unwrap_or(f);
            let first = rel.split('/').next()?;
            let name = first.strip_suffix(".py").unwrap_or(first);
            let importable = name.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            importable.then(|| name.to_string())
        })
        .collect()
}

/// `patterns` as (the `pattern`s, the `!pattern`s), each `None` when there is none.
pub(crate) fn split_patterns(patterns: &[String]) -> Result<(Option<GlobSet>, Option<GlobSet>)> {
    let mut include = GlobSetBuilder::new();
    let mut exclude = GlobSetBuilder::new();
    let (mut any_include, mut any_exclude) = (false, false);
    for pattern in patterns {
        let (builder, any, glob) = match pattern.strip_prefix('!') {
            Some(glob) => (&mut exclude, &mut any_exclude, glob),
            None => (&mut include, &mut any_include, pattern.as_str()),
        };
        builder.add(Glob::new(glob).with_context(|| format!("bad glob `{pattern}`"))?);
        *any = true;
    }
    let build = |builder: GlobSetBuilder, any: bool| -> Result<Option<GlobSet>> {
        Ok(if any { Some(builder.build()?) } else { None })
    };
    Ok((build(include, any_include)?, build(exclude, any_exclude)?))
}

fn is_excluded_file(rel: &str, outputs: &[PathBuf]) -> bool {
    // pybuild's own configuration: the sections a step uses are part of its fingerprint,
    // so editing another section (adding a dev tool) must not rebuild the bundle.
    rel == crate::base::config::FILE_NAME
        || rel.ends_with(".pyc")
        || rel.ends_with(".pyo")
        || is_editor_file(rel.rsplit('/').next().unwrap_or(rel))
        || outputs.iter().any(|o| Path::new(rel) == o)
}

/// Editors' swap, backup and lock files (vim's `.x.py.swp` and `x.py~`, emacs' `.#x.py`
/// and `#x.py#`): never part of an application, and rewritten as the user types, which
/// `watch` would otherwise take for edits. Which names these are is part of the listing's
/// rules digest.
const EDITOR_FILES: &str = "*.swp *.swo *.swx *~ .#* #*#";

fn is_editor_file(name: &str) -> bool {
    [".swp", ".swo", ".swx", "~"]
        .iter()
        .any(|end| name.ends_with(end))
        || name.starts_with(".#")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x").unwrap();
        }
        dir
    }

    fn list(root: &Path, rules: &Rules) -> Vec<String> {
        file_set(root, rules).files
    }

    fn file_set(root: &Path, rules: &Rules) -> FileSet {
        let mut listing = Listing::default();
        project_files(root, rules, &mut listing, &mut StatCache::default()).unwrap()
    }

    /// Sets every directory's mtime well in the past, so listings are not racy.
    fn age_dirs(root: &Path) {
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
    fn venv_path_is_matched_by_its_components() {
        assert!(is_child(".venv", "", ".venv"));
        assert!(is_child("envs/dev", "envs", "dev"));
        assert!(!is_child("envs/dev", "", "dev"));
        assert!(!is_child("xdev", "", "dev"));
        assert_eq!(normal_path(Path::new("./envs/dev/")), "envs/dev");
    }

    fn rules(sources: &[&str]) -> Rules {
        Rules {
            venv: Some(".venv".into()),
            outputs: vec!["out/app.pex".into()],
            sources: sources.iter().map(|s| s.to_string()).collect(),
            external_links: Vec::new(),
        }
    }

    #[test]
    fn build_outputs_and_tool_state_are_not_inputs() {
        let dir = tree(&[
            "setup.py",
            "project.toml",
            "src/app/__init__.py",
            "src/app/__pycache__/x.pyc",
            "src/app.egg-info/SOURCES.txt",
            "build/lib/app/__init__.py",
            "dist/app.pex",
            "out/app.pex",
            ".venv/bin/python",
            "other-venv/pyvenv.cfg",
            ".pybuild/state.json",
            ".git/HEAD",
            "docs/build/index.txt",
        ]);
        let files = list(dir.path(), &rules(&[]));
        assert_eq!(
            files,
            vec!["docs/build/index.txt", "setup.py", "src/app/__init__.py"]
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

    #[test]
    fn links_are_inputs_inside_the_project_and_refused_outside_unless_allowed() {
        use std::os::unix::fs::symlink;
        let outside = tree(&["id_rsa", "vendored/lib.py"]);
        let dir = tree(&["app/__init__.py", "app/words.py"]);
        let root = dir.path();
        symlink("words.py", root.join("app/alias.py")).unwrap();
        symlink(outside.path().join("id_rsa"), root.join("key.txt")).unwrap();
        symlink(
            outside.path().join("vendored/lib.py"),
            root.join("app/lib.py"),
        )
        .unwrap();
        symlink("gone.py", root.join("app/dangling.py")).unwrap();
        symlink("app", root.join("app-link")).unwrap();

        let set = file_set(root, &rules(&[]));
        assert_eq!(
            set.files,
            ["app/__init__.py", "app/alias.py", "app/words.py"]
        );
        assert_eq!(set.links.len(), 1);
        assert_eq!(
            set.links[0].target,
            root.canonicalize().unwrap().join("app/words.py")
        );
        let err = set.refuse_external_links().unwrap_err();
        assert!(err.usage);
        assert!(
            err.message.starts_with("app/lib.py links to "),
            "{}",
            err.message
        );
        assert!(
            err.message.ends_with("(and so do key.txt)"),
            "{}",
            err.message
        );
        assert!(err.hints[0].contains("external-links = [\"app/lib.py\"]"));

        let mut allowing = rules(&[]);
        allowing.external_links = vec!["app/*.py".into()];
        let set = file_set(root, &allowing);
        assert!(set.files.contains(&"app/lib.py".to_string()));
        assert!(!set.files.contains(&"key.txt".to_string()));
        assert!(
            set.refuse_external_links().is_err(),
            "key.txt is still refused"
        );
        allowing.external_links.push("key.txt".into());
        file_set(root, &allowing).refuse_external_links().unwrap();
    }

    #[test]
    fn links_are_followed_again_when_their_directory_is_not_read() {
        use std::os::unix::fs::symlink;
        let dir = tree(&["app/__init__.py", "store/extra.txt"]);
        let root = dir.path();
        symlink("../store/extra.txt", root.join("app/extra.txt")).unwrap();
        age_dirs(root);
        let (rules, mut listing, mut hashes) =
            (rules(&[]), Listing::default(), StatCache::default());
        let mut list =
            |listing: &mut Listing| project_files(root, &rules, listing, &mut hashes).unwrap();
        assert!(list(&mut listing).files.contains(&"app/extra.txt".into()));
        listing.mark_saved();

        fs::remove_file(root.join("store/extra.txt")).unwrap();
        let set = list(&mut listing);
        assert!(!set.files.contains(&"app/extra.txt".into()));
        assert!(
            set.left_out.is_empty(),
            "a link to nothing is a deleted file"
        );

        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("store/extra.txt"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let set = list(&mut listing);
        assert!(!set.files.contains(&"app/extra.txt".into()));
        let said: Vec<String> = set.left_out.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(
            said[0]
                .starts_with("app/extra.txt is left out of the inputs: it links to a named pipe"),
            "{said:?}"
        );
        assert_eq!(
            said[1],
            "store/extra.txt is left out of the inputs: it is a named pipe, not a regular file"
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

    #[test]
    fn top_level_names_cover_src_and_flat_layouts() {
        let files: Vec<String> = [
            "src/app/cli.py",
            "src/app/sub/x.py",
            "tool.py",
            "README.md",
            "clicker/app.py",
            "my-scripts/run.py",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let names: Vec<String> = top_level_names(&files).into_iter().collect();
        assert_eq!(names, vec!["app", "clicker", "tool"]);
    }
}
