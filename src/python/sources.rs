//! Where the venv's requirements come from, as files: the environment lock (`uv.lock`,
//! `pylock.toml`), else the `[env] requirements` files, and the development requirement
//! files `[env] tools` names (`-r FILE`); each with the files it includes (`-r`) or
//! constrains with (`-c`). Each file is read once per [`Sources`] (a build's, see
//! `Build::sources`), however many steps ask.
//!
//! Requirement files are pip's syntax, not PEP 508: options, includes, `-e`, comments,
//! `\` continuations and `--hash` options around the requirement strings. This module
//! reads that syntax; the requirement strings themselves are parsed by
//! `python::requirement`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::base::config::{self, Config};
use crate::base::project::{EnvLock, Project};
use crate::engine::statcache::{Hash, hash_bytes};
use crate::python::requirement::{self, Requirement};

/// The requirement files of a project, read once each.
pub(crate) struct Sources {
    root: PathBuf,
    lock: Option<EnvLock>,
    requirements: Vec<String>,
    tools: Vec<String>,
    /// Each file's bytes, by its path relative to the root; `None` when unreadable.
    read: RefCell<BTreeMap<String, Option<Rc<[u8]>>>>,
}

impl Sources {
    pub(crate) fn of(project: &Project) -> Sources {
        Sources {
            root: project.root.clone(),
            lock: project.env_lock(),
            requirements: project.config.env.requirements.clone(),
            tools: project.config.env.tools.clone(),
            read: RefCell::default(),
        }
    }

    /// The sources of a project at `root` with no lock and no `[env]` files: for reading
    /// files through.
    #[cfg(test)]
    pub(crate) fn at(root: &Path) -> Sources {
        Sources {
            root: root.to_path_buf(),
            lock: None,
            requirements: Vec::new(),
            tools: Vec::new(),
            read: RefCell::default(),
        }
    }

    /// The path of `file` (relative to the root, or absolute).
    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.root.join(file)
    }

    /// The environment lock, if there is one.
    pub(crate) fn lock(&self) -> Option<EnvLock> {
        self.lock
    }

    /// `[env] requirements`, relative to the root; none when an environment lock is the
    /// venv's source.
    pub(crate) fn requirement_files(&self) -> &[String] {
        match self.lock {
            Some(_) => &[],
            None => &self.requirements,
        }
    }

    /// What the venv's environment is installed from, relative to the root: the
    /// environment lock, or the requirement files and every file they include (`-r`) or
    /// constrain with (`-c`), in the order met. Included files outside the project are
    /// left out (they are not the project's).
    pub(crate) fn requirement_inputs(&self) -> Vec<String> {
        if let Some(lock) = self.lock {
            return vec![lock.file_name().to_string()];
        }
        self.with_includes(self.requirements.clone())
    }

    /// The files whose lines are the app's requirements: the `[env] requirements` files and
    /// those they include with `-r` (not the constraint files, which ask for nothing),
    /// inside the project; none when an environment lock is the venv's source.
    pub(crate) fn requiring_files(&self) -> Vec<String> {
        self.following(self.requirement_files().to_vec(), &REQUIRES)
    }

    /// Whether a requirement file (`[env] requirements`, or one it includes) asks for the
    /// requirements of a file outside the project (`-r ../common.txt`), which
    /// [`Sources::requirement_inputs`] leaves out: what the app asks for is then not all
    /// in the project.
    pub(crate) fn requires_outside(&self) -> bool {
        self.requirement_inputs().iter().any(|file| {
            let dir = Path::new(file).parent().unwrap_or(Path::new(""));
            let text = self.text(file);
            includes(&text, &REQUIRES)
                .iter()
                .any(|included| !config::is_inside(&dir.join(included)))
        })
    }

    /// The requirement files `[env] tools` installs (`-r FILE`, `--requirement=FILE`: a
    /// development requirement file goes into the venv, never the bundle), relative to
    /// the root, in order.
    pub(crate) fn tool_files(&self) -> Vec<String> {
        tool_files(&self.tools)
    }

    /// The tool files and every file they include or constrain with, in the order met.
    pub(crate) fn tool_inputs(&self) -> Vec<String> {
        self.with_includes(self.tool_files())
    }

    /// The text of `file` (relative to the root, or absolute); empty when it cannot be
    /// read (the installer that reads it says why).
    pub(crate) fn text(&self, file: &str) -> String {
        self.bytes(file)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The content hash of `file` (as `statcache` hashes files), `None` when it cannot be
    /// read.
    pub(crate) fn hash(&self, file: &str) -> Option<Hash> {
        self.bytes(file).map(|bytes| hash_bytes(&bytes))
    }

    fn bytes(&self, file: &str) -> Option<Rc<[u8]>> {
        // One key per file, however it is named (an include is reached by its full path).
        let key = match Path::new(file).strip_prefix(&self.root) {
            Ok(relative) => relative.to_string_lossy(),
            Err(_) => file.into(),
        };
        if let Some(read) = self.read.borrow().get(key.as_ref()) {
            return read.clone();
        }
        let read: Option<Rc<[u8]>> = std::fs::read(self.root.join(file)).ok().map(Into::into);
        self.read
            .borrow_mut()
            .insert(key.into_owned(), read.clone());
        read
    }

    /// The names `files` ask for unconditionally (see [`requirement_file_names`]).
    pub(crate) fn names_in(&self, files: &[String]) -> Vec<String> {
        files
            .iter()
            .flat_map(|file| requirement_file_names(&self.text(file)))
            .collect()
    }

    /// `files` and every file they include (`-r`) or constrain with (`-c`) inside the
    /// project, in the order met.
    fn with_includes(&self, files: Vec<String>) -> Vec<String> {
        self.following(files, &INCLUDES)
    }

    /// `files` and every file they name with one of `options`, inside the project, in the
    /// order met.
    fn following(&self, files: Vec<String>, options: &[&str]) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let mut queue: Vec<String> = files;
        while let Some(file) = queue.pop() {
            if found.contains(&file) {
                continue;
            }
            let text = self.text(&file);
            let dir = Path::new(&file).parent().unwrap_or(Path::new(""));
            for included in includes(&text, options) {
                let path = dir.join(included);
                if config::is_inside(&path) {
                    queue.push(normal(&path));
                }
            }
            found.push(file);
        }
        found
    }
}

