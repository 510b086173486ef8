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

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::{Deserialize, Serialize};

use crate::statcache::{FileStat, Hash, RACY_WINDOW_NS, StatCache, now_ns};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Listing {
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
    /// It holds a `pyvenv.cfg`: a virtualenv, never an input.
    venv: bool,
}

/// What to leave out, decided per entry.
pub struct Filter<'a> {
    /// `(relative dir path, name, depth)` → leave the directory out.
    pub exclude_dir: &'a dyn Fn(&str, &str, usize) -> bool,
    /// Relative file path → leave the file out.
    pub exclude_file: &'a dyn Fn(&str) -> bool,
    /// Honour `.gitignore` files and `.git/info/exclude`.
    pub gitignore: bool,
}

impl Listing {
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    pub fn mark_saved(&mut self) {
        self.changed = false;
    }

    /// The directories the last [`Listing::list`] walked into (relative, "" for the root),
    /// virtualenvs left out.
    pub fn dirs(&self) -> impl Iterator<Item = &str> {
        self.dirs
            .iter()
            .filter(|(_, dir)| !dir.venv)
            .map(|(rel, _)| rel.as_str())
    }

    /// Every file under `root` that `filter` keeps, relative, `/`-separated, sorted.
    /// `rules` is a digest of whatever else decides the filter's answers.
    pub fn list(
        &mut self,
        root: &Path,
        rules: &str,
        filter: &Filter,
        hashes: &mut StatCache,
    ) -> Result<Vec<String>> {
        let exclude = root.join(".git/info/exclude");
        let exclude_hash = if filter.gitignore {
            hashes.hash(root, ".git/info/exclude")?
        } else {
            None
        };
        let rules = crate::statcache::hash_bytes(format!("{rules}\n{exclude_hash:?}").as_bytes());
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
            out: Vec::new(),
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
        out.sort_unstable();
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
    out: Vec<String>,
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
            self.hashes.hash(self.root, &gitignore_key)?
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
            self.out
                .extend(dir.files.iter().map(|name| join(rel, name)));
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
            venv: false,
        };
        let entries =
            fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", path.display()))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not UTF-8: cannot be a Python module or a key in project.toml
            };
            let mut file_type = entry
                .file_type()
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            if file_type.is_symlink() {
                // A link to a directory is not walked into; a link to a file is an input.
                match fs::metadata(entry.path()) {
                    Ok(target) if target.is_file() => file_type = target.file_type(),
                    _ => continue,
                }
            }
            let entry_rel = join(rel, &name);
            if file_type.is_dir() {
                if (self.filter.exclude_dir)(rel, &name, depth + 1)
                    || self.ignored(&entry.path(), true)
                {
                    continue;
                }
                dir.subdirs.push(name);
            } else if file_type.is_file() {
                if name == "pyvenv.cfg" && depth > 0 {
                    dir.venv = true;
                }
                if !(self.filter.exclude_file)(&entry_rel) && !self.ignored(&entry.path(), false) {
                    dir.files.push(name);
                }
            }
        }
        dir.files.sort_unstable();
        dir.subdirs.sort_unstable();
        Ok(dir)
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

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}
