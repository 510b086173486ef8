//! The inner loop's start: a block pybuild adds to the `/bin/sh` header of the layered PEX
//! so that the first run after an edit costs about what a warm run costs.
//!
//! pex keys a `--venv` PEX's venv under `PEX_ROOT` by the `pex_hash`, which the code
//! changes: every edit's first run makes a whole venv (`python -m venv`, identifying the
//! new interpreter in a subprocess, linking every dependency file; about a second on the
//! sample, more with large dependencies), and pex has no option keying it otherwise. The
//! block, run before pex's own fast path when that one misses, keeps two things under
//! `PEX_ROOT/pybuild/` instead:
//!
//! - `deps/<deps pex_hash>.<venv contents hash>`: a venv of the dependencies only, made
//!   once by pex's own tool (`PEX_TOOLS=1 PEX venv --scope=deps`), keyed by the
//!   dependencies PEX, so shared by every edit; one run makes it at a time (a `.lck`
//!   folder naming its shell's pid, taken over when that process is gone: `watch
//!   --restart` may kill a first run half-way), the others meanwhile boot through pex;
//! - `code/<pex_hash>`: a venv of the PEX's own code (every entry but pex's `.bootstrap/`,
//!   `.deps/`, `__pex__/`, `PEX-INFO` and `__main__.py`) on top of that one, laid out as
//!   pex lays out its venvs: `pyvenv.cfg` and `bin/python`, the code in `site-packages`
//!   with a `.pth` adding the dependencies' `site-packages`, and a `__main__.py` that is
//!   pex's own venv boot (`pex/venv/venv_pex.py`, read from the PEX's `.bootstrap/`,
//!   called with the PEX-INFO's entry point and options as pex's installer calls it). It
//!   is made from the PEX itself by `PREPARE`, in a temp dir renamed into place: never
//!   stale, never partial. It names nothing under `PEX_ROOT` by an absolute path: the
//!   `.pth` finds the dependencies through the venv's own `sys.prefix` and a relative
//!   link, so a `PEX_ROOT` later reached by another path (a link since removed, a cache
//!   mounted elsewhere) still runs it;
//!
//! and runs that venv as pex's fast path runs pex's (`PEX=$0 python -I VENV ARGS`). So the
//! code that starts the entry point is pex's, and a child started with `sys.executable`
//! sees the code and the dependencies, as in pex's venv.
//!
//! Past edits' code venvs do not pile up: making one keeps the `KEEP` newest and removes
//! the others that no running process holds (every Python of a code venv holds a shared
//! `flock` on its `.pybuild-lock` for its life, taken by the venv's `.pth`; the pruning
//! takes it exclusively, without waiting, before removing anything).
//!
//! Whatever makes pex's fast path step aside (`PEX_TOOLS`, `PEX_PYTHON`...) or pex's venv
//! boot read (`PEX_INTERPRETER`, `PEX_MODULE`, `PEX_SCRIPT`, `PEX_INHERIT_PATH`,
//! `PEX_EXTRA_SYS_PATH`) makes the block step aside too, as does a failure: then pex boots
//! as it always does. The zip is untouched: pex's tools and `python PEX` see pex's PEX.
//! The remote cache's audit checks a fetched bundle's block with [`without_inner_loop`].

use anyhow::{Context as _, Result, ensure};

/// The first line of pex's fast path, up to the variables it checks.
const FAST_PATH: &str = "if [ -n \"${VENV}\" -a -x \"${INSTALLED_PEX}\" -a ";

/// The block's first and last lines, as the audit and the tests find it.
const BEGIN: &str = "# pybuild's inner loop: ";
const END: &str = "# pybuild's inner loop ends.\n\n";

/// How many code venvs of past edits are kept whatever happens (the newest, by when each
/// was made), so going back a few edits costs no extraction.
const KEEP: usize = 3;

