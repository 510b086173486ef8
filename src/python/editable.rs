//! What the project's editable install (the develop step's result) tells without running
//! Python: its `*.dist-info` (name, version, `Requires-Dist`, console scripts) and where
//! each of its top-level packages lives in the project tree.
//!
//! The package locations come from the `.pth` files the install's `RECORD` lists:
//! - a line that is a directory (setuptools' src layout, hatchling, flit, pdm) puts that
//!   directory on `sys.path`; the distribution's packages are the names in `top_level.txt`
//!   found there;
//! - a line that imports a finder (setuptools' flat layout and other "strict" cases) points
//!   at a `__editable__*_finder.py` whose `MAPPING` dict maps each top-level name to its
//!   path.
//!
//! Anything else (a legacy `*.egg-link`, a finder without a literal `MAPPING`, a package
//! outside the project) is [`Layout::Unknown`], and the caller builds a real wheel instead.

use std::fs;
use std::path::{Path, PathBuf};

use crate::python::installed::Dist;

/// The project's editable install.
#[derive(Debug, Clone)]
pub(crate) struct Editable {
    pub(crate) dist_info: PathBuf,
    /// The `NAME-VERSION.dist-info` folder name.
    pub(crate) dist_info_name: String,
    /// `Requires-Dist` entries that apply without extras, in file order.
    pub(crate) requires: Vec<String>,
    pub(crate) layout: Layout,
}

/// Where the distribution's top-level packages and modules live, relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `(name, path)`: the package directory or module file that `import name` loads.
    Packages(Vec<(String, String)>),
    Unknown(String),
}

impl Editable {
    /// Reads the editable install `dist` in `site_packages`, for a project at `root`.
    pub(crate) fn read(dist: &Dist, site_packages: &Path, root: &Path) -> Option<Editable> {
        let dist_info = dist.dist_info.clone();
        let dist_info_name = dist_info.file_name()?.to_str()?.to_string();
        dist.metadata()?;
        let layout = layout(dist, site_packages, root);
        Some(Editable {
            dist_info,
            dist_info_name,
            requires: dist.requires(),
            layout,
        })
    }
}

fn layout(dist: &Dist, site_packages: &Path, root: &Path) -> Layout {
    if dist.record().is_none() {
        return Layout::Unknown("the editable install has no RECORD".into());
    }
    let dist_info = &dist.dist_info;
    let top_level = dist.top_level();
    let top_level: Vec<&str> = top_level.iter().map(String::as_str).collect();
    let pth_files: Vec<&str> = dist
        .recorded_paths()
        .filter(|path| path.ends_with(".pth") && !path.contains('/'))
        .collect();
    let mut packages = Vec::new();
    for pth in &pth_files {
        let Ok(text) = fs::read_to_string(site_packages.join(pth)) else {
            continue;
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.starts_with("import ") {
                match finder_mapping(site_packages, line) {
                    Some(mapping) => packages.extend(mapping),
                    None => return Layout::Unknown(format!("cannot read the finder of {pth}")),
                }
            } else if !line.starts_with('#') {
                let dir = PathBuf::from(line);
                let inferred;
                let names: &[&str] = if top_level.is_empty() {
                    // hatchling and uv_build write no top_level.txt.
                    inferred = inferred_top_level(&dir, root, dist_info);
                    if inferred.is_empty() {
                        return Layout::Unknown(format!(
                            "{pth} adds {line} to sys.path but the install lists no top_level.txt"
                        ));
                    }
                    &inferred.iter().map(String::as_str).collect::<Vec<_>>()
                } else {
                    &top_level
                };
                for name in names {
                    let package = dir.join(name);
                    let module = dir.join(format!("{name}.py"));
                    if package.is_dir() {
                        packages.push((name.to_string(), package));
                    } else if module.is_file() {
                        packages.push((name.to_string(), module));
                    }
                }
            }
        }
    }
    if packages.is_empty() {
        return Layout::Unknown("the editable install points at no package".into());
    }
    let mut relative = Vec::new();
    for (name, path) in packages {
        match path.strip_prefix(root) {
            Ok(rel) if !rel.as_os_str().is_empty() => {
                relative.push((name, rel.to_string_lossy().replace('\\', "/")))
            }
            _ => {
                return Layout::Unknown(format!(
                    "package {name} lives at {}, not inside the project",
                    path.display()
                ));
            }
        }
    }
    relative.sort();
    relative.dedup();
    Layout::Packages(relative)
}

