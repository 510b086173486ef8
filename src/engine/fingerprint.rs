//! Fingerprints: what a step's result depends on, recorded to decide freshness and to
//! explain a rebuild.
//!
//! A step is fresh when the fingerprint computed from the inputs as they are *now* equals
//! the one recorded after its last success, and its recorded outputs still hash the same
//! (see `engine::run`). A fingerprint has two parts:
//! - `parts`: named values that are not files: the step's configuration (normalised TOML
//!   section as JSON), the interpreter (path and version), tool versions, the identity of
//!   the venv it installs into. Values are kept readable so a change can be shown.
//! - `files`: every input file as (path relative to the project, content hash), over the
//!   whole set, so an added, removed or renamed file changes it. An expected file that does
//!   not exist is recorded as [`ABSENT`], so creating it is a change too.
//!
//! Hashes come from the [`StatCache`](crate::engine::statcache::StatCache), so a fingerprint of
//! thousands of unchanged files costs one `stat` each and no reads.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::engine::reason::{Kind, Reason};
use crate::engine::statcache::Hash;

pub(crate) const ABSENT: &str = "absent";

/// The run id of a step that has no finished run recorded.
pub(crate) const NEVER: &str = "never";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Fingerprint {
    pub(crate) parts: BTreeMap<String, String>,
    pub(crate) files: BTreeMap<String, Hash>,
    /// The parts that hold when another step last ran (see [`Fingerprint::ran`]), told
    /// apart only to explain a change in words; never recorded.
    #[serde(skip)]
    runs: BTreeSet<String>,
}

impl PartialEq for Fingerprint {
    fn eq(&self, other: &Fingerprint) -> bool {
        self.parts == other.parts && self.files == other.files
    }
}

impl Eq for Fingerprint {}

impl Fingerprint {
    pub(crate) fn part(&mut self, name: &str, value: impl Into<String>) {
        self.parts.insert(name.to_string(), value.into());
    }

    /// The part `name`: `run_id`, when the step this one builds on last succeeded. A
    /// change reads "venv ran again", not as two timestamps.
    pub(crate) fn ran(&mut self, name: &str, run_id: String) {
        self.runs.insert(name.to_string());
        self.part(name, run_id);
    }

    /// Whether the part `name` is when another step last ran (see [`Fingerprint::ran`]).
    pub(crate) fn is_run(&self, name: &str) -> bool {
        self.runs.contains(name)
    }

    #[cfg(test)]
    pub(crate) fn file(&mut self, path: &str, hash: Option<Hash>) {
        self.files
            .insert(path.to_string(), hash.unwrap_or_else(|| ABSENT.into()));
    }

    /// Adds many files at once; bulk-builds the map when it is empty (the common case,
    /// thousands of files, sorted).
    pub(crate) fn files_from<'a>(&mut self, files: impl Iterator<Item = (&'a str, Option<Hash>)>) {
        let entries =
            files.map(|(path, hash)| (path.to_string(), hash.unwrap_or_else(|| ABSENT.into())));
        if self.files.is_empty() {
            self.files = entries.collect();
        } else {
            self.files.extend(entries);
        }
    }

    /// A digest of the whole fingerprint: what a step's record keeps, so deciding that a
    /// step is fresh needs no per-file comparison and no large record.
    pub(crate) fn digest(&self) -> Hash {
        let mut hasher = blake3::Hasher::new();
        for map in [&self.parts, &self.files] {
            for (key, value) in map {
                for text in [key, value] {
                    hasher.update(&(text.len() as u64).to_le_bytes());
                    hasher.update(text.as_bytes());
                }
            }
            hasher.update(b"\xff");
        }
        hasher.finalize().to_hex()[..32].to_string()
    }

    /// Why `self` (now) differs from `old` (recorded), in words a user can act on.
    pub(crate) fn differences(&self, old: &Fingerprint) -> Vec<Reason> {
        let mut reasons = Vec::new();
        for (name, new) in &self.parts {
            let reason = match old.parts.get(name) {
                None => Reason::new(Kind::Added, format!("{name} is new")),
                Some(_) if self.runs.contains(name) && new == NEVER => {
                    Reason::new(Kind::DependencyNotRun, format!("{name} has not run"))
                }
                Some(was) if was != new && self.runs.contains(name) => {
                    let again = if was == NEVER { "ran" } else { "ran again" };
                    Reason::new(Kind::DependencyRan, format!("{name} {again}"))
                }
                Some(was) if was != new => {
                    Reason::new(Kind::Changed, describe_change(name, was, new))
                }
                Some(_) => continue,
            };
            reasons.push(reason.key(name));
        }
        for name in old.parts.keys() {
            if !self.parts.contains_key(name) {
                reasons.push(
                    Reason::new(Kind::Removed, format!("{name} no longer applies")).key(name),
                );
            }
        }
        for (path, new) in &self.files {
            let (kind, what) = match old.files.get(path).map(String::as_str) {
                None | Some(ABSENT) if new != ABSENT => (Kind::Added, "added"),
                Some(was) if was != new && new == ABSENT => (Kind::Removed, "removed"),
                Some(was) if was != new => (Kind::Changed, "changed"),
                _ => continue,
            };
            reasons.push(Reason::new(kind, format!("{path} {what}")).path(path));
        }
        for (path, was) in &old.files {
            if !self.files.contains_key(path) && was != ABSENT {
                reasons.push(Reason::new(Kind::Removed, format!("{path} removed")).path(path));
            }
        }
        reasons
    }
}