/// Makes the folder `argv[3]` the code venv of the PEX `argv[1]` on top of the venv of
/// the dependencies `argv[2]` (the Python running this), then prunes the code venvs of
/// past edits (see the module doc) and what a killed run left (a temp dir older than an
/// hour). Pruning never fails the run.
const PREPARE: &str = r#"import fcntl, json, os, shutil, sys, sysconfig, tempfile, time, zipfile
pex, deps, dest = sys.argv[1], sys.argv[2], sys.argv[3]
root = os.path.dirname(dest)
os.makedirs(root, exist_ok=True)
tmp = tempfile.mkdtemp(prefix=".tmp-", dir=root)
os.chmod(tmp, 0o755)
purelib = sysconfig.get_path("purelib")
site = os.path.join(tmp, os.path.relpath(purelib, sys.prefix))
os.makedirs(site)
with zipfile.ZipFile(pex) as archive:
    info = json.loads(archive.read("PEX-INFO"))
    venv_pex = archive.read(".bootstrap/pex/venv/venv_pex.py").decode("utf-8").strip()
    for name in archive.namelist():
        if name.split("/")[0] not in (".bootstrap", ".deps", "__pex__", "PEX-INFO", "__main__.py"):
            archive.extract(name, site)
shutil.copy(os.path.join(deps, "pyvenv.cfg"), tmp)
os.mkdir(os.path.join(tmp, "bin"))
os.symlink(os.path.realpath(os.path.join(deps, "bin", "python")), os.path.join(tmp, "bin", "python"))
os.symlink(os.path.relpath(deps, dest), os.path.join(tmp, "pybuild-deps"))
open(os.path.join(tmp, ".pybuild-lock"), "w").close()
with open(os.path.join(site, "pybuild-dependencies.pth"), "w") as pth:
    for path in sorted({purelib, sysconfig.get_path("platlib")}):
        pth.write("import os, site, sys; site.addsitedir(os.path.join(sys.prefix, %r, %r))\n"
                  % ("pybuild-deps", os.path.relpath(path, sys.prefix)))
    pth.write("import fcntl, os, sys; fcntl.flock(os.open(os.path.join(sys.prefix, %r), os.O_RDONLY), fcntl.LOCK_SH)\n"
              % ".pybuild-lock")
boot = dict(
    shebang_python=os.path.join(dest, "bin", "python"), venv_bin_dir="bin",
    bin_path=info.get("venv_bin_path", "false"), strip_pex_env=info.get("strip_pex_env", True),
    bind_resource_paths=tuple(info.get("bind_resource_paths", {}).items()),
    inject_env=tuple(info.get("inject_env", {}).items()),
    inject_args=list(info.get("inject_args", ())), entry_point=info.get("entry_point"),
    script=info.get("script"), hermetic_re_exec=None, set_last_access=False)
with open(os.path.join(tmp, "__main__.py"), "w") as main:
    main.write("%s\n\n\nif __name__ == \"__main__\":\n    boot(%s)\n" % (
        venv_pex, ", ".join("%s=%r" % item for item in boot.items())))
try:
    os.rename(tmp, dest)
except OSError:
    shutil.rmtree(tmp)
    if not os.path.isdir(dest):
        raise
def made(path):
    try:
        return os.stat(os.path.join(path, "pyvenv.cfg")).st_mtime
    except OSError:
        return float("inf")