/// The requirement files of `[env] tools` (see [`Sources::tool_files`]).
fn tool_files(tools: &[String]) -> Vec<String> {
    tools
        .iter()
        .filter_map(|tool| tool_file(tool))
        .map(str::to_string)
        .collect()
}

/// `[env] tools` but their requirement files: what the tools step installs by name.
pub(crate) fn tool_packages(config: &Config) -> Vec<String> {
    config
        .env
        .tools
        .iter()
        .filter(|tool| tool_file(tool).is_none())
        .cloned()
        .collect()
}

/// The file of a tool entry `-r FILE` (`-rFILE`, `--requirement FILE`, `--requirement=FILE`).
fn tool_file(tool: &str) -> Option<&str> {
    let rest = ["--requirement", "-r"]
        .iter()
        .find_map(|option| tool.trim().strip_prefix(option))?;
    let file = rest.trim_start_matches([' ', '=']).trim();
    (!file.is_empty()).then_some(file)
}

/// The options of a requirement file that include another's requirements.
const REQUIRES: [&str; 2] = ["--requirement", "-r"];

/// The options of a requirement file that name another file.
const INCLUDES: [&str; 4] = ["--requirement", "--constraint", "-r", "-c"];

/// The files a requirement file names with one of `options`.
fn includes<'t>(text: &'t str, options: &[&str]) -> Vec<&'t str> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(" #").next().unwrap_or(line).trim();
            options
                .iter()
                .find_map(|option| line.strip_prefix(option))
                .map(|rest| rest.trim_start_matches('=').trim())
        })
        .filter(|path| !path.is_empty() && !path.contains("://"))
        .collect()
}

/// What a requirement `line` installs: the line without its comment and its `-e` /
/// `--editable` option (`-e ../lib[x]  # ours` → `../lib[x]`).
pub(crate) fn install_target(line: &str) -> &str {
    let line = line.split(" #").next().unwrap_or(line).trim();
    ["--editable", "-e"]
        .iter()
        .find_map(|option| line.strip_prefix(option))
        .map_or(line, |rest| rest.trim_start_matches([' ', '=']).trim())
}

/// `a/./b/../c` as `a/c`, with `/` separators.
fn normal(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(part) => parts.push(part.to_string_lossy().into()),
            _ => {}
        }
    }
    parts.join("/")
}

/// The normalised names a requirement file asks for unconditionally: requirements with
/// an environment marker or a URL are skipped, since only an installer can tell what they
/// give, and so are options (`-r`, `-c`), paths and whatever is no requirement string.
pub(crate) fn requirement_file_names(text: &str) -> Vec<String> {
    requirement_lines(text)
        .iter()
        .filter_map(|line| Requirement::parse(line))
        .filter(|requirement| requirement.is_unconditional() && !requirement.is_url())
        .map(|requirement| requirement.name().to_string())
        .collect()
}

/// Each `name==version` line of a requirement file: `(name, version)`, normalised.
pub(crate) fn exact_pins(text: &str) -> Vec<(String, String)> {
    requirement_lines(text)
        .iter()
        .filter_map(|line| requirement::exact_pin(line))
        .collect()
}

/// The requirement lines of a requirement file, markers and extras kept, options (`-r`,
/// `-c`, `--hash`), URLs and paths left out: what an installer was asked for.
pub(crate) fn requirement_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let line = line.split(" #").next().unwrap_or(line);
            let line = line.split(" --").next().unwrap_or(line);
            line.trim().trim_end_matches('\\').trim()
        })
        .filter(|line| !line.is_empty() && !line.starts_with(['#', '-', '.', '/']))
        .filter(|line| !line.contains("://") || line.contains(" @ "))
        .map(String::from)
        .collect()
}

