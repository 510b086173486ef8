#!/usr/bin/env bash
# Processes started by an edit → bundle (issue #28): the sample is bundled once, then each
# round edits `src/greeter/words.py` and times `pybuild -q bundle` (the layered PEX), and
# one such edit → bundle runs under `strace -f -e trace=execve,openat`, which counts the
# programs executed besides pybuild itself (goal: 0; the bundle is read back in process),
# the listings of the venv's site-packages (goal: at most 2; the venv is read once per
# state, `python/env.rs`) and the opens of requirements.txt and entry_points.txt.
#
#   bash benches/processes.sh [ROUNDS]     (ROUNDS defaults to 10; BENCH_DIR=... keeps the work dir)
#   BEFORE=/path/to/an/older/pybuild bash benches/processes.sh
#
# With BEFORE, that binary runs the same rounds on its own copy of the sample, alternating
# with this tree's, so machine noise hits both alike: the medians and their ratio are printed.
set -euo pipefail
source "$(dirname "$0")/common.sh"
exec python3 "$repo/benches/processes.py" "$pb" "${BEFORE:-}" "$repo" "$work" "${1:-10}"