def remove(old):
    held = os.open(os.path.join(old, ".pybuild-lock"), os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        trash = tempfile.mkdtemp(prefix=".trash-", dir=root)
        os.rename(old, os.path.join(trash, "venv"))
    finally:
        os.close(held)
    shutil.rmtree(trash, ignore_errors=True)
def prune():
    past = sorted((entry.path for entry in os.scandir(root)
                   if entry.is_dir() and not entry.name.startswith(".") and entry.path != dest), key=made)
    for old in past[:max(0, len(past) - KEEP + 1)]:
        try:
            remove(old)
        except OSError:
            pass
    for entry in os.scandir(root):
        try:
            if entry.name.startswith((".tmp-", ".trash-")) and entry.stat().st_mtime < time.time() - 3600:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass
try:
    prune()
except OSError:
    pass"#;

/// pex's `--venv --sh-boot` header (already naming `pex_hash`) with the block added before
/// pex's fast path. `deps_hash` is the dependencies PEX's `pex_hash`.
pub(super) fn add_inner_loop(header: &[u8], deps_hash: &str, pex_hash: &str) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(header).context("the PEX header is not text")?;
    let hex = |hash: &str| hash.len() == 40 && hash.chars().all(|c| c.is_ascii_hexdigit());
    ensure!(
        hex(deps_hash) && hex(pex_hash),
        "a pex_hash is not 40 hex digits"
    );
    let installed = text
        .lines()
        .find_map(|line| line.strip_prefix("INSTALLED_PEX=\"${PEX_ROOT}/venvs/"))
        .context("the PEX header has no INSTALLED_PEX")?;
    let contents_hash = installed
        .strip_suffix('"')
        .and_then(|path| path.rsplit('/').next())
        .filter(|hash| hex(hash))
        .context("INSTALLED_PEX does not end in a venv contents hash")?;
    let at = text
        .find(FAST_PATH)
        .context("the PEX header has no venv fast path")?;
    let checks = text[at + FAST_PATH.len()..]
        .lines()
        .next()
        .and_then(|line| line.strip_suffix(" ]; then"))
        .context("the PEX header's fast path is not one line")?;
    let prepare = PREPARE.replace("KEEP", &KEEP.to_string());
    let block = format!(
        r#"{BEGIN}a venv of the dependencies shared by every code edit, the code
# in a small venv per edit, run by pex's venv boot (see pybuild's docs/architecture.md).
PYBUILD_DEPS="${{PEX_ROOT}}/pybuild/deps/{deps_hash}.{contents_hash}"
PYBUILD_CODE="${{PEX_ROOT}}/pybuild/code/{pex_hash}"
if [ -n "${{VENV}}" -a ! -x "${{INSTALLED_PEX}}" -a {checks} -a -z "${{PEX_INTERPRETER:-}}" -a -z "${{PEX_MODULE:-}}" -a -z "${{PEX_SCRIPT:-}}" -a -z "${{PEX_INHERIT_PATH:-}}" -a -z "${{PEX_EXTRA_SYS_PATH:-}}" ]; then
    if [ ! -f "${{PYBUILD_DEPS}}/.pybuild-complete" ] && mkdir -p "${{PEX_ROOT}}/pybuild/deps"; then
        if read PYBUILD_PID 2>/dev/null < "${{PYBUILD_DEPS}}.lck/pid" \
            && ! kill -0 "${{PYBUILD_PID}}" 2>/dev/null; then
            rm -rf "${{PYBUILD_DEPS}}.lck"
        fi
        if mkdir "${{PYBUILD_DEPS}}.lck" 2>/dev/null; then
            echo "$$" > "${{PYBUILD_DEPS}}.lck/pid"
            if PEX_TOOLS=1 "$0" venv --scope=deps --force "${{PYBUILD_DEPS}}" >/dev/null 2>&1; then
                : > "${{PYBUILD_DEPS}}/.pybuild-complete"
            fi
            rm -rf "${{PYBUILD_DEPS}}.lck"
        fi
    fi
    if [ -f "${{PYBUILD_DEPS}}/.pybuild-complete" ] && {{ [ -d "${{PYBUILD_CODE}}" ] || "${{PYBUILD_DEPS}}/bin/python" -I -c '{prepare}' "$0" "${{PYBUILD_DEPS}}" "${{PYBUILD_CODE}}"; }}; then
        export PEX="$0"
        exec "${{PYBUILD_CODE}}/bin/python" ${{VENV_PYTHON_ARGS}} "${{PYBUILD_CODE}}" "$@"
    fi
fi
{END}"#
    );
    let mut out = String::with_capacity(text.len() + block.len());
    out.push_str(&text[..at]);
    out.push_str(&block);
    out.push_str(&text[at..]);
    Ok(out.into_bytes())
}

