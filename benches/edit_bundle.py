"""Driver of benches/edit.sh: times pybuild and pex side by side on real projects.

Each measurement alternates the two tools (edit → `pybuild -q bundle`, then a warm
`pex . -c SCRIPT -o OUT` on the same tree) so machine noise hits both alike, and reports
medians and their ratio. On the sample, the same for a pin change in `requirements.txt`
(`six==1.15.0` ↔ `six==1.16.0` → `pybuild -q bundle`, then a warm
`pex . -r requirements.txt -c greet -o OUT`, the Makefile way), checking that the bundle
ships the pinned version. Also: a cold `pybuild bundle` of a fresh copy (warm download
caches), a no-op, and the bundle's start-up time with pybuild's default (`--venv
--sh-boot`), with `pex-args = ["--no-sh-boot"]` (pex's default zipapp layout: pex 2.105
has no `--no-venv`, and pybuild passes `pex-args` through) and of the `pex .` PEX.

The inner loop (issue #30): after each timed edit, the first run of the new bundle (under
the bench's `PEX_ROOT`, which keeps the venvs of earlier runs, as a developer's does) and
then a warm run, side by side with a plain `pex . -c SCRIPT --venv --sh-boot` rebuild of
the same tree and its first and warm runs; and how much `PEX_ROOT` grew over the edits.

The inner loop also runs on a small app on pandas and pyarrow (large dependencies;
`BENCH_PANDAS=0` leaves it out: it downloads about 60 MB of wheels once).

benches/cold_bundle.py imports this module for `sample` and `yamllint`.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

PYBUILD, REPO, WORK, PAIRS = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
YAMLLINT = "yamllint==1.35.1"
TARGET = 0.1  # edit → bundle, pybuild / warm `pex .`
PINS = ("six==1.15.0", "six==1.16.0")


def run(cmd, cwd, **kw):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, **kw)


def timed(cmd, cwd):
    start = time.perf_counter()
    run(cmd, cwd)
    return time.perf_counter() - start


def median_of(n, cmd, cwd):
    return statistics.median(timed(cmd, cwd) for _ in range(n))


def sample(dest=None):
    dest = dest or WORK / "sample"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(REPO / "tests/fixtures/sample", dest)
    return dest, "greet", "src/greeter/words.py", []


def yamllint(python, dest=None):
    """yamllint's sdist (downloaded once into WORK/sdists), unpacked to `dest`."""
    dest = dest or WORK / "yamllint"
    shutil.rmtree(dest, ignore_errors=True)
    downloads = WORK / "sdists"
    if not any(downloads.glob("yamllint-*.tar.gz")):
        run([python, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             YAMLLINT, "-d", downloads], WORK)
    archive = next(downloads.glob("yamllint-*.tar.gz"))
    unpacked = WORK / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    shutil.move(next(unpacked.glob("yamllint-*")), dest)
    return dest, "yamllint", "yamllint/linter.py", ["--version"]


def pandas_app(dest=None):
    """A small app on large dependencies: pandas and pyarrow (a PEX of about 73 MB)."""
    dest = dest or WORK / "pdapp"
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "src/pdapp").mkdir(parents=True)
    (dest / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "pdapp"\nversion = "0.1.0"\n'
        'dependencies = ["pandas==2.2.3", "pyarrow==18.1.0"]\n\n'
        '[project.scripts]\npdapp = "pdapp.cli:main"\n')
    (dest / "src/pdapp/__init__.py").write_text("")
    (dest / "src/pdapp/cli.py").write_text(
        "import pandas as pd\nimport pyarrow as pa\n\n\ndef main():\n"
        "    frame = pd.DataFrame({'a': [1, 2, 3]})\n"
        "    print(int(frame.a.sum()), pa.Table.from_pandas(frame).num_rows)\n")
    return dest, "pdapp", "src/pdapp/cli.py", []


def shipped(bundle, name):
    """The version of `name` the manifest beside a pybuild bundle says shipped."""
    manifest = json.loads(bundle.with_suffix(".manifest.json").read_text())
    return manifest["distributions"].get(name)


def carries(pex, name, version):
    """Whether a PEX file holds `name` at `version` (its wheel or dist-info)."""
    with zipfile.ZipFile(pex) as archive:
        return any(f"/{name}-{version}" in "/" + entry for entry in archive.namelist())


