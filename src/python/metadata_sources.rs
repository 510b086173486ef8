//! The files a project's metadata is computed from besides `setup.py`, `setup.cfg` and
//! `pyproject.toml` themselves: a version read from a module (setuptools' `attr:`, hatch's
//! and pdm's version `path`, flit's `__version__`) or from a file, and requirements read
//! from files (setuptools' `file:`, hatch-requirements-txt). The editable install's
//! METADATA is made from them and the layered bundle ships that METADATA, so they are
//! inputs of `develop`: a version bump in `__init__.py` must reach `version()` in the
//! bundle, and a line added to a requirements file must reach the dependencies layer.
//!
//! A version from version control (setuptools-scm, hatch-vcs...) depends on the commit
//! checked out: [`vcs_state`] names git's files that say which (`HEAD`, its branch's ref,
//! `packed-refs`), so a commit or a checkout installs again and the bundle gets the new
//! version. Not covered: a new tag on the same commit, the working tree's dirtiness (each
//! edit would reinstall), and whatever code in `setup.py` reads.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::base::distribution_name::normalize;
use crate::python::detect::Ini;
use crate::python::requirement;

/// Build requirements that take the version from version control.
const VCS_VERSIONING: &[&str] = &[
    "setuptools-scm",
    "setuptools_scm",
    "hatch-vcs",
    "versioningit",
    "dunamai",
    "poetry-dynamic-versioning",
    "pdm-backend-scm",
];

/// Whether a `pyproject.toml`'s build requirements take the version from version control.
pub(crate) fn versioned_by_vcs(pyproject: &toml::Table) -> bool {
    let requires = pyproject
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array());
    requires
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str)
        .filter_map(requirement::name)
        .any(|name| VCS_VERSIONING.iter().any(|vcs| normalize(vcs) == name))
}

/// For a project versioned from version control in a git checkout: git's files that say
/// which commit is checked out (keys relative to the root), else none.
pub(crate) fn vcs_state(root: &Path) -> Vec<String> {
    let pyproject = fs::read_to_string(root.join("pyproject.toml")).unwrap_or_default();
    let by_vcs = pyproject
        .parse::<toml::Table>()
        .is_ok_and(|table| versioned_by_vcs(&table))
        || fs::read_to_string(root.join("setup.py")).is_ok_and(|t| t.contains("use_scm_version"));
    // A linked worktree's `.git` is a file: its HEAD lives elsewhere, left out.
    if !by_vcs || !root.join(".git").is_dir() {
        return Vec::new();
    }
    let mut files = vec![".git/HEAD".to_string()];
    let head = fs::read_to_string(root.join(".git/HEAD")).unwrap_or_default();
    if let Some(branch) = head.trim().strip_prefix("ref: ")
        && !branch.contains("..")
    {
        files.push(format!(".git/{branch}"));
    }
    if root.join(".git/packed-refs").is_file() {
        files.push(".git/packed-refs".into());
    }
    files
}

/// The project files (keys relative to the root) the metadata is read from; a named
/// file that does not exist is listed too, so creating it is a change.
pub(crate) fn find(root: &Path, files: &[String]) -> BTreeSet<String> {
    let mut found = Found {
        files,
        sources: BTreeSet::new(),
    };
    if let Ok(text) = fs::read_to_string(root.join("pyproject.toml"))
        && let Ok(table) = text.parse::<toml::Table>()
    {
        found.pyproject(&table);
    }
    if let Ok(text) = fs::read_to_string(root.join("setup.cfg"))
        && let Ok(ini) = Ini::parse(&text)
    {
        found.setup_cfg(&ini);
    }
    found.sources
}

struct Found<'f> {
    files: &'f [String],
    sources: BTreeSet<String>,
}

