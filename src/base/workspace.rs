//! A uv workspace: a root `pyproject.toml` with `[tool.uv.workspace] members = [globs]`
//! (and `exclude = [globs]`), its members found as uv finds them, and the graph of which
//! member depends on which.
//!
//! Discovery reads each `pyproject.toml` once and starts no process, so a no-op build can
//! afford it every time. The members are the directories the `members` globs match, less
//! those `exclude` matches, plus the root itself when it has a `[project]`. As uv does, a
//! glob's match that is a file is skipped, and so is a matched directory without
//! `pyproject.toml` that is hidden or holds no file git would keep (a leftover
//! `__pycache__`); any other such directory is an error.
//!
//! A member depends on another when its `[project] dependencies` name it (and, for an
//! extra asked of a member, what that member's extra names). Markers are not evaluated:
//! the graph is a superset, which is what deciding what to rebuild needs. A member with a
//! console script (`[project.scripts]`) is an app; the others are libraries.
//!
//! What pybuild cannot bundle is refused here, each at its file and line: a member without
//! `[project] name`, two members of one name, one console script in two members (both
//! bundles would be `dist/<script>.pex`), a cycle, and a member uv installs as a virtual
//! project (no `[build-system]`, or `[tool.uv] package = false`: its dependencies but not
//! its code) when an app or another member needs its code. A virtual member nothing needs
//! (a root that only gathers dev tools) is allowed, as uv allows it.

mod globs;
mod graph;
mod member;
mod pyproject;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::base::distribution_name::normalize;
pub(crate) use member::Member;
use pyproject::{PYPROJECT, PyProject, Read};

pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    /// Sorted by name.
    pub(crate) members: Vec<Member>,
}

