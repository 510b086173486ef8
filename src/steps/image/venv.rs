//! The bundle as the image carries it: the venv the PEX would unpack on its first start,
//! laid out at build time, byte-compiled, at `/app/venv`, so the container's first start
//! is as fast as its second and needs no writable `PEX_ROOT`.
//!
//! pex lays it out from the bundle itself (`PEX_TOOLS=1 python BUNDLE venv`, the code a
//! `--venv` PEX runs on its first start), in a work folder: the files are the bundle's
//! bytes, the `__main__.py` pex writes runs its entry point. pex writes the work folder's
//! path where a venv names itself (script shebangs, `__main__.py`); those files are
//! rewritten to `/app/venv`, `pyvenv.cfg` is written for the base's interpreter and
//! `bin/python*` link to it. Every `.py` is compiled here (`compileall`, unchecked-hash
//! pycs named after their path in the image, `PYTHONHASHSEED=0`), so the same files give
//! the same bytes and the container never writes byte-code.
//!
//! Split in two layers: the dependencies (everything but the project's code, made once per
//! dependencies key, see `pex_zip::Pex::dependencies_key`) and the code (the project's
//! files and their pycs, and `PEX-INFO`), made at each build from the bundle's entries
//! without starting pex: an edit changes only the code layer.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::base::Python;
use super::layout::{Content, Contents, Entry};
use super::pex_zip::Pex;
use crate::args;
use crate::base::error::UserError;
use crate::python::build::Build;

/// Where the venv is in the image, without the leading `/`.
pub(crate) const VENV: &str = "app/venv";

