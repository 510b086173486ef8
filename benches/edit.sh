#!/usr/bin/env bash
# Edit → bundle benchmark (issue #4): pybuild's layered PEX against a warm `pex . -c SCRIPT`,
# on the sample project and on yamllint (a real PyPI project with dependencies, from its
# sdist), plus cold bundle, no-op and the bundle's start-up time.
#
#   bash benches/edit.sh [PAIRS]      (PAIRS defaults to 5; BENCH_DIR=... keeps the work dir;
#                                     BENCH_ONLY=inner-loop: the inner loop's rows alone)
#
# Target: pybuild's edit → bundle ≤ 0.1× a warm `pex . -c SCRIPT -o OUT`. On the sample, also
# a pin change in requirements.txt → bundle against a warm `pex . -r requirements.txt -c greet`.
# The inner loop (issue #30): after each edit, the new bundle's first run and a warm run,
# beside a plain `pex . -c SCRIPT --venv --sh-boot` rebuild (target: first ≤ 2× warm, and
# ≤ warm + 0.1 s on the sample), on the sample, yamllint and an app on pandas and pyarrow
# (BENCH_PANDAS=0 leaves that one out).
set -euo pipefail
# Caches shared by both tools, kept in the work dir (warm after the first project).
source "$(dirname "$0")/common.sh"
exec python3 "$repo/benches/edit_bundle.py" "$pb" "$repo" "$work" "${1:-5}"
