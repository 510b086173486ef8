"""Driver of benches/cold.sh: a cold build, side by side with the tools it replaces.

Every timed run starts from a fresh copy of the project (no venv, no .pybuild, no dist),
with the pip, pex, shiv, uv and wheelhouse caches of the work dir warm (a first, untimed
round fills them), and the tools alternate so machine noise hits them alike. Reported:
medians, and their ratios.

- cold bundle: `pybuild init --no-setup` (untimed), then `pybuild -q bundle`, against a
  warm `pex . -c SCRIPT -o OUT` (the pex of a venv pybuild built, so the same version);
- setup: `pybuild -q init` (writes project.toml, then venv, tools, check, develop) against
  `python3 -m venv .venv && .venv/bin/pip install -e .` and `uv venv && uv pip install
  -e .`, with the uv pybuild runs (see `uv_program`);
- a failing check: `[check] headers = ["no_such_header_xyz.h"]`, the seconds until
  `pybuild bundle` exits non-zero, on a fresh copy and again on the same copy;
- start-up of each bundle kind built from the sample: the second run, then the median of
  5 more, against the venv's own console script (`.venv/bin/greet`).

Projects: tests/fixtures/sample and yamllint 1.35.1 from its PyPI sdist (see
edit_bundle.py, whose `sample` and `yamllint` make the copies).
"""

import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import edit_bundle as eb
from edit_bundle import PYBUILD, WORK, PAIRS, run, timed

KINDS = sys.argv[5:] or ["pex", "pex-zipapp", "shiv", "zipapp", "pyinstaller"]
COLD = WORK / "cold"
TARGET = 0.35  # cold pybuild bundle / warm `pex .`
QUIET_PIP = ["--disable-pip-version-check", "-q"]
lines = []  # the summary


def say(line):
    print(line, flush=True)
    lines.append(line)


def compare(what, ours, theirs, tool, target=None):
    o, t = statistics.median(ours), statistics.median(theirs)
    goal = f" (target ≤ {target})" if target else ""
    say(f"{what}: pybuild {o:.2f} s vs {tool} {t:.2f} s, ratio {o / t:.3f}{goal}"
        f"  [{len(ours)} pairs]")
    return o / t


def uv_program():
    """The uv pybuild runs: the one on PATH, else its own, which the first pybuild run
    fetched into PYBUILD_CACHE_DIR (the version read from src/python/uv.rs, so it follows pybuild's
    pin)."""
    if shutil.which("uv"):
        return shutil.which("uv")
    pin = re.search(r'pub const VERSION: &str = "([^"]+)"', (eb.REPO / "src/python/uv.rs").read_text())
    uv = Path(os.environ["PYBUILD_CACHE_DIR"]) / "uv" / pin[1] / "bin/uv"
    if not uv.is_file():
        sys.exit(f"{uv} is missing: pybuild did not fetch its uv")
    return str(uv)


def fresh(make, name, tag):
    """A fresh copy of project `name` at COLD/<name>-<tag>; returns (root, script, run args)."""
    dest = COLD / f"{name}-{tag}"
    project, script, _, run_args = make(dest)
    return project, script, run_args


def cold_bundle(make, name):
    print(f"\n== cold bundle: {name}", flush=True)
    # Untimed round: fills pip's, pex's and the wheelhouse's caches for both tools, and
    # leaves a venv whose pex (the version pybuild installs) is the one compared.
    warm, script, run_args = fresh(make, name, "warm")
    run([PYBUILD, "-q", "init", "--no-setup"], warm)
    run([PYBUILD, "-q", "bundle"], warm)
    pex = warm / ".venv/bin/pex"
    out = COLD / f"{name}-pex-dot.pex"
    other, _, _ = fresh(make, name, "pex")
    run([pex, ".", "-c", script, "-o", out], other)
    ours, theirs = [], []
    for i in range(PAIRS):
        project, _, _ = fresh(make, name, "pybuild")
        run([PYBUILD, "-q", "init", "--no-setup"], project)
        ours.append(timed([PYBUILD, "-q", "bundle"], project))
        run([next((project / "dist").glob("*.pex")), *run_args], project)
        shutil.rmtree(project)
        other, _, _ = fresh(make, name, "pex")
        theirs.append(timed([pex, ".", "-c", script, "-o", out], other))
        shutil.rmtree(other)
        print(f"  pair {i + 1}: pybuild {ours[-1]:.2f} s, pex . {theirs[-1]:.2f} s", flush=True)
    return compare(f"cold bundle, {name} (fresh copy, warm caches)", ours, theirs,
                   f"warm `pex . -c {script}`", TARGET)


def setup(make, name):
    print(f"\n== setup: {name}", flush=True)
    uv = shlex.quote(uv_program())
    version = subprocess.run(["sh", "-c", f"{uv} --version"], capture_output=True,
                             text=True).stdout.split()[1]
    plain = f"python3 -m venv .venv && .venv/bin/pip install {' '.join(QUIET_PIP)} -e ."
    uv_cmd = f"{uv} -q venv .venv && {uv} -q pip install -e ."
    # Untimed round: pybuild now installs with uv, so nothing else fills pip's cache with
    # what `pip install -e .` needs (the build backend, the dependencies).
    for tag, cmd in (("venv-pip", plain), ("uv", uv_cmd)):
        project, _, _ = fresh(make, name, tag)
        run(["sh", "-c", cmd], project)
        shutil.rmtree(project)
    ours, pips, uvs = [], [], []
    for i in range(PAIRS):
        project, _, _ = fresh(make, name, "init")
        ours.append(timed([PYBUILD, "-q", "init"], project))
        shutil.rmtree(project)
        project, _, _ = fresh(make, name, "venv-pip")
        pips.append(timed(["sh", "-c", plain], project))
        shutil.rmtree(project)
        project, _, _ = fresh(make, name, "uv")
        uvs.append(timed(["sh", "-c", uv_cmd], project))
        shutil.rmtree(project)
        print(f"  pair {i + 1}: pybuild init {ours[-1]:.2f} s, venv + pip {pips[-1]:.2f} s,"
              f" uv {uvs[-1]:.2f} s", flush=True)
    compare(f"setup, {name}", ours, pips, "`python3 -m venv .venv && pip install -e .`")
    compare(f"setup, {name}", ours, uvs, f"`uv venv && uv pip install -e .` (uv {version})")


