//! What `watch` watches, and which file events concern an input.
//!
//! The inputs are what the fingerprints read: the project's file set (`fileset`), the
//! files that the steps of the watched targets last read (`steps::inputs`: the metadata
//! and requirement files, a task's sources), and `project.toml`. Every directory the file set's
//! listing walks is watched, each on its own (not recursively), so the venv, `.git`,
//! `.pybuild`, `build/`, `dist/`, `*.egg-info`, `__pycache__` and git-ignored directories
//! are never watched and their churn costs nothing.
//!
//! An event's path is relevant when it is an input or a watched directory (a change, a
//! removal, a rename away), or when it would become an input ([`Admission`]: a new file,
//! or a file renamed into place as editors save). A new directory is watched at once,
//! with the directories below it, *before* the run that lists it: a file created in it
//! after that run's listing still sends an event. Opening or reading a file is not a
//! change; anything else is, and the fingerprints decide whether the content changed.
//! After each run the watched set is made to match the listing again.
//!
//! An input that is a link changes when the file it leads to does: the directory holding
//! that file is watched too, inside the project (an edit there is reported under the
//! file's own path) or, for a link `[bundle] external-links` allows, outside it (reported
//! under the link's path).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};

use crate::base::project::Project;
use crate::base::ui::Printer;
use crate::engine::fileset;
use crate::engine::fileset::admission::Admission;
use crate::engine::listing::Listing;
use crate::engine::statcache::StatCache;
use crate::steps;

/// What a batch of events is reported as when the events themselves were lost.
pub(crate) const RESCAN: &str = "(events lost: everything rescanned)";

pub(crate) struct Inputs {
    root: PathBuf,
    /// The watched targets, whose steps' inputs are watched.
    targets: Vec<String>,
    watcher: notify::RecommendedWatcher,
    /// Input files, relative to the root, and the names of those that may appear.
    files: HashSet<String>,
    /// How many input files the listing found.
    listed: usize,
    /// Watched directories, relative to the root ("" for the root).
    dirs: BTreeSet<String>,
    /// Files outside the project that input links lead to, each with its link.
    outside_targets: HashMap<PathBuf, String>,
    /// Watched directories outside the project: those holding `outside_targets`.
    outside_dirs: BTreeSet<PathBuf>,
    /// A watched directory was removed since [`Inputs::take_lost_dir`] was last asked.
    lost_dir: bool,
    admission: Admission,
    /// Kept between listings, so that a listing reads only directories that changed.
    listing: Listing,
    hashes: StatCache,
    printer: Printer,
}

impl Inputs {
    pub(crate) fn new(
        project: &Project,
        targets: &[String],
        watcher: notify::RecommendedWatcher,
        printer: &Printer,
    ) -> Result<Inputs> {
        let mut inputs = Inputs {
            root: project.root.clone(),
            targets: targets.to_vec(),
            watcher,
            files: HashSet::new(),
            listed: 0,
            dirs: BTreeSet::new(),
            outside_targets: HashMap::new(),
            outside_dirs: BTreeSet::new(),
            lost_dir: false,
            admission: Admission::new(&project.root, &steps::file_rules(project))?,
            listing: Listing::default(),
            hashes: StatCache::default(),
            printer: printer.clone(),
        };
        inputs.refresh(project)?;
        Ok(inputs)
    }

    pub(crate) fn file_count(&self) -> usize {
        self.listed
    }

    pub(crate) fn dir_count(&self) -> usize {
        self.dirs.len() + self.outside_dirs.len()
    }

    /// Whether a watched directory was removed since the last call.
    pub(crate) fn take_lost_dir(&mut self) -> bool {
        std::mem::take(&mut self.lost_dir)
    }

