//! The inner loop's start: a block pybuild adds to the `/bin/sh` header of the layered PEX
//! so that the first run after an edit costs about what a warm run costs.
//!
//! pex keys a `--venv` PEX's venv under `PEX_ROOT` by the `pex_hash`, which the code
//! changes: every edit's first run makes a whole venv (`python -m venv`, identifying the
//! new interpreter, linking every dependency file; about a second on the sample, more with
//! large dependencies). The block, run before pex's own fast path when that one misses,
//! keeps two things under `PEX_ROOT/pybuild/` instead:
//!
//! - `deps/<deps pex_hash>.<venv contents hash>`: a venv of the dependencies only, made
//!   once by pex's own tool (`PEX_TOOLS=1 PEX venv --scope=deps`, its files hard links to
//!   pex's `installed_wheels`), keyed by the dependencies PEX, so shared by every edit;
//! - `code/<pex_hash>`: a venv of the PEX's own code (every entry but pex's `.bootstrap/`,
//!   `.deps/`, `__pex__/`, `PEX-INFO` and `__main__.py`) on top of that one: its
//!   `pyvenv.cfg` and `bin/python`, the code in `site-packages`, and a `.pth` adding the
//!   dependencies' `site-packages`; made from the PEX itself by that venv's Python in a
//!   temp dir renamed into place, so never stale and never partial;
//!
//! and runs the entry point with the code venv's Python, `PEX_*` variables stripped
//! (`strip_pex_env`), so a child started with `sys.executable` sees the code and the
//! dependencies, as in pex's venv.
//! Nothing is removed: a process of an older bundle keeps its files. Whatever makes pex's
//! fast path step aside (`PEX_TOOLS`, `PEX_PYTHON`...) or pex's venv boot read
//! (`PEX_INTERPRETER`, `PEX_MODULE`, `PEX_SCRIPT`, `PEX_INHERIT_PATH`,
//! `PEX_EXTRA_SYS_PATH`) makes the block step aside too, as does a failure: then pex boots
//! as it always does. The zip is untouched: pex's tools and `python PEX` see pex's PEX.

use anyhow::{Context as _, Result, ensure};

/// The first line of pex's fast path, up to the variables it checks.
const FAST_PATH: &str = "if [ -n \"${VENV}\" -a -x \"${INSTALLED_PEX}\" -a ";

/// Makes the folder `argv[3]` a venv of the code of the PEX `argv[1]` on top of the venv of
/// the dependencies `argv[2]` (the Python running this): `pyvenv.cfg` and `bin/python` as
/// that venv's, the code in `site-packages`, and a `.pth` adding the dependencies'
/// `site-packages` (their own `.pth` files processed), so a child started with
/// `sys.executable` sees what the entry point sees, as in pex's venv.
const EXTRACT: &str = r#"import os, shutil, sys, sysconfig, tempfile, zipfile
pex, deps, dest = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(os.path.dirname(dest), exist_ok=True)
tmp = tempfile.mkdtemp(prefix=".tmp-", dir=os.path.dirname(dest))
os.chmod(tmp, 0o755)
site = os.path.join(tmp, os.path.relpath(sysconfig.get_path("purelib"), sys.prefix))
os.makedirs(site)
with zipfile.ZipFile(pex) as archive:
    for name in archive.namelist():
        top = name.split("/")[0]
        if top not in (".bootstrap", ".deps", "__pex__", "PEX-INFO", "__main__.py"):
            archive.extract(name, site)
shutil.copy(os.path.join(deps, "pyvenv.cfg"), tmp)
os.mkdir(os.path.join(tmp, "bin"))
os.symlink(os.path.realpath(os.path.join(deps, "bin", "python")), os.path.join(tmp, "bin", "python"))
with open(os.path.join(site, "pybuild-dependencies.pth"), "w") as pth:
    for path in sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}):
        pth.write("import site; site.addsitedir(%r)\n" % path)
try:
    os.rename(tmp, dest)
except OSError:
    shutil.rmtree(tmp)
    if not os.path.isdir(dest):
        raise"#;

/// Runs the entry point `argv[1]` (in the code's venv, see `EXTRACT`).
const BOOT: &str = r#"import os, sys
entry = sys.argv[1]
sys.argv = [os.environ["PEX"]] + sys.argv[2:]
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]
for name in [name for name in os.environ if name.startswith("PEX_")]:
    del os.environ[name]
module, _, attr = entry.partition(":")
if attr:
    import importlib
    target = importlib.import_module(module)
    for part in attr.split("."):
        target = getattr(target, part)
    sys.exit(target())
import runpy
runpy.run_module(module, run_name="__main__", alter_sys=True)"#;

