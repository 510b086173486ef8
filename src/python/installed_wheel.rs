//! A wheel of a distribution as the venv holds it, for an installer that cannot take it
//! from the venv. pip, installing the site-packages of a shiv or zipapp bundle, is given
//! the app's requirements; a library the venv installed from a folder without `-e`
//! (`../lib` in a requirement file, a uv path source) is no index's, and the venv's copy of
//! it is what the tests ran (the folder may have changed since). So pip gets that copy,
//! as a wheel.
//!
//! The wheel holds the files its `RECORD` lists inside site-packages, as they are now,
//! and its dist-info with a `RECORD` of its own. Not what records one install
//! (`INSTALLER`, `REQUESTED`, `direct_url.json`, uv's), nor what was compiled at install
//! (`__pycache__/`: pip compiles, or not), nor what lies outside site-packages (scripts,
//! which pip writes again from `entry_points.txt`; data files).

use std::fs::{self, File};
use std::io::{BufWriter, Write as _};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::python::installed::Dist;

/// What records one install, left out of the wheel (its `RECORD` is written anew): pip's
/// and uv's (`uv_cache.json` holds the time of the build).
const INSTALL_RECORDS: &[&str] = &[
    "RECORD",
    "INSTALLER",
    "REQUESTED",
    "direct_url.json",
    "uv_cache.json",
    "uv_build.json",
];

/// Writes the wheel of `dist`, installed in `site_packages`, into `dir` (created); returns
/// its path.
pub(crate) fn write(dist: &Dist, site_packages: &Path, dir: &Path) -> Result<PathBuf> {
    let dist_info = dist
        .dist_info
        .file_name()
        .and_then(|name| name.to_str())
        .context("a dist-info folder is named in UTF-8")?
        .to_string();
    anyhow::ensure!(
        dist.record().is_some(),
        "{} has no RECORD: its files are unknown (reinstall it)",
        dist.dist_info.display()
    );
    let files = files(dist, &dist_info);
    let stem = dist_info.trim_end_matches(".dist-info");
    let wheel = dir.join(format!("{stem}-{}.whl", tag(&dist.dist_info)));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let out = File::create(&wheel).with_context(|| format!("cannot write {}", wheel.display()))?;
    let mut zip = ZipWriter::new(BufWriter::new(out));
    let mut record = String::new();
    for file in &files {
        let path = site_packages.join(file);
        let bytes = fs::read(&path).with_context(|| {
            format!(
                "cannot read {}, which the venv's {} lists",
                path.display(),
                dist.name
            )
        })?;
        let mode = executable_bit(&path);
        add(&mut zip, file, &bytes, mode)?;
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&bytes));
        record.push_str(&format!("{},sha256={hash},{}\n", csv(file), bytes.len()));
    }
    let record_name = format!("{dist_info}/RECORD");
    record.push_str(&format!("{record_name},,\n"));
    add(&mut zip, &record_name, record.as_bytes(), 0o644)?;
    zip.finish()
        .and_then(|out| out.into_inner().map_err(|err| err.into_error().into()))
        .map(|file| file.sync_all())
        .with_context(|| format!("cannot write {}", wheel.display()))??;
    Ok(wheel)
}

/// The files of the wheel, relative to site-packages, in `RECORD`'s order: those inside
/// it, but what was compiled (`__pycache__/`) and what records the install.
fn files(dist: &Dist, dist_info: &str) -> Vec<String> {
    let mut files: Vec<String> = dist
        .recorded_paths()
        .filter(|path| {
            Path::new(path)
                .components()
                .all(|part| matches!(part, Component::Normal(_)))
        })
        // What pip compiled; a `.pyc` beside its module is a sourceless distribution's code.
        .filter(|path| !path.contains("__pycache__/"))
        .filter(|path| {
            let own = path
                .strip_prefix(dist_info)
                .and_then(|p| p.strip_prefix('/'));
            !own.is_some_and(|file| INSTALL_RECORDS.contains(&file))
        })
        .map(str::to_string)
        .collect();
    files.dedup();
    files
}

/// The first tag its `WHEEL` file names (`py3-none-any`, `cp311-cp311-linux_x86_64`), so
/// pip takes the wheel where the venv's copy runs; `py3-none-any` when it names none.
fn tag(dist_info: &Path) -> String {
    fs::read_to_string(dist_info.join("WHEEL"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("Tag:"))
                .map(|tag| tag.trim().to_string())
        })
        .filter(|tag| tag.split('-').count() == 3)
        .unwrap_or_else(|| "py3-none-any".to_string())
}

fn executable_bit(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o111 != 0);
    if executable { 0o755 } else { 0o644 }
}

fn add(zip: &mut ZipWriter<BufWriter<File>>, name: &str, bytes: &[u8], mode: u32) -> Result<()> {
    // A fixed date: the same venv gives the same wheel.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(mode);
    zip.start_file(name, options)
        .and_then(|()| zip.write_all(bytes).map_err(Into::into))
        .with_context(|| format!("cannot add {name} to a wheel"))
}

