//! The distributions a project depends on, by name, as far as its files say without
//! running anything: `[project] dependencies` of `pyproject.toml`, `install_requires` of
//! `setup.cfg`, the requirement-shaped string literals of `setup.py`, the lines of the
//! `requirements*.txt` files at the root, and every package of `uv.lock` or `pylock.toml`
//! (which name indirect dependencies too). Best-effort: `init` only looks the names up in
//! the table of usual suspects (`base::prerequisites::known`), so a stray name costs nothing, and a file
//! that cannot be read or parsed adds none.

use std::fs;
use std::path::Path;

use super::setup_cfg::Ini;
use super::setup_py::{Token, python_tokens};
use crate::base::prerequisites::known::normalize;
use crate::python::requirement;

/// The normalised names, each once, in the order first found.
pub(crate) fn read(root: &Path, requirement_files: &[String]) -> Vec<String> {
    let text = |file: &str| fs::read_to_string(root.join(file)).ok();
    let mut names: Vec<String> = Vec::new();
    if let Some(text) = text("pyproject.toml") {
        names.extend(pyproject(&text));
    }
    if let Some(text) = text("setup.cfg")
        && let Ok(ini) = Ini::parse(&text)
        && let Some(requires) = ini.get("options", "install_requires")
    {
        names.extend(requires.lines().filter_map(requirement_name));
    }
    if let Some(text) = text("setup.py") {
        names.extend(
            python_tokens(&text)
                .into_iter()
                .filter_map(|token| match token {
                    Token::Str(literal) => requirement_name(literal),
                    _ => None,
                }),
        );
    }
    for file in requirement_files {
        if let Some(text) = text(file) {
            names.extend(text.lines().filter_map(requirement_name));
        }
    }
    for (file, key) in [("uv.lock", "package"), ("pylock.toml", "packages")] {
        if let Some(text) = text(file) {
            names.extend(locked(&text, key));
        }
    }
    let mut unique: Vec<String> = Vec::new();
    for name in names.iter().map(|n| normalize(n)) {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    unique
}

fn pyproject(text: &str) -> Vec<String> {
    let Ok(document) = toml::from_str::<toml::Table>(text) else {
        return Vec::new();
    };
    document
        .get("project")
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().and_then(requirement_name))
        .collect()
}

fn locked(text: &str, key: &str) -> Vec<String> {
    let Ok(document) = toml::from_str::<toml::Table>(text) else {
        return Vec::new();
    };
    document
        .get(key)
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| Some(p.get("name")?.as_str()?.to_string()))
        .collect()
}

/// The name of a requirement line or string (`python-ldap>=3.4 ; python_version > "3"`,
/// a comment after it allowed), normalised, when the text is one (see
/// `python::requirement`). Options (`-r x.txt`), comments and prose are none.
fn requirement_name(text: &str) -> Option<String> {
    requirement::name(text.split('#').next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_shapes() {
        for (text, name) in [
            ("python-ldap", Some("python-ldap")),
            ("psycopg2>=2.9 ; python_version >= '3.8'", Some("psycopg2")),
            ("lxml[html_clean] == 5.3.0", Some("lxml")),
            ("pkg @ https://example.com/pkg.tar.gz", Some("pkg")),
            ("Click  # the CLI", Some("click")),
            ("PyYAML", Some("pyyaml")),
            ("-r requirements-base.txt", None),
            ("# a comment", None),
            ("ldap2pg.script:main", None),
            ("Manage PostgreSQL roles", None),
            ("", None),
        ] {
            assert_eq!(requirement_name(text).as_deref(), name, "{text}");
        }
    }

    #[test]
    fn every_source_is_read_and_names_come_once() {
        let dir = tempfile::tempdir().unwrap();
        let write = |file: &str, text: &str| fs::write(dir.path().join(file), text).unwrap();
        write(
            "pyproject.toml",
            "[project]\nname = \"x\"\ndependencies = [\"lxml>=5\", \"click\"]\n",
        );
        write(
            "setup.cfg",
            "[options]\ninstall_requires =\n    pyodbc\n    Click\n",
        );
        write(
            "setup.py",
            "install_requires = ['python-ldap', 'pyyaml']\nsetup(name='x', version='1.0')\n",
        );
        write("requirements.txt", "-r base.txt\npsycopg2==2.9.10\n");
        write(
            "uv.lock",
            "version = 1\n[[package]]\nname = \"cffi\"\nversion = \"1.17.1\"\n",
        );
        let names = read(dir.path(), &["requirements.txt".to_string()]);
        for name in ["lxml", "pyodbc", "python-ldap", "psycopg2", "cffi"] {
            assert!(names.iter().any(|n| n == name), "{name}: {names:?}");
        }
        assert_eq!(names[..2], ["lxml", "click"]);
        assert_eq!(names.iter().filter(|n| *n == "click").count(), 1);
    }
}