/// pex's `--venv --sh-boot` header (already naming `pex_hash`) with the block added before
/// pex's fast path. `deps_hash` is the dependencies PEX's `pex_hash`.
pub(super) fn add_inner_loop(
    header: &[u8],
    deps_hash: &str,
    pex_hash: &str,
    entry_point: &str,
) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(header).context("the PEX header is not text")?;
    ensure!(
        !entry_point.is_empty()
            && entry_point
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.:".contains(c)),
        "entry point {entry_point:?} is not a module path"
    );
    let installed = text
        .lines()
        .find_map(|line| line.strip_prefix("INSTALLED_PEX=\"${PEX_ROOT}/venvs/"))
        .context("the PEX header has no INSTALLED_PEX")?;
    let contents_hash = installed
        .strip_suffix('"')
        .and_then(|path| path.rsplit('/').next())
        .filter(|hash| hash.len() == 40 && hash.chars().all(|c| c.is_ascii_hexdigit()))
        .context("INSTALLED_PEX does not end in a venv contents hash")?;
    let at = text
        .find(FAST_PATH)
        .context("the PEX header has no venv fast path")?;
    let checks = text[at + FAST_PATH.len()..]
        .lines()
        .next()
        .and_then(|line| line.strip_suffix(" ]; then"))
        .context("the PEX header's fast path is not one line")?;
    let block = format!(
        r#"# pybuild's inner loop: a venv of the dependencies shared by every code edit, the code
# extracted per edit (see pybuild's docs/architecture.md, "The inner loop").
PYBUILD_DEPS="${{PEX_ROOT}}/pybuild/deps/{deps_hash}.{contents_hash}"
PYBUILD_CODE="${{PEX_ROOT}}/pybuild/code/{pex_hash}"
if [ -n "${{VENV}}" -a ! -x "${{INSTALLED_PEX}}" -a {checks} -a -z "${{PEX_INTERPRETER:-}}" -a -z "${{PEX_MODULE:-}}" -a -z "${{PEX_SCRIPT:-}}" -a -z "${{PEX_INHERIT_PATH:-}}" -a -z "${{PEX_EXTRA_SYS_PATH:-}}" ]; then
    if [ ! -f "${{PYBUILD_DEPS}}/.pybuild-complete" ] && mkdir -p "${{PEX_ROOT}}/pybuild/deps" \
        && mkdir "${{PYBUILD_DEPS}}.lck" 2>/dev/null; then
        if PEX_TOOLS=1 "$0" venv --scope=deps --force "${{PYBUILD_DEPS}}" >/dev/null 2>&1; then
            : > "${{PYBUILD_DEPS}}/.pybuild-complete"
        fi
        rmdir "${{PYBUILD_DEPS}}.lck"
    fi
    if [ -f "${{PYBUILD_DEPS}}/.pybuild-complete" ]; then
        if [ -d "${{PYBUILD_CODE}}" ] || "${{PYBUILD_DEPS}}/bin/python" -I -c '{EXTRACT}' "$0" "${{PYBUILD_DEPS}}" "${{PYBUILD_CODE}}"; then
            export PEX="$0"
            exec "${{PYBUILD_CODE}}/bin/python" -I -c '{BOOT}' "{entry_point}" "$@"
        fi
    fi
fi
# pybuild's inner loop ends.

"#
    );
    let mut out = String::with_capacity(text.len() + block.len());
    out.push_str(&text[..at]);
    out.push_str(&block);
    out.push_str(&text[at..]);
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_holds_no_single_quote_the_shell_would_end_on() {
        assert!(!EXTRACT.contains('\'') && !BOOT.contains('\''));
    }

    #[test]
    fn the_block_goes_before_pex_s_fast_path_with_its_checks() {
        let hash = "a".repeat(40);
        let header = format!(
            "#!/bin/sh\nINSTALLED_PEX=\"${{PEX_ROOT}}/venvs/4/{hash}/{}\"\n\n{FAST_PATH}-z \"${{PEX_TOOLS:-}}\" ]; then\n    exec x\nfi\n",
            "b".repeat(40)
        );
        let out = add_inner_loop(header.as_bytes(), "c", "d", "app.cli:main").unwrap();
        let out = String::from_utf8(out).unwrap();
        let block = out.find("# pybuild's inner loop:").unwrap();
        assert!(block < out.find(FAST_PATH).unwrap());
        assert!(out.contains(&format!("pybuild/deps/c.{}\"", "b".repeat(40))));
        assert!(out.contains("-a -z \"${PEX_TOOLS:-}\" -a -z \"${PEX_INTERPRETER:-}\""));
        assert!(add_inner_loop(header.as_bytes(), "c", "d", "app;rm").is_err());
    }
}
