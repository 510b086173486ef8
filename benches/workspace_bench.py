"""Driver of benches/workspace.sh: many apps in one uv workspace (issue #27), pybuild's
workspace build side by side with loops of single-app builds.

The workspace (benches/gen_workspace.py): APPS apps over LIBS libraries, locked once with
uv (pybuild's version of it, installed with pex in a tools venv of the work dir). Every
timed build starts from a fresh copy of that locked tree (no venv, no .pybuild, no dist)
with the uv, pip, pex and pybuild caches of the work dir warm: an untimed round of each
tool fills them first. Three ways to build every app:

- pybuild: `pybuild -q bundle` at the root (`-j 1`, then the default `-j`, the cores);
- loop (a): `pybuild -q bundle -p MEMBER` once per app, in a loop;
- loop (b), without pybuild: per app `uv export --package MEMBER --no-dev --no-hashes
  --no-emit-workspace` and `pex -r requirements.txt ./apps/X ./libs/Y ... -c SCRIPT`
  (benches/workspace_pex.sh), in a loop, and (unless BENCH_LOOP_PARALLEL=0) the same under
  `xargs -P <cores>`.

Operations, on the copy each way built cold: a no-op at the root, an edit of library 0 (a
string in one module; every app whose closure holds it must print the new string, the
others keep their bytes), an edit of one app (it alone is rebuilt). Loop (b) has no
freshness: a no-op is its whole loop again, and pex builds an app from scratch every time,
so its edit rows are the sum of the affected apps' times in its cold loop (a team that
knows which apps an edit affects; rebuilding them all costs the cold row).

Every bundle's output is checked against what the tree it was built from prints
(gen_workspace.expected_output). BENCH_ONLY=baseline runs loop (b) alone. Loop (b)'s
times are saved in the work dir (loop-b-APPS-LIBS.json); BENCH_REUSE_LOOP_B=1 takes them
from there instead of measuring again (the summary then says so, with that run's time and
load: the ratios are no longer from one run).
"""

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gen_workspace as gen

PYBUILD, REPO, WORK = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
APPS = int(os.environ.get("APPS", "50"))
LIBS = int(os.environ.get("LIBS", "5"))
ONLY = os.environ.get("BENCH_ONLY", "")
LOOP_PARALLEL = os.environ.get("BENCH_LOOP_PARALLEL", "1") != "0"
REUSE_B = os.environ.get("BENCH_REUSE_LOOP_B") == "1"
CORES = os.cpu_count() or 1
NAMES = [gen.app_name(n, APPS) for n in range(APPS)]
EDITED_LIB = 0
EDITED_APP = NAMES[-1]
PEX_SCRIPT = REPO / "benches/workspace_pex.sh"
lines = []  # the summary


def say(line=""):
    print(line, flush=True)
    lines.append(line)


def run(cmd, cwd, env=None):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} (in {cwd}) exited {done.returncode}:\n"
                 f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def timed(cmd, cwd, env=None):
    start = time.perf_counter()
    run(cmd, cwd, env)
    return time.perf_counter() - start


def load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def tools():
    """A venv with pex and pybuild's uv (the version src/python/uv.rs pins): the tools of
    loop (b), and the uv that locks the workspace."""
    venv = WORK / "tools"
    pin = re.search(r'pub\(crate\) const VERSION: &str = "([^"]+)"',
                    (REPO / "src/python/uv.rs").read_text())[1]
    if not (venv / "bin/pex").is_file() or not (venv / "bin/uv").is_file():
        run([sys.executable, "-m", "venv", venv], WORK)
        run([venv / "bin/pip", "install", "-q", "--disable-pip-version-check", "pex",
             f"uv=={pin}"], WORK)
    return venv / "bin/uv", venv / "bin/pex"


def template(uv):
    root = WORK / "template"
    shutil.rmtree(root, ignore_errors=True)
    gen.generate(root, APPS, LIBS)
    run([uv, "lock", "-q"], root)
    return root


def fresh(template_root, name):
    dest = WORK / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(template_root, dest)
    return dest


def check(root, names, lib_tags=None, edited_app=None):
    """Every named app's bundle prints what its tree's code says."""
    for name in names:
        n = NAMES.index(name)
        want = gen.expected_output(n, APPS, LIBS, lib_tags,
                                   "v2" if name == edited_app else "v1")
        got = run([root / f"dist/{name}.pex"], root).strip()
        if got != want:
            sys.exit(f"{root}/dist/{name}.pex printed {got!r}, the tree says {want!r}")