impl Workspace {
    /// The workspace rooted at `root`; `Ok(None)` when `root/pyproject.toml` is missing or
    /// has no `[tool.uv.workspace]`.
    pub(crate) fn find(root: &Path) -> Result<Option<Workspace>> {
        let file = root.join(PYPROJECT);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", file.display())),
        };
        let parsed = match toml::from_str::<PyProject>(&text) {
            Ok(parsed) => parsed,
            // A project's own pyproject.toml is not pybuild's to judge unless it makes a
            // workspace.
            Err(_) if !pyproject::declares_workspace(&text) => return Ok(None),
            Err(err) => return Err(pyproject::parse_error(&file, &text, &err).into()),
        };
        if parsed.tool.uv.workspace.is_none() {
            return Ok(None);
        }
        let root_file = Read { file, text, parsed };
        let dirs = globs::member_dirs(root, &root_file)?;
        let mut read = Vec::new();
        for dir in dirs {
            if dir == "." {
                continue;
            }
            let file = root.join(&dir).join(PYPROJECT);
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let parsed = toml::from_str::<PyProject>(&text)
                .map_err(|err| pyproject::parse_error(&file, &text, &err))?;
            read.push((dir, Read { file, text, parsed }));
        }
        if root_file.parsed.project.is_some() {
            read.push((".".to_string(), root_file));
        }
        Ok(Some(Workspace {
            root: root.to_path_buf(),
            members: graph::members(read)?,
        }))
    }

    /// The member of this name, however it is spelt.
    pub(crate) fn member(&self, name: &str) -> Option<&Member> {
        let name = normalize(name);
        self.members.iter().find(|member| member.name == name)
    }

    /// The members with a console script, by name.
    pub(crate) fn apps(&self) -> impl Iterator<Item = &Member> {
        self.members
            .iter()
            .filter(|member| !member.scripts.is_empty())
    }

    /// The member, then every member it depends on, transitively, each once; empty for a
    /// name that is no member.
    pub(crate) fn closure(&self, name: &str) -> Vec<&Member> {
        let mut found: Vec<&Member> = Vec::new();
        let mut next: Vec<&Member> = self.member(name).into_iter().collect();
        while let Some(member) = next.pop() {
            if found.iter().any(|seen| seen.name == member.name) {
                continue;
            }
            found.push(member);
            next.extend(
                member
                    .requires
                    .iter()
                    .rev()
                    .filter_map(|name| self.member(name)),
            );
        }
        found
    }

    /// The apps whose closure holds the member `name` (an app holds itself).
    pub(crate) fn dependents(&self, name: &str) -> Vec<&Member> {
        let name = normalize(name);
        self.apps()
            .filter(|app| {
                self.closure(&app.name)
                    .iter()
                    .any(|member| member.name == name)
            })
            .collect()
    }

    /// The deepest member whose directory holds `rel_path` (relative to the root,
    /// `/`-separated).
    pub(crate) fn member_at(&self, rel_path: &str) -> Option<&Member> {
        let path = rel_path.trim_start_matches("./");
        self.members
            .iter()
            .filter(|member| {
                member.dir == "."
                    || path == member.dir
                    || path
                        .strip_prefix(member.dir.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|member| {
                if member.dir == "." {
                    0
                } else {
                    member.dir.len() + 1
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workspace")
    }

    /// A workspace in a temp dir: the root's pyproject.toml, then (dir, pyproject.toml).
    fn make(root_pyproject: &str, members: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PYPROJECT), root_pyproject).unwrap();
        for (member, text) in members {
            std::fs::create_dir_all(dir.path().join(member)).unwrap();
            std::fs::write(dir.path().join(member).join(PYPROJECT), text).unwrap();
        }
        dir
    }

    const ROOT: &str = "[tool.uv.workspace]\nmembers = [\"apps/*\", \"libs/*\"]\n";
    const BUILD: &str =
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n";

    fn member(name: &str, deps: &[&str], scripts: &[&str]) -> String {
        let deps: Vec<String> = deps.iter().map(|dep| format!("{dep:?}")).collect();
        let mut text = format!(
            "[project]\nname = \"{name}\"\nversion = \"1\"\ndependencies = [{}]\n",
            deps.join(", ")
        );
        if !scripts.is_empty() {
            text.push_str("\n[project.scripts]\n");
            for script in scripts {
                text.push_str(&format!("{script} = \"m:main\"\n"));
            }
        }
        text + BUILD
    }

    fn error(dir: &tempfile::TempDir) -> String {
        let err = Workspace::find(dir.path()).err().expect("an error");
        assert!(crate::base::error::is_usage(&err), "{err:#}");
        format!("{err:#}")
    }

    #[test]
    fn the_fixture_has_two_apps_over_one_library() {
        let ws = Workspace::find(&fixture()).unwrap().unwrap();
        let names: Vec<&str> = ws.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["ws-api", "ws-core", "ws-worker"]);
        let api = ws.member("WS_Api").unwrap();
        assert_eq!(api.dir, "apps/api");
        assert_eq!(api.scripts, ["api"]);
        assert_eq!(api.requires, ["ws-core"]);
        assert_eq!(ws.member("ws.core").unwrap().requires, Vec::<String>::new());
        let apps: Vec<&str> = ws.apps().map(|m| m.name.as_str()).collect();
        assert_eq!(apps, ["ws-api", "ws-worker"]);
        let closure: Vec<&str> = ws
            .closure("ws-worker")
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(closure, ["ws-worker", "ws-core"]);
        assert!(ws.closure("nothing").is_empty());
        let dependents =
            |name| -> Vec<String> { ws.dependents(name).iter().map(|m| m.name.clone()).collect() };
        assert_eq!(dependents("ws-core"), ["ws-api", "ws-worker"]);
        assert_eq!(dependents("ws-api"), ["ws-api"]);
        let at = |path| ws.member_at(path).map(|m| m.name.as_str());
        assert_eq!(at("libs/core/src/ws_core/__init__.py"), Some("ws-core"));
        assert_eq!(at("apps/api"), Some("ws-api"));
        assert_eq!(at("apps/apiary/x.py"), None);
        assert_eq!(at("uv.lock"), None);
    }

    #[test]
    fn no_workspace_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Workspace::find(dir.path()).unwrap().is_none());
        std::fs::write(dir.path().join(PYPROJECT), "[project]\nname = \"x\"\n").unwrap();
        assert!(Workspace::find(dir.path()).unwrap().is_none());
        // A project's pyproject.toml discovery cannot read is not its business...
        std::fs::write(dir.path().join(PYPROJECT), "[project]\nname = 3\n").unwrap();
        assert!(Workspace::find(dir.path()).unwrap().is_none());
        // ...unless it makes a workspace.
        std::fs::write(
            dir.path().join(PYPROJECT),
            "[project]\nname = 3\n[tool.uv.workspace]\nmembers = []\n",
        )
        .unwrap();
        assert!(
            error(&dir).contains("pyproject.toml:2:8"),
            "{}",
            error(&dir)
        );
    }

    #[test]
    fn a_root_with_a_project_is_a_member_and_holds_every_path() {
        let root = format!("[project]\nname = \"Top\"\nversion = \"0\"\n{ROOT}");
        let dir = make(&root, &[("libs/core", &member("core", &[], &[]))]);
        let ws = Workspace::find(dir.path()).unwrap().unwrap();
        let dirs: Vec<(&str, &str)> = ws
            .members
            .iter()
            .map(|m| (m.name.as_str(), m.dir.as_str()))
            .collect();
        assert_eq!(dirs, [("core", "libs/core"), ("top", ".")]);
        assert_eq!(ws.member_at("README.md").unwrap().name, "top");
        assert_eq!(ws.member_at("libs/core/x.py").unwrap().name, "core");
    }

    #[test]
    fn exclude_files_hidden_and_empty_directories_are_skipped() {
        let root = "[tool.uv.workspace]\nmembers = [\"apps/*\", \"libs/core\", \"libs/core\"]\nexclude = [\"apps/old*\"]\n";
        let dir = make(
            root,
            &[
                ("apps/a", &member("a", &["core"], &["a"])),
                ("apps/old-b", &member("b", &[], &["b"])),
                ("libs/core", &member("core", &[], &[])),
            ],
        );
        std::fs::write(dir.path().join("apps/NOTES.md"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("apps/.cache")).unwrap();
        std::fs::write(dir.path().join("apps/.cache/x"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("apps/gone/sub")).unwrap();
        let ws = Workspace::find(dir.path()).unwrap().unwrap();
        let names: Vec<&str> = ws.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "core"]);
    }

    #[test]
    fn a_directory_holding_only_git_ignored_files_is_skipped_as_uv_skips_it() {
        let dir = make(ROOT, &[("libs/core", &member("core", &[], &[]))]);
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::create_dir_all(dir.path().join("apps/old/__pycache__")).unwrap();
        std::fs::write(dir.path().join("apps/old/__pycache__/m.pyc"), "").unwrap();
        assert!(error(&dir).contains("apps/old/, which has no pyproject.toml"));
        std::fs::write(dir.path().join(".gitignore"), "__pycache__/\n").unwrap();
        let ws = Workspace::find(dir.path()).unwrap().unwrap();
        assert_eq!(ws.members.len(), 1);
    }

    #[test]
    fn a_glob_matching_a_directory_without_pyproject_is_an_error() {
        let dir = make(ROOT, &[("libs/core", &member("core", &[], &[]))]);
        std::fs::create_dir_all(dir.path().join("apps/junk")).unwrap();
        std::fs::write(dir.path().join("apps/junk/README"), "").unwrap();
        let text = error(&dir);
        assert!(text.contains("pyproject.toml:2:12"), "{text}");
        assert!(
            text.contains("`apps/*` matches apps/junk/, which has no pyproject.toml"),
            "{text}"
        );
    }

    #[test]
    fn bad_members_values_are_errors_at_their_place() {
        for (root, place, words) in [
            (
                "[tool.uv.workspace]\nmembers = \"apps/*\"\n",
                "2:11",
                "invalid type",
            ),
            (
                "[tool.uv.workspace]\nmembers = [\"../x\"]\n",
                "2:12",
                "leads out of the workspace root",
            ),
            (
                "[tool.uv.workspace]\nmembers = [\"/x\"]\n",
                "2:12",
                "is absolute",
            ),
            (
                "[tool.uv.workspace]\nmembers = [\"a/[b\"]\n",
                "2:12",
                "bad glob",
            ),
            (
                "[tool.uv.workspace]\nmembers = []\nexclude = [\"a/[b\"]\n",
                "3:12",
                "bad glob",
            ),
        ] {
            let dir = make(root, &[]);
            let text = error(&dir);
            assert!(
                text.contains(&format!("pyproject.toml:{place}")),
                "{root}: {text}"
            );
            assert!(text.contains(words), "{root}: {text}");
        }
    }

    #[test]
    fn a_member_without_a_name_is_an_error() {
        let dir = make(
            ROOT,
            &[("libs/core", &format!("[project]\nversion = \"1\"\n{BUILD}"))],
        );
        let text = error(&dir);
        assert!(text.contains("libs/core/pyproject.toml:1:1"), "{text}");
        assert!(text.contains("has no `[project] name`"), "{text}");
        let dir = make(ROOT, &[("libs/core", BUILD)]);
        assert!(
            error(&dir).contains("has no `[project]` table"),
            "{}",
            error(&dir)
        );
    }

    #[test]
    fn two_members_of_one_name_are_an_error_naming_both_files() {
        let dir = make(
            ROOT,
            &[
                ("apps/a", &member("Core", &[], &[])),
                ("libs/core", &member("core", &[], &[])),
            ],
        );
        let text = error(&dir);
        assert!(text.contains("libs/core/pyproject.toml:2:8"), "{text}");
        assert!(text.contains("apps/a/pyproject.toml:2:8"), "{text}");
        assert!(
            text.contains("two workspace members are named `core`"),
            "{text}"
        );
    }

    #[test]
    fn a_member_name_that_is_no_project_name_is_refused_at_it() {
        let dir = make(ROOT, &[("apps/a", &member("../../evil", &[], &["a"]))]);
        let text = error(&dir);
        assert!(text.contains("apps/a/pyproject.toml:2:8"), "{text}");
        assert!(
            text.contains("`../../evil` is not a valid project name"),
            "{text}"
        );
    }

    #[test]
    fn one_script_in_two_members_is_an_error_naming_both_files() {
        let dir = make(
            ROOT,
            &[
                ("apps/a", &member("a", &[], &["a", "serve"])),
                ("apps/b", &member("b", &[], &["serve"])),
            ],
        );
        let text = error(&dir);
        assert!(text.contains("apps/b/pyproject.toml:7:1"), "{text}");
        assert!(text.contains("apps/a/pyproject.toml:8:1"), "{text}");
        assert!(text.contains("dist/serve.pex"), "{text}");
    }

    #[test]
    fn scripts_keep_the_files_order() {
        let dir = make(
            ROOT,
            &[("apps/a", &member("a", &[], &["zeta", "alpha", "mid"]))],
        );
        let ws = Workspace::find(dir.path()).unwrap().unwrap();
        assert_eq!(ws.members[0].scripts, ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn a_cycle_is_an_error_naming_it() {
        let dir = make(
            ROOT,
            &[
                ("apps/a", &member("a", &["b"], &["a"])),
                ("libs/b", &member("b", &["c>=1"], &[])),
                ("libs/c", &member("c", &["B ; python_version > '3'"], &[])),
            ],
        );
        let text = error(&dir);
        assert!(text.contains("in a cycle: b → c → b"), "{text}");
        assert!(text.contains("libs/b/pyproject.toml:4:17"), "{text}");
    }

    #[test]
    fn requirements_match_members_by_normalised_name_and_through_extras() {
        let core = format!(
            "[project]\nname = \"core\"\nversion = \"1\"\n\
             [project.optional-dependencies]\nFast = [\"speedups\", \"six\"]\n{BUILD}"
        );
        let dir = make(
            ROOT,
            &[
                (
                    "apps/a",
                    &member(
                        "a",
                        &["Core[fast] >= 1 ; sys_platform == 'linux'", "six"],
                        &["a"],
                    ),
                ),
                ("libs/core", &core),
                ("libs/speedups", &member("speedups", &[], &[])),
            ],
        );
        let ws = Workspace::find(dir.path()).unwrap().unwrap();
        assert_eq!(ws.member("a").unwrap().requires, ["core", "speedups"]);
        assert_eq!(ws.dependents("speedups").len(), 1);
    }

    #[test]
    fn a_virtual_member_is_an_error_only_where_its_code_is_needed() {
        let virtual_core = "[project]\nname = \"core\"\nversion = \"1\"\n";
        let dir = make(
            ROOT,
            &[
                ("apps/a", &member("a", &["core"], &["a"])),
                ("libs/core", virtual_core),
            ],
        );
        let text = error(&dir);
        assert!(text.contains("libs/core/pyproject.toml:2:8"), "{text}");
        assert!(text.contains("has no `[build-system]`"), "{text}");
        assert!(text.contains("`a` depends on it"), "{text}");
        let hints = crate::base::error::render(&Workspace::find(dir.path()).err().unwrap());
        assert!(
            hints.contains("hint: add to") && hints.contains("build-backend"),
            "{hints}"
        );

        let app = format!("{}[tool.uv]\npackage = false\n", member("a", &[], &["a"]));
        let dir = make(ROOT, &[("apps/a", &app)]);
        let text = error(&dir);
        assert!(text.contains("apps/a/pyproject.toml:12:11"), "{text}");
        let hints = crate::base::error::render(&Workspace::find(dir.path()).err().unwrap());
        assert!(hints.contains("hint: remove `package = false`"), "{hints}");
        assert!(text.contains("console script `a`"), "{text}");

        // A root gathering dev tools, which nothing needs, is fine.
        let root = format!("[project]\nname = \"dev\"\nversion = \"0\"\n{ROOT}");
        let dir = make(&root, &[("apps/a", &member("a", &[], &["a"]))]);
        assert_eq!(
            Workspace::find(dir.path()).unwrap().unwrap().members.len(),
            2
        );
    }
}