/// `path` as a CSV field: quoted when it holds a comma or a quote.
fn csv(path: &str) -> String {
    match path.contains([',', '"']) {
        true => format!("\"{}\"", path.replace('"', "\"\"")),
        false => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::env::Env;
    use std::io::Read as _;

    #[test]
    fn the_wheel_holds_the_installed_files_and_a_record_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site-packages");
        let info = site.join("my_lib-0.1.dist-info");
        fs::create_dir_all(site.join("my_lib/__pycache__")).unwrap();
        fs::create_dir_all(&info).unwrap();
        fs::write(site.join("my_lib/__init__.py"), "WORD = 'venv'\n").unwrap();
        fs::write(
            site.join("my_lib/__pycache__/__init__.cpython-311.pyc"),
            "x",
        )
        .unwrap();
        fs::write(site.join("my_lib/sourceless.pyc"), "code").unwrap();
        fs::write(site.join("my_lib/__pycache__.txt"), "data").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let run = fs::Permissions::from_mode(0o755);
        fs::set_permissions(site.join("my_lib/sourceless.pyc"), run).unwrap();
        fs::write(info.join("METADATA"), "Name: my-lib\nVersion: 0.1\n").unwrap();
        fs::write(
            info.join("WHEEL"),
            "Wheel-Version: 1.0\nTag: py3-none-any\n",
        )
        .unwrap();
        fs::write(info.join("INSTALLER"), "pip\n").unwrap();
        fs::write(info.join("direct_url.json"), "{}").unwrap();
        fs::write(info.join("uv_cache.json"), "{}").unwrap();
        fs::write(
            info.join("RECORD"),
            "my_lib/__init__.py,sha256=old,5\n\
             my_lib/__pycache__/__init__.cpython-311.pyc,,\n\
             my_lib/sourceless.pyc,,\nmy_lib/__pycache__.txt,,\n\
             my_lib-0.1.dist-info/METADATA,,\nmy_lib-0.1.dist-info/WHEEL,,\n\
             my_lib-0.1.dist-info/INSTALLER,,\nmy_lib-0.1.dist-info/direct_url.json,,\n\
             my_lib-0.1.dist-info/uv_cache.json,,\n\
             my_lib-0.1.dist-info/RECORD,,\n../../../bin/say,,\n",
        )
        .unwrap();
        let env = Env::read(&site);
        let dist = env.find("my-lib").unwrap();
        let wheel = write(dist, &site, &dir.path().join("wheels")).unwrap();
        assert_eq!(wheel.file_name().unwrap(), "my_lib-0.1-py3-none-any.whl");
        let mut archive = zip::ZipArchive::new(File::open(&wheel).unwrap()).unwrap();
        let names: Vec<String> = archive.file_names().map(str::to_string).collect();
        assert_eq!(
            names,
            [
                "my_lib/__init__.py",
                "my_lib/sourceless.pyc",
                "my_lib/__pycache__.txt",
                "my_lib-0.1.dist-info/METADATA",
                "my_lib-0.1.dist-info/WHEEL",
                "my_lib-0.1.dist-info/RECORD"
            ]
        );
        // A file's executable bit is kept (pip sets it from the archive).
        let mode = |archive: &mut zip::ZipArchive<File>, name: &str| {
            archive.by_name(name).unwrap().unix_mode().unwrap() & 0o777
        };
        assert_eq!(mode(&mut archive, "my_lib/sourceless.pyc"), 0o755);
        assert_eq!(mode(&mut archive, "my_lib/__init__.py"), 0o644);
        let mut record = String::new();
        archive
            .by_name("my_lib-0.1.dist-info/RECORD")
            .unwrap()
            .read_to_string(&mut record)
            .unwrap();
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(b"WORD = 'venv'\n"));
        assert!(
            record.starts_with(&format!("my_lib/__init__.py,sha256={hash},14\n")),
            "{record}"
        );
        assert!(
            record.ends_with("my_lib-0.1.dist-info/RECORD,,\n"),
            "{record}"
        );
    }

    #[test]
    fn the_tag_is_the_wheel_files_first_and_a_path_field_is_quoted() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(tag(dir.path()), "py3-none-any");
        fs::write(
            dir.path().join("WHEEL"),
            "Tag: cp311-cp311-linux_x86_64\nTag: cp311-abi3-linux_x86_64\n",
        )
        .unwrap();
        assert_eq!(tag(dir.path()), "cp311-cp311-linux_x86_64");
        fs::write(dir.path().join("WHEEL"), "Tag: nonsense\n").unwrap();
        assert_eq!(tag(dir.path()), "py3-none-any");
        assert_eq!(csv("a,b\"c"), "\"a,b\"\"c\"");
        assert_eq!(csv("a/b.py"), "a/b.py");
    }
}