def digests(root):
    return {name: hashlib.sha256((root / f"dist/{name}.pex").read_bytes()).hexdigest()
            for name in NAMES}


def member(name):
    return f"wsb-{name}"


# --- loop (b): uv export + pex per app

def loop_b(root, env, names):
    """Each app's time through workspace_pex.sh, in turn."""
    times = {}
    for name in names:
        times[name] = timed(["bash", PEX_SCRIPT, member(name), name], root, env)
        print(f"  loop (b) {name}: {times[name]:.1f} s", flush=True)
    return times


def loop_b_parallel(root, env):
    pairs = "".join(f"{member(name)} {name}\n" for name in NAMES)
    start = time.perf_counter()
    done = subprocess.run(["xargs", "-P", str(CORES), "-n", "2", "bash", PEX_SCRIPT],
                          cwd=root, env=env, input=pairs, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"xargs -P {CORES} workspace_pex.sh failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


# --- pybuild

def bundle(root, *args):
    return timed([PYBUILD, "-q", "bundle", *args], root)


def loop_a(root):
    start = time.perf_counter()
    for name in NAMES:
        run([PYBUILD, "-q", "bundle", "-p", member(name)], root)
    return time.perf_counter() - start


def main():
    start_all = time.perf_counter()
    uv, pex = tools()
    env = dict(os.environ, UV=str(uv), PEX=str(pex))
    root = template(uv)
    dependents = gen.dependents(EDITED_LIB, APPS, LIBS)
    pex_version = run([pex, "--version"], WORK).strip()
    uv_version = run([uv, "--version"], WORK).strip()
    say(f"workspace: {APPS} apps over {LIBS} libraries (work dir {WORK}); library "
        f"{EDITED_LIB} is in {len(dependents)} apps' closures")
    say(f"tools: {run([PYBUILD, '--version'], WORK).strip()}, {uv_version}, pex {pex_version},"
        f" {CORES} CPUs; load average at start {load()}")

    # Untimed rounds: fill uv's, pip's, pex's and pybuild's caches for both tools (loop (b)
    # on the first LIBS apps holds every library and third-party distribution).
    print("\n== warm-up (untimed)", flush=True)
    saved = WORK / f"loop-b-{APPS}-{LIBS}.json"
    if not (REUSE_B and saved.is_file()):
        warm = fresh(root, "warm-b")
        loop_b(warm, env, NAMES[:LIBS])
        shutil.rmtree(warm)
    if ONLY != "baseline":
        warm = fresh(root, "warm-pybuild")
        bundle(warm)
        shutil.rmtree(warm)

    rows = []
    pb = la = None
    if ONLY != "baseline":
        print("\n== pybuild: cold bundle of every app, -j 1", flush=True)
        j1 = fresh(root, "pybuild-j1")
        cold_j1 = bundle(j1, "-j", "1")
        check(j1, [NAMES[0], NAMES[-1]])
        shutil.rmtree(j1)
        print(f"  {cold_j1:.1f} s\n== pybuild: cold bundle of every app, default -j", flush=True)
        pb = fresh(root, "pybuild")
        cold_j = bundle(pb)
        check(pb, NAMES)
        print(f"  {cold_j:.1f} s\n== loop (a): pybuild bundle -p MEMBER per app", flush=True)
        la = fresh(root, "loop-a")
        cold_a = loop_a(la)
        print(f"  {cold_a:.1f} s", flush=True)

    if REUSE_B and saved.is_file():
        earlier = json.loads(saved.read_text())
        per_app, cold_b_par = earlier["per_app"], earlier["parallel"]
        say(f"loop (b): REUSED from the run of {earlier['when']} (load average then "
            f"{earlier['load']}), not measured in this run")
    else:
        print("\n== loop (b): uv export + pex per app", flush=True)
        lb = fresh(root, "loop-b")
        per_app = loop_b(lb, env, NAMES)
        check(lb, NAMES)
        cold_b_par = None
        if LOOP_PARALLEL:
            print(f"\n== loop (b) under xargs -P {CORES}", flush=True)
            lbp = fresh(root, "loop-b-parallel")
            cold_b_par = loop_b_parallel(lbp, env)
            check(lbp, NAMES)
            shutil.rmtree(lbp)
        saved.write_text(json.dumps({"per_app": per_app, "parallel": cold_b_par,
                                     "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                     "load": load()}))
    cold_b = sum(per_app.values())
    edit_lib_b = sum(per_app[name] for name in dependents)
    edit_app_b = per_app[EDITED_APP]

    if ONLY != "baseline":
        print("\n== no-op at the root", flush=True)
        # Files hashed within 2 s of being written are hashed again by the next run (the
        # stat cache's racy rule): one run, 3 s, one more run settle it.
        bundle(pb)
        loop_a(la)
        time.sleep(3)
        bundle(pb)
        loop_a(la)
        noop = statistics.median(bundle(pb) for _ in range(5))
        noop_a = loop_a(la)

        print(f"\n== edit of library {EDITED_LIB}", flush=True)
        before = digests(pb)
        for copy in (pb, la):
            gen.edit_library(copy, EDITED_LIB, "v2")
        edit_lib = bundle(pb)
        edit_lib_a = loop_a(la)
        after = digests(pb)
        changed = sorted(n for n in NAMES if before[n] != after[n])
        if changed != sorted(dependents):
            sys.exit(f"library {EDITED_LIB}'s edit changed the bundles of {changed}, "
                     f"its dependents are {dependents}")
        check(pb, NAMES, {EDITED_LIB: "v2"})
        check(la, dependents, {EDITED_LIB: "v2"})

        print(f"\n== edit of app {EDITED_APP}", flush=True)
        before = after
        for copy in (pb, la):
            gen.edit_app(copy, EDITED_APP, "v2")
        edit_app = bundle(pb)
        edit_app_a = loop_a(la)
        after = digests(pb)
        changed = [n for n in NAMES if before[n] != after[n]]
        if changed != [EDITED_APP]:
            sys.exit(f"app {EDITED_APP}'s edit changed the bundles of {changed}")
        check(pb, [EDITED_APP], {EDITED_LIB: "v2"}, EDITED_APP)
        check(la, [EDITED_APP], {EDITED_LIB: "v2"}, EDITED_APP)

        def ratio(ours, theirs):
            if not theirs:
                return "–"
            return f"{ours / theirs:.3f}" if ours / theirs >= 0.01 else f"{ours / theirs:.1e}"

        def secs(value):
            return "–" if value is None else (f"{value * 1000:.0f} ms" if value < 1
                                              else f"{value:.1f} s")

        par = f"{secs(cold_b_par)} (`xargs -P {CORES}`)" if cold_b_par else "–"
        rows = [
            (f"cold bundle of {APPS} apps, `-j 1`", cold_j1, cold_a, secs(cold_b), cold_b),
            (f"cold bundle of {APPS} apps, default `-j` ({CORES})", cold_j, None, par,
             cold_b_par),
            ("no-op at the root (pybuild: median of 5)", noop, noop_a,
             f"{secs(cold_b)} (no freshness: the whole loop)", cold_b),
            (f"edit library {EDITED_LIB} ({len(dependents)} apps affected)", edit_lib,
             edit_lib_a, f"{secs(edit_lib_b)} (the {len(dependents)} apps only)", edit_lib_b),
            (f"edit app {EDITED_APP} (1 app affected)", edit_app, edit_app_a,
             f"{secs(edit_app_b)} (that app only)", edit_app_b),
        ]
        table = [
            "| operation | pybuild | loop (a) `bundle -p` | loop (b) uv export + pex "
            "| pybuild / (a) | pybuild / (b) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for what, ours, a, b_text, b in rows:
            table.append(f"| {what} | {secs(ours)} | {secs(a)} | {b_text} "
                         f"| {ratio(ours, a) if a else '–'} | {ratio(ours, b)} |")
    else:
        table = [
            "| operation | loop (b) uv export + pex |",
            "| --- | ---: |",
            f"| cold build of {APPS} apps, one at a time | {cold_b:.1f} s |",
        ]
        if cold_b_par:
            table.append(f"| cold build of {APPS} apps, `xargs -P {CORES}` | {cold_b_par:.1f} s |")
        table.append(f"| library {EDITED_LIB}'s {len(dependents)} dependents | {edit_lib_b:.1f} s |")
        table.append(f"| app {EDITED_APP} alone | {edit_app_b:.1f} s |")

    times = sorted(per_app.values())
    say(f"loop (b) per app: median {statistics.median(times):.1f} s, "
        f"min {times[0]:.1f} s, max {times[-1]:.1f} s")
    say(f"load average at end {load()}; whole script {time.perf_counter() - start_all:.0f} s")
    print("\n==================== summary (paste into docs/benchmarks.md) ====================")
    print(f"`APPS={APPS} LIBS={LIBS} bash benches/workspace.sh` ({time.strftime('%Y-%m-%d')})")
    print("\n".join(lines))
    print()
    print("\n".join(table))
    print("=================================================================================")


main()