/// The top-level names an editable install's path line exposes, when it lists none
/// (hatchling, uv_build): everything importable in a source directory of its own (`src/`),
/// but at the project's root only the package named after the distribution, as those
/// backends' own wheel discovery does (the root also holds tests, docs and scripts).
fn inferred_top_level(dir: &Path, root: &Path, dist_info: &Path) -> Vec<String> {
    if dir == root {
        let Some(stem) = dist_info.file_name().and_then(|n| n.to_str()) else {
            return Vec::new();
        };
        let name = stem.split('-').next().unwrap_or(stem).to_lowercase();
        let name = name.replace(['-', '.'], "_");
        let found = dir.join(&name).join("__init__.py").is_file()
            || dir.join(format!("{name}.py")).is_file();
        return if found { vec![name] } else { Vec::new() };
    }
    if !dir.starts_with(root) {
        return Vec::new();
    }
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            let path = entry.path();
            if path.join("__init__.py").is_file() {
                Some(name)
            } else {
                let module = name.strip_suffix(".py")?;
                (path.is_file() && module.chars().all(|c| c.is_alphanumeric() || c == '_'))
                    .then(|| module.to_string())
            }
        })
        .collect();
    names.sort();
    names
}

/// `import __editable___x_finder; __editable___x_finder.install()` → the finder's MAPPING.
fn finder_mapping(site_packages: &Path, line: &str) -> Option<Vec<(String, PathBuf)>> {
    let module = line
        .strip_prefix("import ")?
        .split([';', ' ', ','])
        .next()?
        .trim();
    let source = fs::read_to_string(site_packages.join(format!("{module}.py"))).ok()?;
    let assignment = source
        .lines()
        .find(|l| l.starts_with("MAPPING") && l.contains('{'))?;
    parse_str_dict(&assignment[assignment.find('{')?..])
}

/// Parses a Python dict literal of plain strings (`{'a': '/x/a', "b": "/x/b"}`), as
/// setuptools writes it with `repr`. `None` for anything else.
fn parse_str_dict(text: &str) -> Option<Vec<(String, PathBuf)>> {
    let body = text
        .trim()
        .strip_prefix('{')?
        .trim_end()
        .strip_suffix('}')?;
    let mut strings = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let mut value = String::new();
                loop {
                    match chars.next()? {
                        '\\' => value.push(chars.next()?),
                        q if q == c => break,
                        other => value.push(other),
                    }
                }
                strings.push(value);
            }
            ':' | ',' | ' ' => {}
            _ => return None,
        }
    }
    if strings.len() % 2 != 0 {
        return None;
    }
    Some(
        strings
            .chunks(2)
            .map(|pair| (pair[0].clone(), PathBuf::from(&pair[1])))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(site_packages: &Path, root: &Path) -> Option<Editable> {
        let dists = crate::python::installed::list(site_packages);
        Editable::read(dists.first()?, site_packages, root)
    }

    #[test]
    fn parses_setuptools_finder_mapping() {
        let mapping = parse_str_dict("{'clicker': '/p/clicker', \"m\": \"/p/m.py\"}").unwrap();
        assert_eq!(
            mapping,
            [
                ("clicker".to_string(), PathBuf::from("/p/clicker")),
                ("m".to_string(), PathBuf::from("/p/m.py"))
            ]
        );
        assert_eq!(parse_str_dict("{}").unwrap(), []);
        assert!(parse_str_dict("{'a': some_call()}").is_none());
    }

    #[test]
    fn reads_src_layout_and_finder_installs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        let sp = dir.path().join("sp");
        fs::create_dir_all(root.join("src/app")).unwrap();
        fs::create_dir_all(root.join("flat")).unwrap();
        fs::create_dir_all(sp.join("app-1.0.dist-info")).unwrap();
        let di = sp.join("app-1.0.dist-info");
        fs::write(
            di.join("METADATA"),
            "Name: app\nVersion: 1.0\nRequires-Dist: six\n",
        )
        .unwrap();
        fs::write(di.join("top_level.txt"), "app\n").unwrap();
        fs::write(
            di.join("RECORD"),
            "__editable__.app-1.0.pth,sha256=x,1\napp-1.0.dist-info/METADATA,,\n",
        )
        .unwrap();
        fs::write(
            sp.join("__editable__.app-1.0.pth"),
            format!("{}\n", root.join("src").display()),
        )
        .unwrap();
        let editable = read(&sp, &root).unwrap();
        assert_eq!(editable.requires, ["six"]);
        assert_eq!(
            editable.layout,
            Layout::Packages(vec![("app".into(), "src/app".into())])
        );

        fs::write(
            sp.join("__editable__.app-1.0.pth"),
            "import __editable___app_1_0_finder; __editable___app_1_0_finder.install()\n",
        )
        .unwrap();
        fs::write(
            sp.join("__editable___app_1_0_finder.py"),
            format!(
                "import sys\nMAPPING: dict[str, str] = {{'flat': '{}'}}\n",
                root.join("flat").display()
            ),
        )
        .unwrap();
        let editable = read(&sp, &root).unwrap();
        assert_eq!(
            editable.layout,
            Layout::Packages(vec![("flat".into(), "flat".into())])
        );

        fs::write(
            sp.join("__editable___app_1_0_finder.py"),
            "MAPPING = {'flat': '/elsewhere/flat'}\n",
        )
        .unwrap();
        let editable = read(&sp, &root).unwrap();
        assert!(matches!(editable.layout, Layout::Unknown(_)));
    }
}