/// The header `text` of a fetched PEX without the inner loop's block, when it holds one
/// that is exactly the block [`add_inner_loop`] writes for the dependencies PEX
/// `deps_hash` and the PEX's own `pex_hash` (so it runs nothing else and no other edit's
/// code); an error if it holds any other. A header without the block is returned as it is.
pub(super) fn without_inner_loop(text: &str, deps_hash: &str, pex_hash: &str) -> Result<String> {
    let Some(begin) = text.find(BEGIN) else {
        ensure!(
            !text.contains(END),
            "the inner loop's block has no beginning"
        );
        return Ok(text.to_string());
    };
    let end = text[begin..]
        .find(END)
        .map(|at| begin + at + END.len())
        .context("the inner loop's block has no end")?;
    let rest = format!("{}{}", &text[..begin], &text[end..]);
    let expected = add_inner_loop(rest.as_bytes(), deps_hash, pex_hash)
        .context("the header around the inner loop's block is not pex's")?;
    ensure!(
        expected == text.as_bytes(),
        "the inner loop's block is not the one pybuild writes for this PEX \
         (dependencies {deps_hash}, pex_hash {pex_hash})"
    );
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_holds_no_single_quote_the_shell_would_end_on() {
        assert!(!PREPARE.contains('\''));
    }

    fn header() -> String {
        format!(
            "#!/bin/sh\nINSTALLED_PEX=\"${{PEX_ROOT}}/venvs/4/{}/{}\"\n\n{FAST_PATH}-z \"${{PEX_TOOLS:-}}\" ]; then\n    exec x\nfi\n",
            "a".repeat(40),
            "b".repeat(40)
        )
    }

    #[test]
    fn the_block_goes_before_pex_s_fast_path_with_its_checks() {
        let (deps, code) = ("c".repeat(40), "d".repeat(40));
        let out = add_inner_loop(header().as_bytes(), &deps, &code).unwrap();
        let out = String::from_utf8(out).unwrap();
        let block = out.find(BEGIN).unwrap();
        assert!(block < out.find(FAST_PATH).unwrap());
        assert!(out.contains(&format!("pybuild/deps/{deps}.{}\"", "b".repeat(40))));
        assert!(out.contains(&format!("pybuild/code/{code}\"")));
        assert!(out.contains("-a -z \"${PEX_TOOLS:-}\" -a -z \"${PEX_INTERPRETER:-}\""));
        // Each hash is 40 hex digits: no more, no fewer, no other character.
        for bad in [
            "c;rm".to_string(),
            "c".repeat(39),
            "c".repeat(41),
            "g".repeat(40),
        ] {
            assert!(
                add_inner_loop(header().as_bytes(), &bad, &code).is_err(),
                "{bad}"
            );
            assert!(
                add_inner_loop(header().as_bytes(), &deps, &bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_audit_takes_out_only_the_block_pybuild_writes_for_this_pex() {
        let (deps, code) = ("c".repeat(40), "d".repeat(40));
        let ours =
            String::from_utf8(add_inner_loop(header().as_bytes(), &deps, &code).unwrap()).unwrap();
        assert_eq!(without_inner_loop(&ours, &deps, &code).unwrap(), header());
        assert_eq!(
            without_inner_loop(&header(), &deps, &code).unwrap(),
            header()
        );
        let other = "e".repeat(40);
        for tampered in [
            // Another edit's code, or other dependencies.
            ours.replace(&code, &other),
            ours.replace(&deps, &other),
            // A command slipped in, in the block or in the Python it runs.
            ours.replace("        export PEX=\"$0\"\n", "        curl x | sh\n"),
            ours.replace("os.chmod(tmp, 0o755)", "os.system(\"x\")   "),
            // pex's checks changed in the block only.
            ours.replacen(
                "-a -z \"${PEX_TOOLS:-}\" -a -z \"${PEX_INTERPRETER",
                "-a -z \"${PEX_INTERPRETER",
                1,
            ),
            // A block without its end.
            ours.replace(END, ""),
        ] {
            assert_ne!(tampered, ours);
            assert!(
                without_inner_loop(&tampered, &deps, &code).is_err(),
                "{tampered}"
            );
        }
    }
}