/// Compiles every `.py` under `argv[1]` as if it were under `argv[2]`, into unchecked-hash
/// pycs: their bytes depend on the source alone, never on a file time, and Python never
/// checks them against the source (the image's files do not change). A file that does
/// not compile is left without one, as pip leaves it.
const COMPILE: &str = r#"
import compileall, py_compile, sys
compileall.compile_dir(sys.argv[1], ddir=sys.argv[2], quiet=2, workers=1,
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"#;

/// A layer's files, read one at a time as it is written: from disk, or (the few small
/// files rewritten) from memory.
#[derive(Default)]
pub(crate) struct Files {
    sources: Vec<Source>,
}

enum Source {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

impl Files {
    fn add(&mut self, source: Source, size: u64) -> Content {
        self.sources.push(source);
        Content {
            index: self.sources.len() - 1,
            size,
        }
    }

    pub(crate) fn add_bytes(&mut self, bytes: Vec<u8>) -> Content {
        let size = bytes.len() as u64;
        self.add(Source::Bytes(bytes), size)
    }
}

impl Contents for Files {
    fn open(&mut self, index: usize) -> Result<Box<dyn Read + '_>> {
        match &self.sources[index] {
            Source::Path(path) => {
                Ok(Box::new(File::open(path).with_context(|| {
                    format!("cannot read {}", path.display())
                })?))
            }
            Source::Bytes(bytes) => Ok(Box::new(bytes.as_slice())),
        }
    }
}

/// A layer's entries and where their contents are.
pub(crate) struct Layer {
    pub(crate) entries: Vec<Entry>,
    pub(crate) files: Files,
}

/// The image's `site-packages`, without the leading `/`.
pub(crate) fn site_packages(python: &Python) -> String {
    format!("{VENV}/lib/python{}/site-packages", python.version)
}

/// Runs `python` on [`COMPILE`] for the files under `dir`, named as under `image_dir`.
fn compile(cx: &Build, dir: &Path, image_dir: &str) -> Result<()> {
    let args = args!["-S", "-c", COMPILE, dir, format!("/{image_dir}")];
    cx.runner
        .run_with_env(
            cx.project.venv_python(),
            &args,
            &[("PYTHONHASHSEED", "0".as_ref())],
        )
        .context("cannot byte-compile the image's venv")
}

/// Lays out the whole `bundle` as a venv in `work/venv` with pex's `venv` tool, compiles
/// it, and proves it holds the bundle's distributions at the bundle's versions, which the
/// bundle step proved are the venv's (`shipped`). Returns the venv's folder.
pub(crate) fn lay_out(
    cx: &Build,
    bundle: &Path,
    shipped: &BTreeMap<String, String>,
    work: &Path,
) -> Result<PathBuf> {
    let venv = work.join("venv");
    let info = super::pex_zip::pex_info(bundle)?;
    if info.get("includes_tools").and_then(|v| v.as_bool()) != Some(true) {
        return Err(UserError::usage(format!(
            "{} holds none of pex's tools, with which the image lays it out as a venv",
            bundle.display()
        ))
        .hint("a `--venv` PEX (the default) has them; else add `--include-tools` to `[bundle] pex-args`")
        .into());
    }
    cx.printer.phase("laying the bundle out as a venv (pex)");
    let root = pex_root();
    let args = args![bundle, "venv", "--scope=all", "--pex-root", &root, &venv];
    cx.runner
        .run_with_env(
            cx.project.venv_python(),
            &args,
            &[
                ("PEX_TOOLS", "1".as_ref()),
                ("PEX_ROOT", root.as_os_str()),
                ("PYTHONHASHSEED", "0".as_ref()),
            ],
        )
        .map_err(|err| {
            err.context(format!(
                "pex cannot lay {} out as a venv for the image",
                bundle.display()
            ))
        })?;
    let site = host_site_packages(&venv)?;
    let laid_out = crate::python::env::Env::read(&site).versions();
    let differences = differences(shipped, &laid_out);
    if !differences.is_empty() {
        return Err(UserError::failure(format!(
            "the venv laid out for the image holds other distributions than {}:\n  {}",
            bundle.display(),
            differences.join("\n  ")
        ))
        .hint("the previous image was left in place")
        .into());
    }
    Ok(venv)
}

/// Each distribution `shipped` (the bundle's) and `laid_out` (the image venv's) do not
/// hold at the same version, or one holds and the other not.
fn differences(
    shipped: &BTreeMap<String, String>,
    laid_out: &BTreeMap<String, String>,
) -> Vec<String> {
    let show = |v: Option<&String>| v.map_or("none".to_string(), Clone::clone);
    shipped
        .keys()
        .chain(laid_out.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|name| shipped.get(*name) != laid_out.get(*name))
        .map(|name| {
            format!(
                "{name}: the bundle has {}, the image's venv {}",
                show(shipped.get(name)),
                show(laid_out.get(name))
            )
        })
        .collect()
}

/// The pex cache the bundle step pinned: the environment's `PEX_ROOT`, else pex's default.
fn pex_root() -> PathBuf {
    match std::env::var_os("PEX_ROOT") {
        Some(root) => PathBuf::from(root),
        None => crate::python::wheelhouse::user_cache_dir().join("pex"),
    }
}

/// `lib/python3.X/site-packages` of a venv made on this machine.
fn host_site_packages(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    let found = fs::read_dir(&lib)
        .with_context(|| format!("pex made no venv in {}", venv.display()))?
        .flatten()
        .map(|entry| entry.path().join("site-packages"))
        .find(|path| path.is_dir());
    found.with_context(|| {
        format!(
            "pex made a venv without site-packages in {}",
            venv.display()
        )
    })
}

/// The dependencies layer: the venv laid out in `venv`, but the project's `code` (its
/// names in the PEX, under site-packages) and their pycs and `PEX-INFO`; its paths under
/// `/app/venv`, rewritten where they named the work folder; `pyvenv.cfg` and `bin/python*`
/// for the base's `python`.
pub(crate) fn dependencies(
    cx: &Build,
    venv: &Path,
    python: &Python,
    code: &[String],
) -> Result<Layer> {
    let site = host_site_packages(venv)?;
    compile(cx, &site, &site_packages(python))?;
    let site_rel = site
        .strip_prefix(venv)
        .context("site-packages outside the venv")?
        .to_string_lossy()
        .into_owned();
    let code: BTreeSet<String> = code
        .iter()
        .map(|name| format!("{site_rel}/{name}"))
        .collect();
    // pex names the folder as given, and relative to the project (where it runs) in
    // `pex-repl`: both are replaced, the longer first.
    let mut names = vec![venv.to_string_lossy().into_owned()];
    if let Ok(relative) = venv.strip_prefix(&cx.project.root) {
        names.push(relative.to_string_lossy().into_owned());
    }
    let mut walked = Vec::new();
    walk(venv, "", &mut walked)?;
    let mut layer = Layer {
        entries: Vec::new(),
        files: Files::default(),
    };
    let mut empty_dirs = Vec::new();
    for (rel, kind) in walked {
        let is_code = code.contains(&rel) || compiled_from(&rel).is_some_and(|s| code.contains(&s));
        if is_code
            || rel == "PEX-INFO"
            || rel == "pyvenv.cfg"
            || (rel.starts_with("bin/python") && kind == Kind::Link)
        {
            continue;
        }
        let image_path = format!("{VENV}/{}", image_rel(&rel, &site_rel, python));
        let path = venv.join(&rel);
        match kind {
            Kind::EmptyDir => empty_dirs.push(image_path),
            Kind::Link => {
                let target = fs::read_link(&path)
                    .with_context(|| format!("cannot read the link {}", path.display()))?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    // A link out of the venv (pex links files of its cache): its file.
                    layer
                        .entries
                        .push(file_entry(&mut layer.files, &path, image_path, &[])?);
                } else {
                    layer.entries.push(Entry::link(image_path, target));
                }
            }
            Kind::File => {
                // What names the venv's folder is outside site-packages: scripts and pex's
                // `__main__.py`; the rest is the bundle's bytes, as they are.
                let rewrite = if rel.starts_with("lib/") {
                    &[][..]
                } else {
                    &names[..]
                };
                layer
                    .entries
                    .push(file_entry(&mut layer.files, &path, image_path, rewrite)?);
            }
        }
    }
    let config = format!(
        "home = {}\ninclude-system-site-packages = false\nversion = {}\n",
        python
            .path
            .rsplit_once('/')
            .map_or("/", |(dir, _)| if dir.is_empty() { "/" } else { dir }),
        python.version
    );
    let content = layer.files.add_bytes(config.into_bytes());
    layer
        .entries
        .push(Entry::file(format!("{VENV}/pyvenv.cfg"), content, false));
    let versioned = format!("python{}", python.version);
    layer.entries.push(Entry::link(
        format!("{VENV}/bin/{versioned}"),
        python.path.clone(),
    ));
    for name in ["python", "python3"] {
        layer
            .entries
            .push(Entry::link(format!("{VENV}/bin/{name}"), versioned.clone()));
    }
    for dir in empty_dirs {
        layer.entries.push(Entry::dir(dir));
    }
    Ok(layer)
}

