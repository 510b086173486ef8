//! uv's lock file, `uv.lock`: every package it resolved (for every platform), where each
//! comes from, and what each depends on, so that one member's runtime closure is read from
//! the lock without starting uv (what `uv export --package NAME --no-dev` lists).
//!
//! A package is `[[package]]` with `name`, `version`, `source` (`registry`, `git`, `url`,
//! `path`; or `editable`, `virtual`, `directory` for the workspace's own projects),
//! `dependencies = [{ name, version?, source?, marker?, extra? }]`,
//! `[package.optional-dependencies]` (per extra) and `[package.dev-dependencies]` (per
//! group, never part of a runtime closure). One name may have several entries (one per
//! `resolution-markers` fork); a dependency then names the version it means, and one that
//! does not means every entry of that name.
//!
//! Markers are not evaluated: a closure is a superset over platforms and Python versions,
//! which is what deciding whether an app is affected by a lock change needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Deserialize;

use crate::base::distribution_name::normalize;
use crate::base::paths;

pub(crate) struct UvLock {
    packages: Vec<Package>,
    /// `[manifest] members`, normalised (a lock of one project has none).
    #[allow(dead_code, reason = "read by `members`, which the per-app build asks")]
    manifest_members: Vec<String>,
}

impl UvLock {
    pub(crate) fn parse(text: &str) -> Result<UvLock> {
        let file: LockFile = toml::from_str(text)?;
        Ok(UvLock {
            packages: file.package,
            manifest_members: file
                .manifest
                .members
                .iter()
                .map(|name| normalize(name))
                .collect(),
        })
    }

    pub(crate) fn read(path: &Path) -> Result<UvLock> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        UvLock::parse(&text).with_context(|| format!("cannot read {}", path.display()))
    }

    /// Each package's name as the lock spells it and its version, in the file's order.
    pub(crate) fn packages(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.packages
            .iter()
            .map(|package| (package.name.as_str(), package.version.as_deref()))
    }

    /// Whether the lock installs the project `name` itself, editable, from the root.
    pub(crate) fn installs_editable_root(&self, name: &str) -> bool {
        let name = normalize(name);
        self.packages.iter().any(|package| {
            normalize(&package.name) == name
                && package.source.editable.as_deref().map(Path::new) == Some(Path::new("."))
        })
    }

    /// The packages it installs from a folder or file outside the root (`editable`,
    /// `directory` or `path` sources there).
    pub(crate) fn outside_sources(&self) -> Vec<String> {
        self.packages
            .iter()
            .filter(|package| {
                let source = &package.source;
                [&source.editable, &source.directory, &source.path]
                    .into_iter()
                    .flatten()
                    .any(|path| paths::leaves_root(path))
            })
            .map(|package| package.name.clone())
            .collect()
    }

    /// The workspace's projects the lock names (`[manifest] members`, and the packages of
    /// `editable` or `virtual` source), normalised.
    #[allow(
        dead_code,
        reason = "the per-app build's, which checks the lock names every app"
    )]
    pub(crate) fn members(&self) -> BTreeSet<String> {
        self.packages
            .iter()
            .filter(|package| {
                package.source.editable.is_some() || package.source.r#virtual.is_some()
            })
            .map(|package| normalize(&package.name))
            .chain(self.manifest_members.iter().cloned())
            .collect()
    }

    /// The third-party packages in `member`'s runtime closure: its dependencies, theirs,
    /// the extras they ask for, never dev-dependencies; the workspace's own projects
    /// (`editable`, `virtual` or `directory` sources) are walked through but not listed.
    /// Markers are not evaluated (a superset). Name (normalised) → the versions the lock
    /// holds for it in the closure.
    pub(crate) fn closure(&self, member: &str) -> BTreeMap<String, BTreeSet<String>> {
        let member = normalize(member);
        let mut seen: BTreeSet<(usize, Option<String>)> = BTreeSet::new();
        let mut next: Vec<(usize, Option<String>)> = self
            .entries(&member, None)
            .filter(|&index| self.packages[index].source.is_own())
            .map(|index| (index, None))
            .collect();
        let mut closure: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        while let Some((index, extra)) = next.pop() {
            if !seen.insert((index, extra.clone())) {
                continue;
            }
            let package = &self.packages[index];
            if !package.source.is_own() {
                closure
                    .entry(normalize(&package.name))
                    .or_default()
                    .extend(package.version.clone());
            }
            let dependencies = match &extra {
                None => &package.dependencies,
                Some(extra) => match package
                    .optional_dependencies
                    .iter()
                    .find(|(name, _)| normalize(name) == *extra)
                {
                    Some((_, dependencies)) => dependencies,
                    None => continue,
                },
            };
            for dependency in dependencies {
                let name = normalize(&dependency.name);
                for target in self.entries(&name, dependency.version.as_deref()) {
                    next.push((target, None));
                    next.extend(
                        dependency
                            .extra
                            .iter()
                            .map(|extra| (target, Some(normalize(extra)))),
                    );
                }
            }
        }
        closure
    }

    /// The indexes of the entries of `name` (normalised), only those at `version` if given.
    fn entries<'a>(
        &'a self,
        name: &'a str,
        version: Option<&'a str>,
    ) -> impl Iterator<Item = usize> + 'a {
        self.packages
            .iter()
            .enumerate()
            .filter(move |(_, package)| {
                normalize(&package.name) == name
                    && version.is_none_or(|version| package.version.as_deref() == Some(version))
            })
            .map(|(index, _)| index)
    }
}

/// The parts of `uv.lock` pybuild reads.
#[derive(Deserialize)]
struct LockFile {
    #[serde(default)]
    package: Vec<Package>,
    #[serde(default)]
    manifest: Manifest,
}

