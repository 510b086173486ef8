//! Listing the project's files, remembering each directory's listing so that a build reads
//! no directory whose entries did not change (git's "untracked cache", for the same reason:
//! on a large tree, reading every directory is most of a no-op's cost).
//!
//! A directory's entries change only with its own stat data (adding, removing or renaming
//! an entry updates its mtime and ctime), so its remembered listing is reused when:
//! - its stat data is equal to the one recorded, and not racy (its mtime is at least
//!   [`RACY_WINDOW_NS`] older than the listing, as for files in `statcache`);
//! - its `.gitignore` has the same content, and no ancestor's `.gitignore` changed;
//! - the rules are the same ([`Listing::list`]'s `rules` digest: the exclusions and the
//!   repository's `.git/info/exclude`).
//!
//! Otherwise it is read again. What is kept or left out is decided by `fileset`'s rules:
//! `exclude_dir` (by name and depth), `exclude_file`, and `.gitignore` files when asked.
//!
//! Only regular files are listed. A symbolic link is followed again by every listing,
//! cached directory or not, since what it leads to can change (be deleted, become a named
//! pipe) while its directory does not: a link to a regular file is listed, with the real
//! path of that file ([`Link`]); a link to a directory is not walked; a link to nothing is
//! not listed, as a deleted file. What is left out although the rules keep it, named pipes,
//! sockets and devices (or links to them), names that are not UTF-8 (paths are strings
//! everywhere, from the fingerprints to `project.toml`) and directories too deep to walk
//! ([`MAX_DEPTH`] folders, or a path near the system's limit), is reported ([`LeftOut`]) by
//! every listing, so that the user hears of it.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::{Deserialize, Serialize};

use crate::engine::statcache::{FileStat, Hash, RACY_WINDOW_NS, StatCache, now_ns};

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Listing {
    rules: Hash,
    dirs: HashMap<String, Dir>,
    #[serde(skip)]
    changed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Dir {
    stat: FileStat,
    listed_at_ns: i64,
    gitignore: Option<Hash>,
    /// Kept file names, and the names of subdirectories to descend into.
    files: Vec<String>,
    subdirs: Vec<String>,
    /// Kept symbolic links, followed by every listing.
    links: Vec<String>,
    /// Kept entries that cannot be listed: (name, shown lossily; why).
    left_out: Vec<(String, String)>,
    /// It holds the filter's environment marker: an environment, never an input.
    venv: bool,
}

/// What [`Listing::list`] found.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    /// Regular files and links to regular files, relative, `/`-separated, sorted.
    pub(crate) files: Vec<String>,
    /// The links among `files`, sorted.
    pub(crate) links: Vec<Link>,
    /// What the rules keep but the listing cannot, sorted.
    pub(crate) left_out: Vec<LeftOut>,
}

/// A listed file that is a symbolic link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) path: String,
    /// The real path of the file it leads to, through every link on the way.
    pub(crate) target: PathBuf,
}

/// An entry left out of the listing that the rules keep, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeftOut {
    pub(crate) path: String,
    pub(crate) why: String,
}

impl fmt::Display for LeftOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is left out of the inputs: {}", self.path, self.why)
    }
}

impl Listed {
    /// Adds what `other` found at the paths that `keep` accepts.
    pub(crate) fn add(&mut self, other: Listed, keep: impl Fn(&str) -> bool) {
        self.files
            .extend(other.files.into_iter().filter(|path| keep(path)));
        self.links
            .extend(other.links.into_iter().filter(|link| keep(&link.path)));
        self.left_out
            .extend(other.left_out.into_iter().filter(|l| keep(&l.path)));
        self.files.sort_unstable();
        self.files.dedup();
        self.links.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        self.links.dedup();
        self.left_out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        self.left_out.dedup();
    }

    /// Keeps only the paths that `keep` accepts.
    pub(crate) fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.files.retain(|path| keep(path));
        self.links.retain(|link| keep(&link.path));
        self.left_out.retain(|l| keep(&l.path));
    }
}

/// What to leave out, decided per entry.
pub(crate) struct Filter<'a> {
    /// `(relative dir path, name, depth)` → leave the directory out.
    pub(crate) exclude_dir: &'a dyn Fn(&str, &str, usize) -> bool,
    /// Relative file path → leave the file out.
    pub(crate) exclude_file: &'a dyn Fn(&str) -> bool,
    /// A file that makes the directory holding it (below the root) an environment, left
    /// out whole (`pyvenv.cfg`, which the engine is told of, not knows).
    pub(crate) env_marker: Option<&'a str>,
    /// Honour `.gitignore` files and `.git/info/exclude`.
    pub(crate) gitignore: bool,
}

impl Listing {
    pub(crate) fn is_changed(&self) -> bool {
        self.changed
    }

    pub(crate) fn mark_saved(&mut self) {
        self.changed = false;
    }

    /// The directories the last [`Listing::list`] walked into (relative, "" for the root),
    /// virtualenvs left out.
    pub(crate) fn dirs(&self) -> impl Iterator<Item = &str> {
        self.dirs
            .iter()
            .filter(|(_, dir)| !dir.venv)
            .map(|(rel, _)| rel.as_str())
    }

