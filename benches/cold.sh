#!/usr/bin/env bash
# Cold build benchmark (issue "Cold build in seconds"): on fresh copies (no venv, no
# .pybuild) of tests/fixtures/sample and of yamllint 1.35.1 from its PyPI sdist, with the
# pip, pex, shiv, uv and wheelhouse caches of the work dir warm, alternated pairs of
#   - `pybuild -q bundle` (after `pybuild init --no-setup`) against a warm `pex . -c SCRIPT`;
#   - `pybuild -q init` (with setup) against `python3 -m venv .venv && .venv/bin/pip install
#     -e .` and `uv venv && uv pip install -e .` (the uv on PATH, else the one pybuild
#     fetched into the work dir's PYBUILD_CACHE_DIR: the uv pybuild itself runs);
# then the seconds until `pybuild bundle` fails on `[check] headers = ["no_such_header_xyz.h"]`,
# and the warm start-up of each bundle kind built from the sample (second run, then the
# median of 5) against the venv's own `greet`. Prints medians and ratios.
#
#   bash benches/cold.sh [PAIRS [KIND...]]   (PAIRS defaults to 3; KINDS default to
#       pex pex-zipapp shiv zipapp pyinstaller; BENCH_DIR=... keeps the work dir and caches)
#
# Target: cold `pybuild bundle` ≤ 0.35× a warm `pex . -c SCRIPT -o OUT`.
set -euo pipefail
source "$(dirname "$0")/common.sh"
exec python3 "$repo/benches/cold_bundle.py" "$pb" "$repo" "$work" "${1:-3}" "${@:2}"