    /// Lists the inputs again, and watches exactly the directories that hold them.
    pub(crate) fn refresh(&mut self, project: &Project) -> Result<()> {
        let rules = steps::file_rules(project);
        let set = fileset::project_files(&self.root, &rules, &mut self.listing, &mut self.hashes)?;
        self.listed = set.files.len();
        let mut files: HashSet<String> = set.files.into_iter().collect();
        let targets: Vec<&str> = self.targets.iter().map(String::as_str).collect();
        let read = steps::inputs(project, &targets)?;
        // Those inside the project; one outside it (an absolute path) is not watched.
        files.extend(read.into_iter().filter(|file| !file.starts_with('/')));
        files.insert(crate::base::config::FILE_NAME.to_string());
        // What links lead to: inside the project, a file to watch as any other.
        let mut outside_targets = HashMap::new();
        for link in set.links {
            match link
                .target
                .strip_prefix(&self.root)
                .ok()
                .and_then(Path::to_str)
            {
                Some(target) => {
                    files.insert(target.to_string());
                }
                None => {
                    outside_targets.insert(link.target, link.path);
                }
            }
        }
        let mut dirs: BTreeSet<String> = self.listing.dirs().map(str::to_string).collect();
        // Files that `[bundle] sources` adds from git-ignored directories, requirement files
        // and the targets of links, wherever they are.
        for file in &files {
            let mut parent = file.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                if dirs.contains(up) {
                    break; // and so are the directories above it
                }
                if self.root.join(up).is_dir() {
                    dirs.insert(up.to_string());
                }
                parent = up;
            }
        }
        for gone in self.dirs.difference(&dirs) {
            // Fails if the directory is gone, and with it its watch: nothing to undo then.
            let _ = self.watcher.unwatch(&self.root.join(gone));
        }
        let new: Vec<String> = dirs.difference(&self.dirs).cloned().collect();
        for dir in new {
            self.watch(&dir);
        }
        self.dirs.retain(|dir| dirs.contains(dir));
        self.watch_outside(outside_targets);
        self.files = files;
        self.admission = Admission::new(&self.root, &rules)?;
        Ok(())
    }

    /// Watches exactly the directories outside the project that hold `targets`.
    fn watch_outside(&mut self, targets: HashMap<PathBuf, String>) {
        let dirs: BTreeSet<PathBuf> = targets
            .keys()
            .filter_map(|target| target.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.outside_dirs.difference(&dirs) {
            let _ = self.watcher.unwatch(gone);
        }
        let new: Vec<PathBuf> = dirs.difference(&self.outside_dirs).cloned().collect();
        for dir in new {
            if self.add_watch(&dir) {
                self.outside_dirs.insert(dir);
            }
        }
        self.outside_dirs.retain(|dir| dirs.contains(dir));
        self.outside_targets = targets;
    }

    fn watch(&mut self, dir: &str) {
        if self.add_watch(&self.root.join(dir)) {
            self.dirs.insert(dir.to_string());
        }
    }

    /// Watches the directory `path`; whether it is watched now.
    fn add_watch(&mut self, path: &Path) -> bool {
        match self.watcher.watch(path, RecursiveMode::NonRecursive) {
            Ok(()) => true,
            Err(err) if matches!(err.kind, notify::ErrorKind::MaxFilesWatch) => {
                self.printer.warn(&format!(
                    "cannot watch {}: the system's limit of inotify watches is reached \
                     (raise fs.inotify.max_user_watches)",
                    path.display()
                ));
                false
            }
            // Removed since it was listed: its parent's watch reports that.
            Err(_) => false,
        }
    }

    /// The paths of `event` that concern an input, relative to the root.
    pub(crate) fn relevant(&mut self, event: &Event) -> Vec<String> {
        if event.need_rescan() {
            return vec![RESCAN.to_string()];
        }
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) => return Vec::new(),
            _ => {}
        }
        event
            .paths
            .iter()
            .filter_map(|path| self.relevant_path(path))
            .collect()
    }

    fn relevant_path(&mut self, path: &Path) -> Option<String> {
        if let Some(link) = self.outside_targets.get(path) {
            return Some(link.clone());
        }
        let rel = path.strip_prefix(&self.root).ok()?.to_str()?.to_string();
        if rel.is_empty() {
            return None; // the root itself: only its entries matter
        }
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        if name == ".gitignore" {
            self.admission.forget_gitignores();
        }
        if self.files.contains(&rel) {
            return Some(rel);
        }
        if self.dirs.contains(&rel) {
            if !path.is_dir() {
                self.dirs.remove(&rel);
                self.lost_dir = true;
            }
            return Some(rel);
        }
        if is_editor_scratch(name) {
            return None; // an editor's swap, backup or save-in-progress file
        }
        let meta = fs::metadata(path).ok()?; // gone: it was not an input
        if meta.is_dir() {
            let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink());
            if is_link || !self.admission.admits(&rel, true) {
                return None; // the listing does not walk links to directories either
            }
            self.watch_tree(&rel);
            Some(rel)
        } else {
            (meta.is_file() && self.admission.admits(&rel, false)).then_some(rel)
        }
    }

    /// Watches a new directory and the directories below it that the listing would walk.
    fn watch_tree(&mut self, rel: &str) {
        let mut todo = vec![rel.to_string()];
        while let Some(dir) = todo.pop() {
            if self.dirs.contains(&dir) {
                continue;
            }
            // Watched before it is read: an entry added meanwhile is read or reported.
            self.watch(&dir);
            let Ok(entries) = fs::read_dir(self.root.join(&dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let sub = format!("{dir}/{name}");
                if entry.file_type().is_ok_and(|t| t.is_dir()) && self.admission.admits(&sub, true)
                {
                    todo.push(sub);
                }
            }
        }
    }
}

/// Whether `name` is a file an editor writes beside the one being edited and removes or
/// renames soon: vim's swap files (`.x.py.swp`, `.swo`, `.swx`) and its write test
/// `4913`, backups (`x.py~`), emacs' lock and autosave files (`.#x.py`, `#x.py#`),
/// JetBrains' safe-write files (`x.py___jb_tmp___`, `___jb_old___`), kate's swap file,
/// gedit's `.goutputstream-*`. A save reaches the edited file itself, which is watched.
fn is_editor_scratch(name: &str) -> bool {
    let hidden = name.starts_with('.');
    name == "4913"
        || name.ends_with('~')
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#') && name.len() > 1)
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || name.ends_with(".kate-swp")
        || name.starts_with(".goutputstream-")
        || (hidden
            && [".swp", ".swo", ".swx", ".swn"]
                .iter()
                .any(|s| name.ends_with(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editors_scratch_files_are_told_apart() {
        for name in [
            ".words.py.swp",
            ".words.py.swx",
            "4913",
            "words.py~",
            ".#words.py",
            "#words.py#",
            "words.py___jb_tmp___",
            ".words.py.kate-swp",
            ".goutputstream-AB12",
        ] {
            assert!(is_editor_scratch(name), "{name}");
        }
        for name in ["words.py", "swp.py", "notes.swp", "#", "README"] {
            assert!(!is_editor_scratch(name), "{name}");
        }
    }
}
