//! The code layer of a layered PEX: exactly the staged (fingerprinted) files of each
//! top-level package the editable install maps, so package data is in and a deleted
//! module is out, plus a `NAME-VERSION.dist-info` with the install's `METADATA`, `WHEEL`,
//! `entry_points.txt` and `top_level.txt`, as pex's own install of the project's wheel
//! holds them, so `importlib.metadata.version()`, entry-point lookups and
//! `packages_distributions()` work inside the bundle. Not what records one install
//! (`RECORD`, `INSTALLER`, `REQUESTED`, `direct_url.json`, which names the checkout):
//! without `RECORD`, `importlib.metadata.files()` is `None`, as for any distribution
//! installed from sources. It holds no absolute path: two checkouts layer the same bytes.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::python::editable::Editable;

/// The files of the editable install's dist-info that go into the layer.
pub(super) const DIST_INFO_FILES: &[&str] =
    &["METADATA", "WHEEL", "entry_points.txt", "top_level.txt"];

/// Fills `layer` with each package's staged files and the install's metadata.
pub(super) fn stage_layer(
    stage: &Path,
    files: &[String],
    packages: &[(String, String)],
    editable: &Editable,
    layer: &Path,
) -> Result<()> {
    for (name, path) in packages {
        if files.iter().any(|f| f == path) {
            let file_name = Path::new(path).file_name().context("a module has a name")?;
            link_or_copy(&stage.join(path), &layer.join(file_name))?;
            continue;
        }
        let prefix = format!("{path}/");
        for file in files.iter().filter(|f| f.starts_with(&prefix)) {
            link_or_copy(
                &stage.join(file),
                &layer.join(name).join(&file[prefix.len()..]),
            )?;
        }
    }
    let dist_info = layer.join(&editable.dist_info_name);
    for file in DIST_INFO_FILES {
        let from = editable.dist_info.join(file);
        if from.is_file() {
            link_or_copy(&from, &dist_info.join(file))?;
        } else if *file == "METADATA" {
            bail!("{} is missing", from.display());
        }
    }
    Ok(())
}

fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// How many files `dir` holds, in all its folders.
pub(super) fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|entry| match entry.file_type() {
                Ok(kind) if kind.is_dir() => count_files(&entry.path()),
                _ => 1,
            })
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::editable::Layout;

    #[test]
    fn layer_holds_exactly_the_staged_package_files_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path().join("stage");
        let dist_info = dir.path().join("app-1.0.dist-info");
        let files = [
            "src/app/__init__.py",
            "src/app/data/x.txt",
            "src/other.txt",
            "solo.py",
            "setup.py",
        ];
        for file in files {
            fs::create_dir_all(stage.join(file).parent().unwrap()).unwrap();
            fs::write(stage.join(file), file).unwrap();
        }
        fs::create_dir_all(&dist_info).unwrap();
        fs::write(dist_info.join("METADATA"), "Name: app\n").unwrap();
        fs::write(dist_info.join("direct_url.json"), "/abs/path").unwrap();
        let editable = Editable {
            dist_info,
            dist_info_name: "app-1.0.dist-info".into(),
            requires: vec!["six".into()],
            layout: Layout::Unknown(String::new()),
        };
        let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        let packages = [
            ("app".to_string(), "src/app".to_string()),
            ("solo".to_string(), "solo.py".to_string()),
        ];
        let layer = dir.path().join("layer");
        stage_layer(&stage, &files, &packages, &editable, &layer).unwrap();
        let mut found: Vec<String> = walk(&layer);
        found.sort();
        assert_eq!(
            found,
            [
                "app-1.0.dist-info/METADATA",
                "app/__init__.py",
                "app/data/x.txt",
                "solo.py"
            ]
        );
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.extend(walk(&path).into_iter().map(|p| format!("{name}/{p}")));
            } else {
                out.push(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
        out
    }
}