def failing_check():
    print("\n== failing check: sample", flush=True)
    config = ('[project]\nname = "greeter"\n\n[env]\nrequirements = ["requirements.txt"]\n\n'
              '[check]\nheaders = ["no_such_header_xyz.h"]\n')
    firsts, agains, message = [], [], ""
    for i in range(PAIRS):
        project, _, _ = fresh(lambda dest: eb.sample(dest), "sample", "check")
        (project / "project.toml").write_text(config)
        for times in (firsts, agains):
            start = time.perf_counter()
            done = subprocess.run([PYBUILD, "bundle"], cwd=project, capture_output=True,
                                  text=True)
            times.append(time.perf_counter() - start)
            if done.returncode == 0:
                sys.exit("pybuild bundle succeeded with a missing header")
            message = message or next(
                (l for l in done.stderr.splitlines() if "no_such_header_xyz" in l), "")
        shutil.rmtree(project)
        print(f"  run {i + 1}: fresh copy {firsts[-1]:.2f} s, again {agains[-1]:.2f} s",
              flush=True)
    say(f"failing check (exit {done.returncode}): fresh copy {statistics.median(firsts):.2f} s,"
        f" again on that copy {statistics.median(agains):.2f} s  [median of {PAIRS}]")
    say(f"  it said: {message.strip()}")


KIND_CONFIG = {
    "pex": ("pex", ""),
    # pex 2.105 has no `--no-venv`: `--no-sh-boot` keeps pybuild from adding `--venv
    # --sh-boot`, which leaves pex's default zipapp layout.
    "pex-zipapp": ("pex", 'pex-args = ["--no-sh-boot"]\n'),
    "shiv": ("shiv", ""),
    "zipapp": ("zipapp", ""),
    "pyinstaller": ("pyinstaller", ""),
}


def startup():
    print("\n== start-up of each bundle kind: sample", flush=True)
    project, script, _ = fresh(lambda dest: eb.sample(dest), "sample", "kinds")
    head = '[project]\nname = "greeter"\n\n[env]\nrequirements = ["requirements.txt"]\n\n'
    (project / "project.toml").write_text(head)
    run([PYBUILD, "-q", "setup"], project)
    venv_script = project / ".venv/bin/greet"
    run([venv_script], project)
    reference = statistics.median(timed([venv_script], project) for _ in range(5))
    say(f"start-up, `.venv/bin/greet` (editable install, no bundle): {reference * 1000:.0f} ms"
        "  [median of 5]")
    for kind in KINDS:
        backend, extra = KIND_CONFIG[kind]
        (project / "project.toml").write_text(
            f'{head}[bundle]\nkind = "{backend}"\n{extra}')
        shutil.rmtree(project / "dist", ignore_errors=True)
        try:
            build = timed([PYBUILD, "-q", "bundle"], project)
        except subprocess.CalledProcessError as e:
            say(f"start-up, {kind}: the build failed ({e.returncode}), skipped")
            continue
        bundle = next(p for p in (project / "dist").iterdir()
                      if p.is_file() and not p.name.endswith(".manifest.json"))
        first = timed([bundle], project)
        second = timed([bundle], project)
        warm = statistics.median(timed([bundle], project) for _ in range(5))
        say(f"start-up, {kind} ({bundle.name}): pybuild's bundle {second:.3f} s second run,"
            f" {warm:.3f} s median of 5 vs `.venv/bin/greet` {reference:.3f} s,"
            f" ratio {warm / reference:.2f}  (first run {first:.3f} s, build {build:.1f} s)")


def main():
    versions = subprocess.run([PYBUILD, "--version"], capture_output=True, text=True).stdout
    print(f"{versions.strip()}; {PAIRS} pairs; work dir {WORK}")
    shutil.rmtree(COLD, ignore_errors=True)
    COLD.mkdir(parents=True)
    projects = [(lambda dest: eb.sample(dest), "sample")]
    # yamllint's sdist is fetched with the sample's venv's pip, once (edit_bundle keeps it).
    python = None

    def yamllint(dest):
        return eb.yamllint(python, dest)

    ratios = [cold_bundle(*projects[0])]
    python = str(COLD / "sample-warm/.venv/bin/python")
    projects.append((yamllint, "yamllint"))
    ratios.append(cold_bundle(*projects[1]))
    for project in projects:
        setup(*project)
    failing_check()
    startup()
    print("\n==================== summary ====================")
    print("\n".join(lines))
    ok = all(r <= TARGET for r in ratios)
    print(f"\n{'PASS' if ok else 'FAIL'}: cold bundle ratios "
          f"{', '.join(f'{r:.3f}' for r in ratios)} (target ≤ {TARGET})")


if __name__ == "__main__":
    main()
