"""Driver of benches/processes.sh: edit → bundle on the sample, timed, and its processes and
file reads."""

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

AFTER, BEFORE, REPO, WORK, ROUNDS = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
CONFIG = '[project]\nname = "greeter"\n\n[env]\nrequirements = ["requirements.txt"]\n'


def sample(name):
    dest = WORK / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(REPO / "tests/fixtures/sample", dest)
    (dest / "project.toml").write_text(CONFIG)
    return dest


def edit(project, n):
    (project / "src/greeter/words.py").write_text(f'def word():\n    return "hello{n}"\n')


def bundle(pybuild, project):
    subprocess.run([pybuild, "-q", "bundle"], cwd=project, check=True, stdout=subprocess.DEVNULL)


def timed_edit(pybuild, project, n):
    edit(project, n)
    start = time.perf_counter()
    bundle(pybuild, project)
    elapsed = time.perf_counter() - start
    out = subprocess.run([project / "dist/greet.pex"], check=True, capture_output=True, text=True).stdout
    assert out.startswith(f"greeting: hello{n}\n"), out
    return elapsed


def traced(pybuild, project, n):
    """The programs one edit → bundle executes besides pybuild, and how often it lists
    site-packages and opens requirements.txt and entry_points.txt."""
    edit(project, n)
    trace = WORK / "edit.trace"
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve,openat", "-o", trace, pybuild, "-q", "bundle"],
                   cwd=project, check=True, stdout=subprocess.DEVNULL)
    lines = [line for line in trace.read_text().splitlines() if "= -1" not in line]
    execs = [line for line in lines if "execve(" in line]
    opens = [line.split('"')[1] for line in lines if "openat(" in line]
    listings = [line for line in lines if "openat(" in line and "O_DIRECTORY" in line
                and line.split('"')[1].endswith("/site-packages")]
    counts = {
        "site-packages listings": len(listings),
        "requirements.txt opens": sum(path.endswith("/requirements.txt") or path == "requirements.txt"
                                      for path in opens),
        "entry_points.txt opens": sum(path.endswith("/entry_points.txt") for path in opens),
        # The editable install's, opened to be read (hashing opens O_NONBLOCK): the bundle's
        # target reads it once.
        "venv entry_points.txt reads": sum(
            f"{project}/.venv/" in line and line.split('"')[1].endswith(".dist-info/entry_points.txt")
            and "O_NONBLOCK" not in line for line in lines if "openat(" in line),
    }
    return [line.split('"')[1] for line in execs[1:]], counts


tools = {"after": AFTER}
if BEFORE:
    tools["before"] = BEFORE
projects = {label: sample(f"sample-{label}") for label in tools}
for label, pybuild in tools.items():
    bundle(pybuild, projects[label])
times = {label: [] for label in tools}
for n in range(ROUNDS):
    for label, pybuild in tools.items():
        times[label].append(timed_edit(pybuild, projects[label], n))
for label, pybuild in tools.items():
    started, counts = traced(pybuild, projects[label], ROUNDS)
    median = statistics.median(times[label])
    print(f"{label:6} edit → bundle: median {median * 1000:.0f} ms of {ROUNDS}; "
          f"processes started: {len(started)} {started}; "
          + "; ".join(f"{what}: {count}" for what, count in counts.items()))
if BEFORE:
    ratio = statistics.median(times["after"]) / statistics.median(times["before"])
    print(f"after / before: {ratio:.2f}")