impl Found<'_> {
    fn pyproject(&mut self, table: &toml::Table) {
        let tool = table.get("tool");
        let dynamic = tool
            .and_then(|t| t.get("setuptools"))
            .and_then(|t| t.get("dynamic"));
        if let Some(dynamic) = dynamic.and_then(toml::Value::as_table) {
            for (key, value) in dynamic {
                match (key.as_str(), value) {
                    ("optional-dependencies", toml::Value::Table(extras)) => {
                        extras.values().for_each(|extra| self.directive(extra));
                    }
                    ("version" | "dependencies", value) => self.directive(value),
                    _ => {}
                }
            }
        }
        let hatch = tool.and_then(|t| t.get("hatch"));
        if let Some(path) = hatch
            .and_then(|h| h.get("version"))
            .and_then(|v| v.get("path"))
            .and_then(toml::Value::as_str)
        {
            self.file(path);
        }
        if let Some(files) = hatch
            .and_then(|h| h.get("metadata"))
            .and_then(|m| m.get("hooks"))
            .and_then(|h| h.get("requirements_txt"))
            .and_then(|r| r.get("files"))
            .and_then(toml::Value::as_array)
        {
            files
                .iter()
                .filter_map(toml::Value::as_str)
                .for_each(|f| self.file(f));
        }
        if let Some(path) = tool
            .and_then(|t| t.get("pdm"))
            .and_then(|p| p.get("version"))
            .and_then(|v| v.get("path"))
            .and_then(toml::Value::as_str)
        {
            self.file(path);
        }
        self.flit_version(table);
    }

    /// flit takes a dynamic version from the module's `__version__`.
    fn flit_version(&mut self, table: &toml::Table) {
        let backend = table
            .get("build-system")
            .and_then(|b| b.get("build-backend"))
            .and_then(toml::Value::as_str);
        let project = table.get("project");
        let dynamic_version = project
            .and_then(|p| p.get("dynamic"))
            .and_then(toml::Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("version")));
        if backend != Some("flit_core.buildapi") || !dynamic_version {
            return;
        }
        let module = table
            .get("tool")
            .and_then(|t| t.get("flit"))
            .and_then(|f| f.get("module"))
            .and_then(|m| m.get("name"))
            .or_else(|| project.and_then(|p| p.get("name")))
            .and_then(toml::Value::as_str);
        if let Some(module) = module {
            self.module(&module.replace('-', "_"));
        }
    }

    /// `{attr = "pkg.mod.NAME"}` or `{file = "F" | ["F", ...]}`.
    fn directive(&mut self, value: &toml::Value) {
        if let Some(attr) = value.get("attr").and_then(toml::Value::as_str) {
            self.attr(attr);
        }
        match value.get("file") {
            Some(toml::Value::String(file)) => self.file(file),
            Some(toml::Value::Array(files)) => files
                .iter()
                .filter_map(toml::Value::as_str)
                .for_each(|f| self.file(f)),
            _ => {}
        }
    }

    fn setup_cfg(&mut self, ini: &Ini) {
        for (section, key, value) in &ini.entries {
            let relevant = matches!(
                (section.as_str(), key.as_str()),
                ("metadata", "version") | ("options", "install_requires")
            ) || section == "options.extras_require";
            if !relevant {
                continue;
            }
            if let Some(attr) = value.strip_prefix("attr:") {
                self.attr(attr.trim());
            } else if let Some(files) = value.strip_prefix("file:") {
                files
                    .split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .for_each(|f| self.file(f));
            }
        }
    }

    fn file(&mut self, path: &str) {
        let path = path.trim_start_matches("./");
        if !path.is_empty() && !path.starts_with('/') && !path.contains("..") {
            self.sources.insert(path.to_string());
        }
    }

    /// `pkg.mod.NAME`: the module `pkg.mod`, as a file of the project.
    fn attr(&mut self, attr: &str) {
        // A bare name (`attr: VERSION`) cannot be found without setuptools' package_dir.
        if let Some((module, _)) = attr.rsplit_once('.') {
            self.module(module);
        }
    }

    /// The module's file in the flat or src layout, else wherever a `package_dir` put it
    /// (any folder: an extra match only costs an extra install).
    fn module(&mut self, module: &str) {
        let path = module.replace('.', "/");
        let candidates = [format!("{path}.py"), format!("{path}/__init__.py")];
        let usual = |file: &String| {
            candidates
                .iter()
                .any(|c| *file == *c || file.strip_prefix("src/") == Some(c))
        };
        let suffixes = candidates.each_ref().map(|c| format!("/{c}"));
        let anywhere = |file: &String| suffixes.iter().any(|s| file.ends_with(s.as_str()));
        let mut matches: Vec<&String> = self.files.iter().filter(|f| usual(f)).collect();
        if matches.is_empty() {
            matches = self.files.iter().filter(|f| anywhere(f)).collect();
        }
        self.sources.extend(matches.into_iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(files: &[&str], pyproject: &str, setup_cfg: &str) -> Vec<String> {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("pyproject.toml"), pyproject).unwrap();
        fs::write(root.path().join("setup.cfg"), setup_cfg).unwrap();
        let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        find(root.path(), &files).into_iter().collect()
    }

    const FILES: &[&str] = &[
        "src/app/__init__.py",
        "src/app/about.py",
        "src/app/cli.py",
        "tests/app/about.py",
        "VERSION",
    ];

    #[test]
    fn setuptools_attr_and_file_directives_in_pyproject() {
        let pyproject = r#"
[tool.setuptools.dynamic]
version = {attr = "app.about.__version__"}
dependencies = {file = ["requirements.in"]}
readme = {file = "README.md"}
optional-dependencies.dev = {file = "dev.txt"}
"#;
        assert_eq!(
            found(FILES, pyproject, ""),
            ["dev.txt", "requirements.in", "src/app/about.py"]
        );
    }

    #[test]
    fn setup_cfg_attr_and_file_directives() {
        let cfg = "[metadata]\nname = app\nversion = attr: app.__version__\n\n[options]\ninstall_requires = file: reqs.txt, more.txt\n\n[options.extras_require]\ntest = file: test.txt\n";
        assert_eq!(
            found(FILES, "", cfg),
            ["more.txt", "reqs.txt", "src/app/__init__.py", "test.txt"]
        );
    }

    #[test]
    fn hatch_pdm_and_flit_versions() {
        let hatch = "[tool.hatch.version]\npath = \"src/app/about.py\"\n[tool.hatch.metadata.hooks.requirements_txt]\nfiles = [\"requirements.txt\"]\n";
        assert_eq!(
            found(FILES, hatch, ""),
            ["requirements.txt", "src/app/about.py"]
        );
        let pdm = "[tool.pdm.version]\nsource = \"file\"\npath = \"VERSION\"\n";
        assert_eq!(found(FILES, pdm, ""), ["VERSION"]);
        let flit = "[build-system]\nbuild-backend = \"flit_core.buildapi\"\n[project]\nname = \"app\"\ndynamic = [\"version\", \"description\"]\n";
        assert_eq!(found(FILES, flit, ""), ["src/app/__init__.py"]);
        let static_flit = flit.replace("\"version\", ", "");
        assert!(found(FILES, &static_flit, "").is_empty());
    }

    #[test]
    fn a_module_outside_the_usual_layouts_is_found_anywhere() {
        let pyproject = "[tool.setuptools.dynamic]\nversion = {attr = \"lib.VERSION\"}\n";
        assert_eq!(
            found(&["code/lib/__init__.py", "x.py"], pyproject, ""),
            ["code/lib/__init__.py"]
        );
    }

    #[test]
    fn static_metadata_and_unreadable_files_add_nothing() {
        assert!(found(FILES, "[project]\nname = \"app\"\nversion = \"1.0\"\n", "").is_empty());
        assert!(found(FILES, "not toml [", "not ini").is_empty());
        let outside = "[tool.setuptools.dynamic]\nversion = {file = \"../VERSION\"}\n";
        assert!(found(FILES, outside, "").is_empty());
    }
}