/// The first line of a requirement file that installs something no name can be read
/// from without building it: a path, an unnamed URL, an editable other than the project.
pub(crate) fn unnamed_requirement(text: &str) -> Option<&str> {
    let lines = text
        .lines()
        .map(|line| line.split(" #").next().unwrap_or(line).trim())
        .filter(|line| !line.starts_with('#'));
    lines.into_iter().find(|line| {
        let target = ["--editable", "-e"]
            .iter()
            .find_map(|option| line.strip_prefix(option))
            .map(|rest| rest.trim_start_matches('=').trim());
        match target {
            Some(target) => target != "." && !target.starts_with(".["),
            None => {
                line.starts_with(['.', '/']) && !line.starts_with(".[") && *line != "."
                    || (line.contains("://") && !line.contains(" @ ") && !line.starts_with('-'))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_and_constraints_are_found() {
        let text = "six\n-r base.txt\n--constraint=../c.txt\n-c  pins/c.txt # pinned\n\
                    --requirement other.txt\n-e .\n--hash=sha256:x\n";
        assert_eq!(
            includes(text, &INCLUDES),
            ["base.txt", "../c.txt", "pins/c.txt", "other.txt"]
        );
        assert_eq!(normal(Path::new("req/../pins/./c.txt")), "pins/c.txt");
    }

    #[test]
    fn tool_entries_naming_files() {
        for (tool, file) in [
            ("-r requirements-dev.txt", Some("requirements-dev.txt")),
            ("-rdev.txt", Some("dev.txt")),
            ("--requirement=dev.txt", Some("dev.txt")),
            ("--requirement dev.txt", Some("dev.txt")),
            ("pytest", None),
            ("-r", None),
        ] {
            assert_eq!(tool_file(tool), file, "{tool}");
        }
    }

    #[test]
    fn requirement_files_give_their_unconditional_names() {
        let text = "# pins\nclick==8.1.3 \\\n    --hash=sha256:abc\nsix>=1.16  # comment\n\
                    -r other.txt\n-c constraints.txt\ntomli; python_version < \"3.11\"\n\
                    ./local\nPyYAML[extra]~=6.0\npkg @ https://x/y.whl\n";
        assert_eq!(requirement_file_names(text), ["click", "six", "pyyaml"]);
        assert_eq!(exact_pins(text), [("click".into(), "8.1.3".into())]);
        assert_eq!(
            requirement_lines(text),
            [
                "click==8.1.3",
                "six>=1.16",
                "tomli; python_version < \"3.11\"",
                "PyYAML[extra]~=6.0",
                "pkg @ https://x/y.whl"
            ]
        );
        assert_eq!(unnamed_requirement(text), Some("./local"));
        assert_eq!(
            unnamed_requirement("-e .[test]\nsix\npkg @ https://x\n"),
            None
        );
        assert_eq!(
            unnamed_requirement("-e ../shared-lib\n"),
            Some("-e ../shared-lib")
        );
        assert_eq!(
            unnamed_requirement("--index-url https://mirror/simple\nhttps://x/y.whl\n"),
            Some("https://x/y.whl")
        );
    }

    #[test]
    fn each_file_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "six\n-r base.txt\n").unwrap();
        std::fs::write(dir.path().join("base.txt"), "idna\n").unwrap();
        let sources = Sources {
            root: dir.path().to_path_buf(),
            lock: None,
            requirements: vec!["requirements.txt".into()],
            tools: vec!["-r dev.txt".into(), "pytest".into()],
            read: RefCell::default(),
        };
        assert_eq!(
            sources.requirement_inputs(),
            ["requirements.txt", "base.txt"]
        );
        std::fs::write(dir.path().join("base.txt"), "attrs\n").unwrap();
        assert_eq!(sources.names_in(&["base.txt".into()]), ["idna"]);
        let by_path = sources.path("base.txt");
        assert_eq!(sources.text(&by_path.to_string_lossy()), "idna\n");
        assert_eq!(sources.tool_files(), ["dev.txt"]);
        assert_eq!(sources.text("dev.txt"), "");
        assert_eq!(sources.hash("dev.txt"), None);
    }

    #[test]
    fn requirements_taken_from_outside_the_project_are_told() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("req")).unwrap();
        let sources = |files: &[(&str, &str)]| {
            for (file, text) in files {
                std::fs::write(root.join(file), text).unwrap();
            }
            Sources {
                root: root.to_path_buf(),
                lock: None,
                requirements: vec!["requirements.txt".into()],
                tools: Vec::new(),
                read: RefCell::default(),
            }
        };
        for (files, outside) in [
            (&[("requirements.txt", "six\n-r req/base.txt\n")][..], false),
            (&[("req/base.txt", "-r ../base.txt\n")], false),
            (&[("req/base.txt", "-r ../../common.txt\n")], true),
            (&[("req/base.txt", "-c ../../pins.txt\n")], false),
            (
                &[("requirements.txt", "--requirement=/srv/common.txt\n")],
                true,
            ),
            (&[("requirements.txt", "-r../common.txt # shared\n")], true),
        ] {
            assert_eq!(sources(files).requires_outside(), outside, "{files:?}");
        }
    }
}
