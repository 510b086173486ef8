#!/usr/bin/env bash
# The main job on a fresh machine: install pybuild, then take the sample project from a
# plain checkout (no project.toml) to a runnable PEX with `pybuild init` and `pybuild bundle`,
# run it, and show that a second build has nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh
cargo install --quiet --locked --path . --root target/demo-install
pybuild="$PWD/target/demo-install/bin/pybuild"
work=$(mktemp -d)
cp -r tests/fixtures/sample "$work/greeter"
cd "$work/greeter"
echo "== pybuild init (in $work/greeter)"
"$pybuild" init
echo "== pybuild bundle"
"$pybuild" bundle
echo "== ./dist/greet.pex"
./dist/greet.pex
echo "== pybuild bundle again: nothing to do"
time "$pybuild" bundle
