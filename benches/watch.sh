#!/usr/bin/env bash
# Watch benchmark: latency from a file write to the build's start and to the rebuilt bundle
# being in place (median of RUNS), and how many runs a 500-file burst causes.
#
#   bash benches/watch.sh [RUNS] [DEBOUNCE_MS]    (defaults 10 and 50; BENCH_DIR=... keeps
#                                                  the work dir)
#
# Targets (issue #5): write → build start ≤ debounce + 50 ms; burst → exactly 1 run
# (2 if a run was already going).
#
# "Build start" is the moment watch prints the first step's `running (...)` line, i.e. after
# the debounce, the lock, loading the state and fingerprinting the steps before it; "in
# place" is when dist/greet.pex is replaced (a new inode), polled every millisecond.
set -euo pipefail
RUNS=${1:-10}
DEBOUNCE=${2:-50}
source "$(dirname "$0")/common.sh"
export NO_COLOR=1
proj=$work/sample
rm -rf "$proj"
cp -r "$repo/tests/fixtures/sample" "$proj"
printf '[project]\nname = "greeter"\n\n[env]\nrequirements = ["requirements.txt"]\n' >"$proj/project.toml"
echo "== work dir: $work; first bundle (venv, tools, develop, PEX)"
"$pb" -C "$proj" bundle

python3 - "$pb" "$proj" "$RUNS" "$DEBOUNCE" <<'EOF'
import os, queue, signal, statistics, subprocess, sys, threading, time

pb, proj, runs, debounce = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bundle = os.path.join(proj, "dist/greet.pex")
words = os.path.join(proj, "src/greeter/words.py")
lines = queue.Queue()  # (time, line)

watch = subprocess.Popen([pb, "-C", proj, "watch", "--debounce", str(debounce)],
                         stderr=subprocess.PIPE, text=True, start_new_session=True)

def read():
    for line in watch.stderr:
        lines.put((time.monotonic(), line.rstrip("\n")))
threading.Thread(target=read, daemon=True).start()

def wait_line(pred, timeout=600):
    end = time.monotonic() + timeout
    while True:
        t, line = lines.get(timeout=max(0.01, end - time.monotonic()))
        print("   |", line, file=sys.stderr)
        if pred(line):
            return t

def is_status(line):
    return line.startswith("watch: ") and not line.startswith("watch: stopped") \
        and not line.startswith("watch: watching")

def is_build(line):
    return line.startswith("watch: ok") or line.startswith("watch: failed")

def settle(quiet=3.0):
    """Reads lines until a run ended and no other started for `quiet` seconds."""
    got, going = [], True
    while True:
        try:
            line = lines.get(timeout=600 if going else quiet)[1]
        except queue.Empty:
            return got
        print("   |", line, file=sys.stderr)
        got.append(line)
        if is_status(line):
            going = False
        elif " running (" in line:
            going = True

wait_line(is_status)  # the first run: everything fresh
to_start, to_place = [], []
for i in range(runs):
    time.sleep(0.5)
    inode = os.stat(bundle).st_ino
    t0 = time.monotonic()
    with open(words, "w") as f:
        f.write(f'def word():\n    return "run {i}"\n')
    # Poll for the new bundle on a thread, while this one reads watch's output.
    placed = {}
    def poll():
        while True:
            try:
                if os.stat(bundle).st_ino != inode:
                    placed["t"] = time.monotonic()
                    return
            except FileNotFoundError:
                pass
            time.sleep(0.001)
    poller = threading.Thread(target=poll)
    poller.start()
    t_start = wait_line(lambda l: " running (" in l)
    wait_line(is_status)
    poller.join()
    to_start.append((t_start - t0) * 1000)
    to_place.append((placed["t"] - t0) * 1000)
    out = subprocess.run([bundle], capture_output=True, text=True).stdout
    assert f"greeting: run {i}" in out, out

def burst(tag):
    d = os.path.join(proj, "src/greeter", tag)
    os.makedirs(d)
    for n in range(500):
        with open(os.path.join(d, f"m{n}.py"), "w") as f:
            f.write(f"N = {n}\n")

# A burst while idle: every status line after it is one run.
time.sleep(0.5)
burst("burst_idle")
idle = [l for l in settle() if is_status(l)]
# A burst while a run is going: the run going, and one more.
with open(words, "w") as f:
    f.write('def word():\n    return "busy"\n')
wait_line(lambda l: " running (" in l)
burst("burst_busy")
busy = [l for l in settle() if is_status(l)]

os.killpg(watch.pid, signal.SIGINT)
code = watch.wait()

def fmt(xs):
    return f"median {statistics.median(xs):.0f} ms (min {min(xs):.0f}, max {max(xs):.0f})"
print()
print(f"write → build start ({runs} runs, debounce {debounce} ms): {fmt(to_start)}"
      f"  [target ≤ {debounce + 50} ms]")
print(f"write → bundle in place ({runs} runs): {fmt(to_place)}")
print(f"500-file burst while idle: {len(idle)} run(s), {sum(map(is_build, idle))} build(s)"
      "  [target 1]")
print(f"500-file burst during a run: {len(busy)} run(s) including the one going, "
      f"{sum(map(is_build, busy))} build(s)  [target 2]")
print(f"watch exited with {code} on SIGINT")
EOF
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr); $("$pb" --version); $(date -u +%Y-%m-%d)"