    /// Every file under `root` that `filter` keeps. `rules` is a digest of whatever else
    /// decides the filter's answers.
    pub(crate) fn list(
        &mut self,
        root: &Path,
        rules: &str,
        filter: &Filter,
        hashes: &mut StatCache,
    ) -> Result<Listed> {
        let exclude = root.join(".git/info/exclude");
        let exclude_hash = if filter.gitignore {
            hashes
                .hash(root, ".git/info/exclude")
                .with_context(|| format!("cannot read {}", exclude.display()))?
        } else {
            None
        };
        let rules =
            crate::engine::statcache::hash_bytes(format!("{rules}\n{exclude_hash:?}").as_bytes());
        if rules != self.rules {
            self.dirs.clear();
            self.rules = rules;
            self.changed = true;
        }
        let mut walk = Walk {
            root,
            filter,
            hashes,
            matchers: Vec::new(),
            out: Listed::default(),
            visited: Vec::new(),
        };
        if exclude_hash.is_some() {
            walk.matchers.push(Matcher::new(root, exclude));
        }
        walk.visit(self, "", 0, false)?;
        let Walk {
            mut out, visited, ..
        } = walk;
        // Forget directories that are gone or no longer walked into.
        if visited.len() != self.dirs.len() {
            let visited: std::collections::HashSet<&str> =
                visited.iter().map(String::as_str).collect();
            self.dirs.retain(|dir, _| visited.contains(dir.as_str()));
            self.changed = true;
        }
        out.files.sort_unstable();
        out.links.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        out.left_out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

/// A `.gitignore`, parsed only when a directory below it has to be read.
struct Matcher {
    dir: PathBuf,
    file: PathBuf,
    parsed: Option<Gitignore>,
}

impl Matcher {
    fn new(dir: &Path, file: PathBuf) -> Matcher {
        Matcher {
            dir: dir.to_path_buf(),
            file,
            parsed: None,
        }
    }

    fn get(&mut self) -> &Gitignore {
        self.parsed.get_or_insert_with(|| {
            let mut builder = GitignoreBuilder::new(&self.dir);
            // A malformed line is skipped, as git does; the rest still applies.
            let _ = builder.add(&self.file);
            builder.build().unwrap_or_else(|_| Gitignore::empty())
        })
    }
}

struct Walk<'a> {
    root: &'a Path,
    filter: &'a Filter<'a>,
    hashes: &'a mut StatCache,
    matchers: Vec<Matcher>,
    out: Listed,
    visited: Vec<String>,
}

impl Walk<'_> {
    fn visit(&mut self, listing: &mut Listing, rel: &str, depth: usize, force: bool) -> Result<()> {
        let path = if rel.is_empty() {
            self.root.to_path_buf()
        } else {
            self.root.join(rel)
        };
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => meta,
            Ok(_) => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        let stat = FileStat::of(&meta);
        let gitignore_key = join(rel, ".gitignore");
        let gitignore = if self.filter.gitignore {
            self.hashes
                .hash(self.root, &gitignore_key)
                .with_context(|| format!("cannot read {}", path.join(".gitignore").display()))?
        } else {
            None
        };
        // Taken out while the subdirectories are visited, and put back after.
        let cached = listing.dirs.remove(rel);
        let gitignore_changed = cached.as_ref().is_none_or(|d| d.gitignore != gitignore);
        let pushed = gitignore.is_some();
        if pushed {
            self.matchers
                .push(Matcher::new(&path, self.root.join(&gitignore_key)));
        }
        let dir = match cached {
            Some(dir)
                if !force
                    && !gitignore_changed
                    && dir.stat == stat
                    && stat.mtime_ns < dir.listed_at_ns - RACY_WINDOW_NS =>
            {
                dir
            }
            _ => {
                listing.changed = true;
                self.read(&path, rel, depth, stat, gitignore)?
            }
        };
        self.visited.push(rel.to_string());
        if !dir.venv {
            let out = &mut self.out;
            out.files
                .extend(dir.files.iter().map(|name| join(rel, name)));
            out.left_out
                .extend(dir.left_out.iter().map(|(name, why)| LeftOut {
                    path: join(rel, name),
                    why: why.clone(),
                }));
            for name in &dir.links {
                self.follow(join(rel, name));
            }
            for sub in &dir.subdirs {
                self.visit(
                    listing,
                    &join(rel, sub),
                    depth + 1,
                    force || gitignore_changed,
                )?;
            }
        }
        if pushed {
            self.matchers.pop();
        }
        listing.dirs.insert(rel.to_string(), dir);
        Ok(())
    }