/// The code layer: the project's files of the bundle under the image's site-packages,
/// compiled, and `PEX-INFO` beside `__main__.py`. Written from the bundle's entries into
/// `work/code` first, for `compileall`; starts no pex.
pub(crate) fn code(cx: &Build, pex: &mut Pex, python: &Python, work: &Path) -> Result<Layer> {
    let dir = work.join("code");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    pex.extract_code(&dir)?;
    let site = site_packages(python);
    compile(cx, &dir, &site)?;
    let mut walked = Vec::new();
    walk(&dir, "", &mut walked)?;
    let mut layer = Layer {
        entries: Vec::new(),
        files: Files::default(),
    };
    for (rel, kind) in walked {
        let image_path = format!("{site}/{rel}");
        match kind {
            Kind::File => {
                let path = dir.join(&rel);
                layer
                    .entries
                    .push(file_entry(&mut layer.files, &path, image_path, &[])?);
            }
            Kind::EmptyDir => layer.entries.push(Entry::dir(image_path)),
            Kind::Link => {}
        }
    }
    let content = layer.files.add_bytes(pex.pex_info_bytes()?);
    layer
        .entries
        .push(Entry::file(format!("{VENV}/PEX-INFO"), content, false));
    Ok(layer)
}

/// `rel` (a path in the venv laid out here) as it is in the image's venv: the same, but
/// site-packages under the base's Python version (the same minor, so the same folder).
fn image_rel(rel: &str, site_rel: &str, python: &Python) -> String {
    match rel.strip_prefix(site_rel) {
        Some(rest) => format!("lib/python{}/site-packages{rest}", python.version),
        None => rel.to_string(),
    }
}