def pin_change(project, script):
    """Alternated pairs: pin six in requirements.txt → `pybuild -q bundle`, then a warm
    `pex . -r requirements.txt -c SCRIPT -o OUT` with the same pin. Both tools build each pin
    once first, so every timed build finds it in the caches."""
    requirements = project / "requirements.txt"
    out = WORK / f"{project.name}-pex-dot-r.pex"
    pex_cmd = [project / ".venv/bin/pex", ".", "-r", "requirements.txt", "-c", script, "-o", out]
    bundle = project / "dist" / f"{script}.pex"
    for pin in PINS:  # warm-up
        requirements.write_text(pin + "\n")
        run([PYBUILD, "-q", "bundle"], project)
        run(pex_cmd, project)
    ours, theirs = [], []
    for i in range(PAIRS):
        pin = PINS[i % 2]
        requirements.write_text(pin + "\n")
        ours.append(timed([PYBUILD, "-q", "bundle"], project))
        theirs.append(timed(pex_cmd, project))
        version = pin.split("==")[1]
        if shipped(bundle, "six") != version or not carries(out, "six", version):
            sys.exit(f"{pin} in requirements.txt, but a bundle does not ship six {version}")
    requirements.write_text(PINS[1] + "\n")
    run([PYBUILD, "-q", "bundle"], project)
    return statistics.median(ours), statistics.median(theirs)


def pex_root_bytes():
    """The bytes under the runtime `PEX_ROOT` (symlinks counted as links)."""
    root = Path(os.environ["PEX_ROOT"])
    return sum(p.lstat().st_size for p in root.rglob("*")) if root.is_dir() else 0


def inner_loop(project, script, edited, run_args, pex):
    """Alternated: edit → `pybuild -q bundle` → first run → warm run, then the same tree
    with `pex . -c SCRIPT --venv --sh-boot`: per tool, the medians of (bundle, first run,
    warm run), and `PEX_ROOT`'s growth over pybuild's edits."""
    bundle = project / "dist" / f"{script}.pex"
    out = WORK / f"{project.name}-pex-venv.pex"
    pex_cmd = [pex, ".", "-c", script, "--venv", "--sh-boot", "-o", out]
    run(pex_cmd, project)  # warm pex's caches for this command
    # Both bundles as a developer has them before an edit: built and run once.
    run([PYBUILD, "-q", "bundle"], project)
    run([bundle, *run_args], project)
    run([out, *run_args], project)
    source = (project / edited).read_text()
    ours, theirs = [], []
    grown = 0
    for i in range(PAIRS):
        (project / edited).write_text(f"{source}\n# inner loop {i}\n")
        before = pex_root_bytes()
        row = [timed([PYBUILD, "-q", "bundle"], project)]
        row += [timed([bundle, *run_args], project), timed([bundle, *run_args], project)]
        grown += pex_root_bytes() - before
        ours.append(row)
        theirs.append([timed(pex_cmd, project), timed([out, *run_args], project),
                       timed([out, *run_args], project)])
    (project / edited).write_text(source)
    run([PYBUILD, "-q", "bundle"], project)
    return ([statistics.median(r[k] for r in ours) for k in range(3)],
            [statistics.median(r[k] for r in theirs) for k in range(3)], grown)


def print_inner_loop(script, ours, pex, grown):
    print(f"inner loop: edit → bundle, first run, warm run (medians of {PAIRS} alternated):")
    print(f"  {'':34} {'bundle':>7} {'1st run':>8} {'warm':>7} {'1st/warm':>8}")
    for name, (b, first, warm) in (("pybuild -q bundle (layered)", ours),
                                   (f"pex . -c {script} --venv --sh-boot", pex)):
        print(f"  {name:<34} {b:7.2f} {first:8.2f} {warm:7.2f} {first / warm:8.1f}"
              f"  (+{first - warm:.2f} s)")
    print(f"  PEX_ROOT grew {grown / 1e6:.2f} MB over {PAIRS} pybuild edits and runs")


def inner_loop_only(project, script, edited, run_args):
    """`BENCH_ONLY=inner-loop`: the inner loop's rows alone, after an untimed first bundle."""
    print(f"\n== {project.name}", flush=True)
    run([PYBUILD, "-q", "init", "--no-setup"], project)
    run([PYBUILD, "-q", "bundle"], project)
    print_inner_loop(script, *inner_loop(project, script, edited, run_args,
                                         project / ".venv/bin/pex"))