    /// Reads a directory and decides, entry by entry, what is kept.
    fn read(
        &mut self,
        path: &Path,
        rel: &str,
        depth: usize,
        stat: FileStat,
        gitignore: Option<Hash>,
    ) -> Result<Dir> {
        // Taken before reading, so an entry added meanwhile makes the listing racy.
        let listed_at_ns = now_ns();
        let mut dir = Dir {
            stat,
            listed_at_ns,
            gitignore,
            files: Vec::new(),
            subdirs: Vec::new(),
            links: Vec::new(),
            left_out: Vec::new(),
            venv: false,
        };
        let entries =
            fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", path.display()))?;
            let file_type = entry
                .file_type()
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            let is_dir = file_type.is_dir();
            let (name, utf8) = match entry.file_name().into_string() {
                Ok(name) => (name, true),
                Err(raw) => (raw.to_string_lossy().into_owned(), false),
            };
            if depth > 0 && !is_dir && self.filter.env_marker == Some(name.as_str()) {
                dir.venv = true;
            }
            let kept = if is_dir {
                !(self.filter.exclude_dir)(rel, &name, depth + 1)
            } else {
                !(self.filter.exclude_file)(&join(rel, &name))
            };
            if !kept || self.ignored(&entry.path(), is_dir) {
                continue;
            }
            if !utf8 {
                let why = if is_dir {
                    "its name is not valid UTF-8 (rename it); nothing in it is read"
                } else {
                    "its name is not valid UTF-8 (rename it)"
                };
                dir.left_out.push((name, why.to_string()));
            } else if is_dir && let Some(why) = too_deep(self.root, rel, &name, depth + 1) {
                dir.left_out.push((name, why));
            } else if is_dir {
                dir.subdirs.push(name);
            } else if file_type.is_file() {
                dir.files.push(name);
            } else if file_type.is_symlink() {
                dir.links.push(name);
            } else {
                let why = format!("it is {}, not a regular file", kind(file_type));
                dir.left_out.push((name, why));
            }
        }
        dir.files.sort_unstable();
        dir.subdirs.sort_unstable();
        dir.links.sort_unstable();
        Ok(dir)
    }

    /// Lists the kept link `rel` if it leads to a regular file.
    fn follow(&mut self, rel: String) {
        let path = self.root.join(&rel);
        let cannot_follow = |err: io::Error| LeftOut {
            path: rel.clone(),
            why: format!("cannot follow the link: {err}"),
        };
        let target = match fs::canonicalize(&path) {
            Ok(target) => target,
            // Its target is gone: like a deleted file, no longer an input.
            Err(err) if err.kind() == io::ErrorKind::NotFound => return,
            Err(err) => return self.out.left_out.push(cannot_follow(err)),
        };
        match fs::metadata(&target) {
            Ok(meta) if meta.is_file() => {
                self.out.files.push(rel.clone());
                self.out.links.push(Link { path: rel, target });
            }
            // Not walked: the tree would depend on where links lead, and could loop.
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) => {
                let why = format!(
                    "it links to {} ({}), not a regular file",
                    kind(meta.file_type()),
                    target.display()
                );
                self.out.left_out.push(LeftOut { path: rel, why });
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => self.out.left_out.push(cannot_follow(err)),
        }
    }

    /// Whether the nearest `.gitignore` (or `.git/info/exclude`) with a say ignores `path`.
    fn ignored(&mut self, path: &Path, is_dir: bool) -> bool {
        if !self.filter.gitignore {
            return false;
        }
        for matcher in self.matchers.iter_mut().rev() {
            match matcher.get().matched(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }
}

/// How deep a directory of the project is walked into: deeper ones are left out (and said
/// so), as are those whose path would be longer than the system takes, so that a
/// pathological tree (thousands of nested folders) costs a warning, not every command.
pub(crate) const MAX_DEPTH: usize = 256;

/// The longest path, in bytes, a directory walked into may have (Linux's `PATH_MAX`, less
/// room for the names of the files in it).
const MAX_PATH: usize = 4096 - 256;

/// Why the directory `name` in `rel`, at `depth` (1 for the root's own), is not walked
/// into, if it is not.
fn too_deep(root: &Path, rel: &str, name: &str, depth: usize) -> Option<String> {
    let length = root.as_os_str().len() + rel.len() + name.len() + 2;
    if depth > MAX_DEPTH {
        Some(format!(
            "it is {depth} folders deep, past the {MAX_DEPTH} pybuild walks; nothing in it is read"
        ))
    } else if length > MAX_PATH {
        Some(format!(
            "its path is {length} bytes long, past the {MAX_PATH} pybuild walks; nothing in it is read"
        ))
    } else {
        None
    }
}

/// What a file that is not regular nor a directory is, in words.
fn kind(file_type: fs::FileType) -> &'static str {
    if file_type.is_fifo() {
        "a named pipe"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_deep_is_by_depth_or_by_length() {
        let root = Path::new("/p");
        assert_eq!(too_deep(root, "a", "b", MAX_DEPTH), None);
        assert!(
            too_deep(root, "a", "b", MAX_DEPTH + 1)
                .unwrap()
                .contains("folders deep")
        );
        let long = "x/".repeat(MAX_PATH / 2);
        assert!(
            too_deep(root, &long, "b", 3)
                .unwrap()
                .contains("bytes long")
        );
    }
}
