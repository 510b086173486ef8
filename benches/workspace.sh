#!/usr/bin/env bash
# Many apps in one uv workspace (issue #27): a generated workspace of APPS apps over LIBS
# libraries (benches/gen_workspace.py, locked with uv), built by pybuild at the root against
# loops of single-app builds: (a) `pybuild bundle -p MEMBER` per app; (b) without pybuild,
# per app `uv export --package MEMBER --no-emit-workspace` + `pex -r ... ./apps/X ./libs/Y
# -c SCRIPT` (benches/workspace_pex.sh, with pex and uv from a venv in the work dir).
# Measured: cold bundle of every app (`-j 1` and the default `-j`), a no-op at the root, an
# edit of one library (its dependents alone rebuilt), an edit of one app (it alone).
#
#   APPS=50 LIBS=5 bash benches/workspace.sh      (the defaults; APPS=5 for a quick run;
#       BENCH_DIR=... keeps the work dir and its caches; BENCH_ONLY=baseline: loop (b) alone;
#       BENCH_LOOP_PARALLEL=0 leaves out loop (b) under `xargs -P <cores>`)
#
# Loop (b) costs 10-35 s per app (pex builds the app and each of its libraries from source,
# each in an isolated hatchling env): a full run at 50 apps took 23 minutes on 2 busy CPUs
# (figures in docs/benchmarks.md), APPS=5 about 4.
set -euo pipefail
source "$(dirname "$0")/common.sh"
exec python3 "$repo/benches/workspace_bench.py" "$pb" "$repo" "$work"