fn describe_change(name: &str, was: &str, new: &str) -> String {
    const SHORT: usize = 60;
    if was.len() <= SHORT && new.len() <= SHORT && !was.contains('\n') && !new.contains('\n') {
        return format!("{name} changed: {was} → {new}");
    }
    // A list, one item a line (the venv's distributions): the few lines that changed.
    let gone: Vec<&str> = was
        .lines()
        .filter(|l| !new.lines().any(|n| n == *l))
        .collect();
    let came: Vec<&str> = new
        .lines()
        .filter(|l| !was.lines().any(|w| w == *l))
        .collect();
    if !gone.is_empty() || !came.is_empty() {
        let lines: Vec<String> = gone
            .iter()
            .map(|l| format!("-{l}"))
            .chain(came.iter().map(|l| format!("+{l}")))
            .collect();
        if lines.len() <= 4 && lines.iter().all(|l| l.len() <= SHORT) {
            return format!("{name} changed: {}", lines.join(" "));
        }
    }
    format!("{name} changed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(parts: &[(&str, &str)], files: &[(&str, &str)]) -> Fingerprint {
        let mut fp = Fingerprint::default();
        for (k, v) in parts {
            fp.part(k, *v);
        }
        for (k, v) in files {
            fp.file(k, Some(v.to_string()));
        }
        fp
    }

    fn details(reasons: Vec<Reason>) -> Vec<String> {
        reasons.into_iter().map(|r| r.detail).collect()
    }

    #[test]
    fn a_changed_list_names_the_lines_that_changed() {
        let was = "idna 3.4\nsix 1.16.0";
        assert_eq!(
            describe_change("venv", was, "idna 3.4\nsix 1.15.0"),
            "venv changed: -six 1.16.0 +six 1.15.0"
        );
        assert_eq!(
            describe_change("venv", was, "a 1\nb 1\nc 1\nd 1\ne 1"),
            "venv changed"
        );
    }

    /// Freshness is this comparison: any part or file that differs makes a step run again;
    /// which parts are other steps' runs only changes how the change is worded.
    #[test]
    fn equal_means_the_same_parts_and_files() {
        let base = fp(&[("config", "{}")], &[("src/app.py", "h1")]);
        assert_eq!(base, base.clone());
        assert_ne!(base, fp(&[("config", "{ }")], &[("src/app.py", "h1")]));
        assert_ne!(base, fp(&[("config", "{}")], &[("src/app.py", "h2")]));
        let mut ran = fp(&[], &[("src/app.py", "h1")]);
        ran.ran("config", "{}".into());
        assert_eq!(base, ran);
    }

    #[test]
    fn digest_tells_parts_from_files_and_moved_boundaries() {
        let a = fp(&[("x", "1")], &[]);
        let b = fp(&[], &[("x", "1")]);
        let c = fp(&[("x1", "")], &[]);
        assert_ne!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        assert_eq!(a.digest(), a.clone().digest());
    }

    #[test]
    fn another_step_running_again_is_said_in_words() {
        let mut old = Fingerprint::default();
        old.ran("venv", "1795490177732152592".into());
        let mut new = Fingerprint::default();
        new.ran("venv", "1795490858596928747".into());
        let ran = new.differences(&old);
        assert_eq!(
            (ran[0].kind, ran[0].key.as_deref()),
            (Kind::DependencyRan, Some("venv"))
        );
        assert_eq!(details(new.differences(&old)), vec!["venv ran again"]);
        new.ran("venv", NEVER.into());
        assert_eq!(details(new.differences(&old)), vec!["venv has not run"]);
    }

    #[test]
    fn equal_fingerprints_have_no_differences() {
        let a = fp(&[("interpreter", "3.11.7")], &[("a.py", "1")]);
        assert!(a.differences(&a.clone()).is_empty());
    }

    #[test]
    fn differences_name_files_and_parts() {
        let old = fp(
            &[("interpreter", "3.11.7")],
            &[("a.py", "1"), ("old.py", "2")],
        );
        let new = fp(
            &[("interpreter", "3.12.1")],
            &[("a.py", "9"), ("new.py", "3")],
        );
        assert_eq!(
            details(new.differences(&old)),
            vec![
                "interpreter changed: 3.11.7 → 3.12.1",
                "a.py changed",
                "new.py added",
                "old.py removed",
            ]
        );
    }

    #[test]
    fn absent_file_appearing_or_going_is_named() {
        let mut old = Fingerprint::default();
        old.file("setup.cfg", None);
        let new = fp(&[], &[("setup.cfg", "1")]);
        let added = new.differences(&old);
        assert_eq!(added[0].kind, Kind::Added);
        assert_eq!(added[0].path.as_deref(), Some("setup.cfg"));
        assert_eq!(details(added), vec!["setup.cfg added"]);
        assert_eq!(details(old.differences(&new)), vec!["setup.cfg removed"]);
    }
}