def bench(project, script, edited, run_args, pins=False):
    print(f"\n== {project.name}", flush=True)
    run([PYBUILD, "-q", "init", "--no-setup"], project)
    cold = timed([PYBUILD, "-q", "bundle"], project)
    noop = median_of(10, [PYBUILD, "-q", "bundle"], project)
    pex = project / ".venv/bin/pex"
    out = WORK / f"{project.name}-pex-dot.pex"
    pex_cmd = [pex, ".", "-c", script, "-o", out]
    run(pex_cmd, project)  # warm pex's and pip's caches for `pex .`
    source = (project / edited).read_text()
    ours, theirs = [], []
    for i in range(PAIRS):
        (project / edited).write_text(f"{source}\n# edit {i}\n")
        ours.append(timed([PYBUILD, "-q", "bundle"], project))
        theirs.append(timed(pex_cmd, project))
    (project / edited).write_text(source)
    pinned = pin_change(project, script) if pins else None
    loop_ours, loop_pex, grown = inner_loop(project, script, edited, run_args, pex)

    bundle = next((project / "dist").glob("*.pex"))
    run([PYBUILD, "-q", "bundle"], project)
    run([bundle, *run_args], project)  # the first run builds the PEX's venv
    startup = median_of(10, [bundle, *run_args], project)
    run([out, *run_args], project)
    startup_pex_dot = median_of(10, [out, *run_args], project)

    config = project / "project.toml"
    config.write_text(config.read_text().replace(
        "[bundle]", '[bundle]\npex-args = ["--no-sh-boot"]', 1))
    run([PYBUILD, "-q", "bundle"], project)
    run([bundle, *run_args], project)
    startup_zip = median_of(10, [bundle, *run_args], project)

    ours_m, theirs_m = statistics.median(ours), statistics.median(theirs)
    print(f"edit → bundle, median of {PAIRS} alternated pairs:")
    print(f"  pybuild -q bundle (layered)    {ours_m:7.2f} s")
    print(f"  pex . -c {script:<21} {theirs_m:7.2f} s")
    print(f"  ratio pybuild / pex .          {ours_m / theirs_m:7.3f}  (target ≤ {TARGET})")
    if pinned:
        print(f"pin change ({' ↔ '.join(PINS)}) → bundle, median of {PAIRS} alternated pairs:")
        print(f"  {'pybuild -q bundle':<34} {pinned[0]:7.2f} s")
        print(f"  {'pex . -r requirements.txt -c ' + script:<34} {pinned[1]:7.2f} s")
        print(f"  {'ratio pybuild / pex . -r':<34} {pinned[0] / pinned[1]:7.3f}")
    print_inner_loop(script, loop_ours, loop_pex, grown)
    print(f"cold pybuild bundle (fresh copy, warm caches) {cold:6.2f} s")
    print(f"no-op pybuild bundle (median of 10)          {noop * 1000:6.1f} ms")
    print(f"start-up of {bundle.name} {' '.join(run_args)} (median of 10):")
    print(f"  layered PEX, default (--venv --sh-boot) {startup * 1000:7.0f} ms")
    print(f"  layered PEX, pex-args --no-sh-boot      {startup_zip * 1000:7.0f} ms")
    print(f"  `pex .` PEX, pex's default              {startup_pex_dot * 1000:7.0f} ms")
    return ours_m / theirs_m


def main():
    versions = subprocess.run([PYBUILD, "--version"], capture_output=True, text=True).stdout
    print(f"{versions.strip()}; {PAIRS} pairs; work dir {WORK}")
    if os.environ.get("BENCH_ONLY") == "inner-loop":
        project = sample()
        inner_loop_only(*project)
        inner_loop_only(*yamllint(str(project[0] / ".venv/bin/python")))
        if os.environ.get("BENCH_PANDAS") != "0":
            inner_loop_only(*pandas_app())
        return
    ratios = []
    project = sample()
    ratios.append(bench(*project, pins=True))
    ratios.append(bench(*yamllint(str(project[0] / ".venv/bin/python"))))
    if os.environ.get("BENCH_PANDAS") != "0":
        inner_loop_only(*pandas_app())
    ok = all(r <= TARGET for r in ratios)
    print(f"\n{'PASS' if ok else 'FAIL'}: edit → bundle ratios {', '.join(f'{r:.3f}' for r in ratios)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