#[derive(Deserialize, Default)]
struct Manifest {
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: Option<String>,
    #[serde(default)]
    source: Source,
    #[serde(default)]
    dependencies: Vec<Dependency>,
    #[serde(default, rename = "optional-dependencies")]
    optional_dependencies: BTreeMap<String, Vec<Dependency>>,
}

/// Where a package comes from; only the workspace's own kinds matter here.
#[derive(Deserialize, Default)]
struct Source {
    editable: Option<String>,
    r#virtual: Option<String>,
    directory: Option<String>,
    path: Option<String>,
}

impl Source {
    /// One of the workspace's own projects (or a local directory), not a third party's.
    fn is_own(&self) -> bool {
        self.editable.is_some() || self.r#virtual.is_some() || self.directory.is_some()
    }
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    /// Which of several entries of `name` this means.
    version: Option<String>,
    #[serde(default)]
    extra: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> UvLock {
        UvLock::read(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name)
                .join("uv.lock"),
        )
        .unwrap()
    }

    fn versions(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(name, versions)| {
                (
                    name.to_string(),
                    versions.iter().map(|v| v.to_string()).collect(),
                )
            })
            .collect()
    }

    /// What `uv export --package NAME --no-dev --no-hashes --frozen` (uv 0.13.9) lists in
    /// the fixture, less the `-e` lines of the members: ws-api idna==3.21, six==1.17.0;
    /// ws-worker click==8.5.1, six==1.17.0.
    #[test]
    fn each_app_of_the_workspace_fixture_has_its_own_closure() {
        let lock = fixture("workspace");
        assert_eq!(
            lock.closure("ws-api"),
            versions(&[("idna", &["3.21"]), ("six", &["1.17.0"])])
        );
        assert_eq!(
            lock.closure("WS_Worker"),
            versions(&[("click", &["8.5.1"]), ("six", &["1.17.0"])])
        );
        assert_eq!(lock.closure("ws-core"), versions(&[("six", &["1.17.0"])]));
        assert!(
            lock.closure("six").is_empty(),
            "a third-party package is no member to start from"
        );
        assert!(lock.closure("nothing").is_empty());
        let members: Vec<String> = lock.members().into_iter().collect();
        assert_eq!(members, ["ws-api", "ws-core", "ws-worker"]);
    }

    /// `uv export --package app --no-dev --no-hashes --frozen` lists colorama==0.4.6 (a
    /// marker), idna==3.6 and idna==3.7 (two forks), six==1.17.0 and typing-extensions
    /// (lib's extra `fast`, asked for by app); not packaging (extra `slow`, not asked
    /// for) nor iniconfig (a dev dependency).
    #[test]
    fn extras_markers_and_forks_are_followed_and_dev_dependencies_are_not() {
        let lock = fixture("uv-lock-forks");
        assert_eq!(
            lock.closure("app"),
            versions(&[
                ("colorama", &["0.4.6"]),
                ("idna", &["3.6", "3.7"]),
                ("six", &["1.17.0"]),
                ("typing-extensions", &["4.16.0"]),
            ])
        );
        assert_eq!(lock.closure("lib"), versions(&[("six", &["1.17.0"])]));
    }

    #[test]
    fn packages_from_folders_outside_the_root_are_named() {
        let lock = UvLock::parse(
            "version = 1\n\n\
             [[package]]\nname = \"app\"\nversion = \"1\"\nsource = { editable = \".\" }\n\n\
             [[package]]\nname = \"member\"\nversion = \"1\"\nsource = { editable = \"libs/m\" }\n\n\
             [[package]]\nname = \"beside\"\nversion = \"1\"\nsource = { editable = \"../beside\" }\n\n\
             [[package]]\nname = \"copied\"\nversion = \"1\"\nsource = { directory = \"/srv/copied\" }\n\n\
             [[package]]\nname = \"wheel\"\nversion = \"1\"\nsource = { path = \"../w/wheel-1-py3-none-any.whl\" }\n\n\
             [[package]]\nname = \"six\"\nversion = \"1\"\nsource = { registry = \"r\" }\n",
        )
        .unwrap();
        assert_eq!(lock.outside_sources(), ["beside", "copied", "wheel"]);
    }

    #[test]
    fn a_dependency_naming_a_version_means_that_entry_only() {
        let lock = UvLock::parse(
            "version = 1\n\n\
             [[package]]\nname = \"app\"\nversion = \"1\"\nsource = { virtual = \".\" }\n\
             dependencies = [{ name = \"idna\", version = \"3.7\" }, { name = \"Foo_Bar\", extra = [\"X\"] }]\n\n\
             [[package]]\nname = \"idna\"\nversion = \"3.6\"\nsource = { registry = \"r\" }\n\n\
             [[package]]\nname = \"idna\"\nversion = \"3.7\"\nsource = { registry = \"r\" }\n\n\
             [[package]]\nname = \"foo-bar\"\nversion = \"2\"\nsource = { registry = \"r\" }\n\
             [package.optional-dependencies]\nx = [{ name = \"six\" }]\n\n\
             [[package]]\nname = \"six\"\nversion = \"1\"\nsource = { registry = \"r\" }\n",
        )
        .unwrap();
        assert_eq!(
            lock.closure("app"),
            versions(&[("foo-bar", &["2"]), ("idna", &["3.7"]), ("six", &["1"])])
        );
        assert!(lock.members().contains("app"));
    }

    #[test]
    fn a_bad_lock_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uv.lock");
        std::fs::write(&path, "[[package]]\nversion = \"1\"\n").unwrap();
        let err = format!("{:#}", UvLock::read(&path).err().unwrap());
        assert!(err.contains("uv.lock") && err.contains("name"), "{err}");
    }
}
