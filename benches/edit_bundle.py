"""Driver of benches/edit.sh: times pybuild and pex side by side on real projects.

Each measurement alternates the two tools (edit → `pybuild -q bundle`, then a warm
`pex . -c SCRIPT -o OUT` on the same tree) so machine noise hits both alike, and reports
medians and their ratio. Also: a cold `pybuild bundle` of a fresh copy (warm download
caches), a no-op, and the bundle's start-up time with pex's default layout and with
`pex-args = ["--venv", "--sh-boot"]`.
"""

import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

PYBUILD, REPO, WORK, PAIRS = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
YAMLLINT = "yamllint==1.35.1"


def run(cmd, cwd, **kw):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, **kw)


def timed(cmd, cwd):
    start = time.perf_counter()
    run(cmd, cwd)
    return time.perf_counter() - start


def median_of(n, cmd, cwd):
    return statistics.median(timed(cmd, cwd) for _ in range(n))


def sample():
    dest = WORK / "sample"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(REPO / "tests/fixtures/sample", dest)
    return dest, "greet", "src/greeter/words.py", []


def yamllint(python):
    dest = WORK / "yamllint"
    shutil.rmtree(dest, ignore_errors=True)
    downloads = WORK / "sdists"
    run([python, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         YAMLLINT, "-d", downloads], WORK)
    archive = next(downloads.glob("yamllint-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(WORK / "unpacked", filter="data")
    shutil.move(next((WORK / "unpacked").glob("yamllint-*")), dest)
    return dest, "yamllint", "yamllint/linter.py", ["--version"]


def bench(project, script, edited, run_args):
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
    bundle = next((project / "dist").glob("*.pex"))
    startup = median_of(10, [bundle, *run_args], project)
    startup_pex_dot = median_of(10, [out, *run_args], project)

    config = project / "project.toml"
    config.write_text(config.read_text().replace(
        "[bundle]", '[bundle]\npex-args = ["--venv", "--sh-boot"]', 1))
    run([PYBUILD, "-q", "bundle"], project)
    run([bundle, *run_args], project)  # the first run builds the venv
    startup_venv = median_of(10, [bundle, *run_args], project)

    ours_m, theirs_m = statistics.median(ours), statistics.median(theirs)
    print(f"edit → bundle, median of {PAIRS} alternated pairs:")
    print(f"  pybuild -q bundle (layered)    {ours_m:7.2f} s")
    print(f"  pex . -c {script:<21} {theirs_m:7.2f} s")
    print(f"  ratio pybuild / pex .          {ours_m / theirs_m:7.3f}  (target ≤ 0.25)")
    print(f"cold pybuild bundle (fresh copy, warm caches) {cold:6.2f} s")
    print(f"no-op pybuild bundle (median of 10)          {noop * 1000:6.1f} ms")
    print(f"start-up of {bundle.name} {' '.join(run_args)} (median of 10):")
    print(f"  layered PEX, default          {startup * 1000:7.0f} ms")
    print(f"  `pex .` PEX, default          {startup_pex_dot * 1000:7.0f} ms")
    print(f"  layered PEX, --venv --sh-boot {startup_venv * 1000:7.0f} ms")
    return ours_m / theirs_m


def main():
    versions = subprocess.run([PYBUILD, "--version"], capture_output=True, text=True).stdout
    print(f"{versions.strip()}; {PAIRS} pairs; work dir {WORK}")
    ratios = []
    project = sample()
    ratios.append(bench(*project))
    ratios.append(bench(*yamllint(str(project[0] / ".venv/bin/python"))))
    ok = all(r <= 0.25 for r in ratios)
    print(f"\n{'PASS' if ok else 'FAIL'}: edit → bundle ratios {', '.join(f'{r:.3f}' for r in ratios)}")
    sys.exit(0 if ok else 1)


main()