/// `pkg/mod.py` for `pkg/__pycache__/mod.cpython-311.pyc`.
fn compiled_from(rel: &str) -> Option<String> {
    let (dir, file) = rel.rsplit_once("/__pycache__/")?;
    let stem = file.strip_suffix(".pyc")?;
    let (module, _tag) = stem.split_once('.')?;
    Some(format!("{dir}/{module}.py"))
}

/// The file at `path` as `image_path`, its mode's executable bit kept; with names in
/// `rewrite`, each replaced by `/app/venv` wherever it occurs (read into memory: a script).
fn file_entry(
    files: &mut Files,
    path: &Path,
    image_path: String,
    rewrite: &[String],
) -> Result<Entry> {
    let metadata = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let executable = metadata.permissions().mode() & 0o111 != 0;
    let content = if rewrite.is_empty() {
        files.add(Source::Path(path.to_path_buf()), metadata.len())
    } else {
        let mut bytes =
            fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        for from in rewrite {
            bytes = replace(&bytes, from.as_bytes(), format!("/{VENV}").as_bytes());
        }
        files.add_bytes(bytes)
    };
    Ok(Entry::file(image_path, content, executable))
}

/// `bytes` with every `from` replaced by `to`.
fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Link,
    /// A directory with nothing in it (the others come with their files).
    EmptyDir,
}

/// Every file, link and empty directory under `dir`, relative to it, sorted.
fn walk(dir: &Path, prefix: &str, into: &mut Vec<(String, Kind)>) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    names.sort_by_key(|entry| entry.file_name());
    for entry in names {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        if kind.is_symlink() {
            into.push((rel, Kind::Link));
        } else if kind.is_dir() {
            let before = into.len();
            walk(&entry.path(), &format!("{rel}/"), into)?;
            if into.len() == before {
                into.push((rel, Kind::EmptyDir));
            }
        } else {
            into.push((rel, Kind::File));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_venv_must_hold_exactly_the_bundles_versions() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        let shipped = map(&[("six", "1.17.0"), ("greeter", "1.2.3")]);
        assert!(differences(&shipped, &shipped).is_empty());
        assert_eq!(
            differences(&shipped, &map(&[("six", "1.16.0"), ("greeter", "1.2.3")])),
            ["six: the bundle has 1.17.0, the image's venv 1.16.0"]
        );
        assert_eq!(
            differences(&shipped, &map(&[("greeter", "1.2.3")])),
            ["six: the bundle has 1.17.0, the image's venv none"]
        );
        let more = map(&[("six", "1.17.0"), ("greeter", "1.2.3"), ("pip", "24.0")]);
        assert_eq!(
            differences(&shipped, &more),
            ["pip: the bundle has none, the image's venv 24.0"]
        );
    }

    #[test]
    fn a_pyc_is_traced_to_its_source() {
        assert_eq!(
            compiled_from("greeter/__pycache__/cli.cpython-311.pyc").as_deref(),
            Some("greeter/cli.py")
        );
        assert_eq!(
            compiled_from("lib/x/__pycache__/six.cpython-311.opt-1.pyc").as_deref(),
            Some("lib/x/six.py")
        );
        assert_eq!(compiled_from("greeter/cli.py"), None);
    }

    #[test]
    fn the_work_folder_is_replaced_wherever_it_is_named() {
        assert_eq!(
            replace(
                b"#!/w/venv/bin/python -I\nx='/w/venv'",
                b"/w/venv",
                b"/app/venv"
            ),
            b"#!/app/venv/bin/python -I\nx='/app/venv'"
        );
        assert_eq!(replace(b"nothing", b"/w/venv", b"/app/venv"), b"nothing");
    }
}
