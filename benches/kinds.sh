#!/usr/bin/env bash
# Bundle kinds side by side on tests/fixtures/sample: build time, size, start-up time.
#
#   bash benches/kinds.sh [KIND...]   (default: pex shiv pyinstaller zipapp;
#                                      BENCH_DIR=... keeps the work dir and its caches)
#
# Per kind, on a fresh copy of the sample: `pybuild setup` first (venv, tools, editable
# install: the same for every kind), then the times of the bundle step alone:
#   first    first `pybuild bundle` (warm pip cache once an earlier kind has filled it)
#   edit     `pybuild bundle` after editing one module
#   same     `pybuild bundle` after deleting the output (same inputs): are the bytes equal?
# and the bundle's size, its first run (shiv extracts to SHIV_ROOT then) and the mean of
# 10 warm runs of `<bundle>` printing the sample's greeting; for scale, the mean of 10 runs
# of `/usr/bin/env python3.X -c pass` (the shebang of the .pyz kinds; a pyenv shim there
# costs a few hundred ms by itself).
set -euo pipefail
source "$(dirname "$0")/common.sh"
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(pex shiv pyinstaller zipapp)
echo "== work dir: $work"

python=$(python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
secs() { awk "BEGIN{printf \"%.1f\", $1/1000}"; }
timed_bundle() {
  local t
  t=$(date +%s%N)
  "$pb" -C "$1" -q bundle
  ms_since "$t"
}

# The whole output first: grep -q quitting early would break the bundle's pipe.
greets() {
  local printed
  printed=$("$1")
  grep -qx "greeting: $2" <<<"$printed" || { echo "$1 printed no 'greeting: $2'" >&2; exit 1; }
}

rows=()
for kind in "${kinds[@]}"; do
  proj=$work/$kind/sample
  rm -rf "$work/$kind"
  mkdir -p "$work/$kind"
  cp -r tests/fixtures/sample "$proj"
  printf '[project]\nname = "greeter"\n\n[env]\nrequirements = ["requirements.txt"]\n\n[bundle]\nkind = "%s"\n' \
    "$kind" >"$proj/project.toml"
  echo "== $kind: setup"
  "$pb" -C "$proj" -q setup
  echo "== $kind: bundle"
  first=$(timed_bundle "$proj")
  out=$(find "$proj/dist" -type f | head -1)
  greets "$out" hello

  sed -i 's/hello/howdy/' "$proj/src/greeter/words.py"
  edit=$(timed_bundle "$proj")
  greets "$out" howdy

  before=$(sha256sum <"$out")
  rm "$out"
  same=$(timed_bundle "$proj")
  if [ "$(sha256sum <"$out")" = "$before" ]; then identical=yes; else identical=no; fi

  size=$(stat -c %s "$out")
  t=$(date +%s%N); "$out" >/dev/null; cold=$(ms_since "$t")
  t=$(date +%s%N)
  for _ in $(seq 10); do "$out" >/dev/null; done
  warm=$(( $(ms_since "$t") / 10 ))
  rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$kind" \
    "${out#"$proj/"}" "$(secs "$first")" "$(secs "$edit")" "$(secs "$same")" "$identical" \
    "$(( size / 1024 ))" "$cold" "$warm")")
  echo "${rows[-1]}"
done

t=$(date +%s%N)
for _ in $(seq 10); do /usr/bin/env "$python" -c pass; done
baseline=$(( $(ms_since "$t") / 10 ))

cat <<EOF

==================== summary (paste into docs/benchmarks.md) ====================
\`bash benches/kinds.sh\` ($(date -u +%Y-%m-%d)), $(nproc) CPUs, $(uname -sr), $(python3 --version)

| kind | output | first s | edit s | same s | same bytes | KiB | 1st run ms | warm run ms |
| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |
$(printf '%s\n' "${rows[@]}")

baseline: \`/usr/bin/env $python -c pass\` $baseline ms
=================================================================================
EOF
