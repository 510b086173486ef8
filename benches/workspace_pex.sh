#!/usr/bin/env bash
# One app of a uv workspace into a PEX, the way a team without pybuild does it (loop (b) of
# benches/workspace.sh): the third-party pins of the app's closure from the lock, the
# workspace members of that closure as local paths, then pex builds them all.
#
#   UV=... PEX=... workspace_pex.sh MEMBER SCRIPT     (in the workspace root; writes
#                                                     build/SCRIPT/ and dist/SCRIPT.pex)
set -euo pipefail
member=$1 script=$2
mkdir -p "build/$script" dist
"$UV" export -q --frozen --package "$member" --no-dev --no-hashes --no-emit-workspace \
  -o "build/$script/requirements.txt"
# The members (the app and its libraries) are the export's editable lines.
mapfile -t members < <("$UV" export -q --frozen --package "$member" --no-dev --no-hashes \
  | sed -n 's/^-e //p')
"$PEX" --resolver-version pip-2020-resolver -r "build/$script/requirements.txt" "${members[@]}" -c "$script" -o "dist/$script.pex"
