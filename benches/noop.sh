#!/usr/bin/env bash
# No-op benchmark: pybuild vs ninja vs GNU make over the same N generated modules.
#
#   bash benches/noop.sh [N]          (N defaults to 10000; BENCH_DIR=... keeps the work dir)
#
# Targets (issue): no-op ≤ 1.0× ninja's time, touch-all → zero rebuilds, no-op peak RSS ≤ 30 MB.
set -euo pipefail
start_all=$SECONDS
N=${1:-10000}
# --- prerequisites: pybuild's own, and hyperfine, ninja, make, GNU time; the work dir keeps
# the caches, not ~/.cache
bench_needs=(hyperfine=hyperfine ninja=ninja-build make=make /usr/bin/time=time)
source "$(dirname "$0")/common.sh"
proj=$work/bigapp
echo "== work dir: $work (N=$N)"
python3 "$repo/benches/gen_project.py" "$work" "$N"
nfiles=$(find "$proj/src" -name '*.py' | wc -l)

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# --- prepare: the first bundle creates the venv, installs pex, runs the editable install and
# builds the PEX. The stat cache trusts a hash only if the file's mtime is ≥2 s older than
# the moment it was hashed (racy-git rule), so files hashed right after generation are
# re-hashed by the next run: wait 3 s, bundle again to settle the cache, then time.
echo "== first pybuild bundle (venv, tools, develop, PEX)"
t=$(date +%s%N)
"$pb" -C "$proj" --color never bundle
first_ms=$(ms_since "$t")
echo "first bundle: $(awk "BEGIN{printf \"%.1f\", $first_ms/1000}") s"
"$proj/dist/bigapp.pex" | grep -qx 'bigapp ok' || { echo "dist/bigapp.pex does not print 'bigapp ok'" >&2; exit 1; }
sleep 3
"$pb" -C "$proj" -q bundle
ninja -C "$work/ninja" >/dev/null   # builds the stamp once
make -C "$work/make" -s >/dev/null
sleep 3

# --- side by side: every command a no-op, no shell in between
json=$(mktemp)
hyperfine -N --warmup 3 --runs 20 --export-json "$json" \
  -n "pybuild -q bundle" "$pb -C $proj -q bundle" \
  -n "ninja" "ninja -C $work/ninja" \
  -n "make" "make -C $work/make" >&2
table=$(python3 - "$json" <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
ninja = next(r["mean"] for r in res if r["command"] == "ninja")
print(f"{'command':<20} {'mean ms':>9} {'± σ ms':>8} {'min ms':>8} {'× ninja':>8}")
for r in res:
    print(f"{r['command']:<20} {r['mean']*1e3:9.1f} {r['stddev']*1e3:8.1f} "
          f"{r['min']*1e3:8.1f} {r['mean']/ninja:8.2f}")
EOF
)
echo "$table"

# --- peak RSS of one no-op (GNU time's %M is in KiB)
rss() { /usr/bin/time -f '%M' -o "$json.rss" "$@" >/dev/null 2>&1; awk '{printf "%.1f", $1/1024}' "$json.rss"; }
rss_pb=$(rss "$pb" -C "$proj" -q bundle)
rss_ninja=$(rss ninja -C "$work/ninja")
rss_make=$(rss make -C "$work/make")

# --- touch every source (contents unchanged): nothing may rebuild
( cd "$proj" && find src -name '*.py' -exec touch {} + )
t=$(date +%s%N)
"$pb" -C "$proj" --color never bundle 2>"$json.touch"
touch_ms=$(ms_since "$t")
cat "$json.touch" >&2
if grep -Eq '( done in | running \(| failed )' "$json.touch"; then
  touch_result="REBUILT: $(grep -E '( done in | running \(| failed )' "$json.touch" | tr '\n' ';')"
else
  touch_result="0 steps rebuilt"
fi
echo "touch-all: $touch_result (${touch_ms} ms)"
# That run hashed every file within 2 s of its mtime, so the next run re-hashes them once
# more (racy entries); after it the cache is settled again.
sleep 3
t=$(date +%s%N); "$pb" -C "$proj" -q bundle; after1_ms=$(ms_since "$t")
t=$(date +%s%N); "$pb" -C "$proj" -q bundle; after2_ms=$(ms_since "$t")
echo "no-op after touch + 3 s: ${after1_ms} ms (re-hashes racy entries), then ${after2_ms} ms"
rm -f "$json" "$json.rss" "$json.touch"

# --- summary for docs/benchmarks.md
pex_v=$("$proj/.venv/bin/pex" --version 2>/dev/null || echo '?')
cat <<EOF

==================== summary (paste into docs/benchmarks.md) ====================
No-op benchmark: \`bash benches/noop.sh $N\` ($(date -u +%Y-%m-%d))
Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)
Tools: $("$pb" --version), $(ninja --version | sed 's/^/ninja /'), $(make --version | head -1),
       $(hyperfine --version), $(python3 --version), pex $pex_v
Project: $N modules, $nfiles .py files under src/ (+ pyproject.toml); make uses an explicit
prerequisite list (generated Makefile, no \$(shell find)) and --no-builtin-rules;
ninja/make: one stamp target over the same files, command \`touch \$out\`.

$table

peak RSS (no-op): pybuild ${rss_pb} MB (target ≤ 30 MB), ninja ${rss_ninja} MB, make ${rss_make} MB
first bundle (venv + pex + editable install + PEX): $(awk "BEGIN{printf \"%.1f\", $first_ms/1000}") s
touch-all (contents unchanged): $touch_result, ${touch_ms} ms
no-op after touch + 3 s: ${after1_ms} ms (racy re-hash), then ${after2_ms} ms
whole script: $((SECONDS - start_all)) s
=================================================================================
EOF
