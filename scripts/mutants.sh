#!/usr/bin/env bash
# Mutation testing of the modules that carry a guarantee: cargo-mutants puts one small bug
# at a time into a module (a return value replaced, an operator swapped, a condition
# negated) and runs the tests that cover that module; a bug no test notices is "missed".
# See docs/testing.md for what the results mean and the last figures. Not part of .ci/run:
# about 650 mutants at 20-30 s each on two cores, so a whole run takes hours: run a module,
# a `--shard`, or `--diff` for a change.
#
#   scripts/mutants.sh                  every module below
#   scripts/mutants.sh redact links     those modules only
#   scripts/mutants.sh --unit statcache unit tests only (no e2e test runs: minutes, not hours)
#   scripts/mutants.sh --diff [BASE]    only the lines changed since BASE (default: main)
#   scripts/mutants.sh --shard K/N      the K-th of N slices of the mutants (0-based), to
#                                       split a whole run over machines or nights
#   scripts/mutants.sh --list [MODULE]  the modules, or the mutants, without running them
#
# Mutants are applied in place (`--in-place`), one at a time, and put back after each:
# the e2e tests then reuse target/ and the shared cache under target/tmp/shared-cache,
# which a copy of the tree would not have. So run it on a clean tree and do not edit the
# sources while it runs; if it is killed, `git diff -- src` shows any mutant left behind.
# Results: target/mutants/MODULE/mutants.out/{caught,missed,unviable,timeout}.txt.
# Exit status: 0 when no mutant was missed, 2 when some were, 1 on an error.
set -euo pipefail
cd "$(dirname "$0")/.."

# NAME | files (globs) | unit test filters | e2e test filters (test names, substrings) |
# functions left out (a regex on cargo-mutants' names: wording of messages, not guarantees).
# The filters name the tests that check the module's guarantee, and only those. cargo
# test runs the unit tests first and stops at a failure, so the e2e tests run only for
# the mutants the unit tests miss (and for the baseline).
MODULES=(
  "manifest|src/steps/bundle/manifest.rs|steps::bundle::manifest::|manifest"
  "pins|src/python/pins.rs|python::pins::|shipped::pins_and_constraints shipped::a_version_changed_by_hand"
  "clean|src/commands/clean.rs||clean::"
  "paths|src/base/paths.rs|base::paths::|clean::clean_never clean::a_recorded clean::a_bundle_is_never_written"
  "fingerprint|src/engine/fingerprint.rs|engine::fingerprint::|bundle::first_bundle_runs bundle::edits_deletions engine::interpreter_tool|describe_change|Fingerprint::differences"
  "statcache|src/engine/statcache.rs|engine::statcache::|engine::edits_during_a_build bundle::edits_deletions inputs::an_unreadable|parallel_map"
  "remote|src/engine/remote.rs src/engine/remote/*.rs|engine::remote|remote:: hostile_cache:: trust::"
  "cache_keys|src/steps/bundle/cache_keys.rs|steps::bundle::cache_keys::|remote::a_fresh_clone layers::two_checkouts"
  "layered_pex|src/steps/bundle/pex/layered_pex.rs src/steps/bundle/pex/zip.rs src/steps/bundle/pex/pex_info.rs src/steps/bundle/pex/code_layer.rs|steps::bundle::pex::|layers::the_layered_pex_is_the_one layers::two_checkouts"
  "redact|src/base/redact.rs|base::redact::|safety::credentials"
  "links|src/engine/fileset/links.rs|engine::fileset::links::|inputs::a_link inputs::a_linked"
  "placement|src/steps/bundle/placement.rs|steps::bundle::placement::|clean::an_output_naming_sources clean::a_bundle_is_never_written"
  # What the trusted-cache work added: signatures, the audit of a fetched PEX, the bundle's
  # own code proven, the bundle read back in process.
  "signature|src/engine/remote/signature.rs|engine::remote::signature|trust::a_reader_takes trust::keygen"
  "audit|src/steps/bundle/pex/audit.rs|steps::bundle::pex::audit::|trust:: shipped::a_dependencies_pex"
  "own_code|src/steps/bundle/own_code.rs|steps::bundle::own_code::|own_code::"
  "archive|src/steps/bundle/archive.rs|steps::bundle::archive::|readback:: shipped:: own_code::"
  # Every output's path and its atomic writer.
  "outputs|src/base/outputs.rs|base::outputs::|hardening:: clean::"
)

unit_only=false
diff_base=""
shard=""
list=false
selected=()
while [ $# -gt 0 ]; do
  case "$1" in
    --unit) unit_only=true ;;
    --list) list=true ;;
    --shard)
      shard="${2:?--shard needs K/N}"
      shift
      ;;
    --diff)
      diff_base=main
      if [ $# -gt 1 ] && [[ "$2" != -* ]] && ! printf '%s\n' "${MODULES[@]}" | grep -q "^$2|"; then
        diff_base="$2"
        shift
      fi
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "mutants.sh: unknown option $1 (see --help)" >&2
      exit 1
      ;;
    *) selected+=("$1") ;;
  esac
  shift
done

names=$(printf '%s\n' "${MODULES[@]}" | cut -d'|' -f1)
for name in "${selected[@]}"; do
  if ! grep -qx "$name" <<<"$names"; then
    echo "mutants.sh: no module $name; the modules: $(echo $names)" >&2
    exit 1
  fi
done
if $list && [ ${#selected[@]} -eq 0 ]; then
  printf '%s\n' "${MODULES[@]}" | awk -F'|' '{printf "%-12s %s\n", $1, $2}'
  exit 0
fi

if ! command -v cargo-mutants >/dev/null; then
  echo "mutants.sh: installing cargo-mutants (cargo install --locked cargo-mutants)" >&2
  cargo install --locked cargo-mutants
fi
if ! $list && ! git diff --quiet -- src; then
  echo "mutants.sh: src/ has uncommitted changes; mutants are applied in place, so commit or stash them first" >&2
  exit 1
fi

out_root=target/mutants
mkdir -p "$out_root"
diff_file=""
if [ -n "$diff_base" ]; then
  diff_file="$out_root/changes.diff"
  git diff "$diff_base" -- src >"$diff_file"
fi

summary=()
missed_any=false
for entry in "${MODULES[@]}"; do
  IFS='|' read -r name globs unit e2e skip <<<"$entry"
  if [ ${#selected[@]} -gt 0 ] && ! printf '%s\n' "${selected[@]}" | grep -qx "$name"; then
    continue
  fi
  files=()
  for glob in $globs; do
    for file in $glob; do
      [ -f "$file" ] && files+=(--file "$file")
    done
  done
  if [ ${#files[@]} -eq 0 ]; then
    echo "== $name: no such file yet ($globs), skipped"
    continue
  fi
  # cargo test's own options, then (after `--`) the name filters of the tests to run.
  if $unit_only || [ -z "$e2e" ]; then
    [ -n "$unit" ] || { echo "== $name: no unit tests, skipped with --unit"; continue; }
    test_args=(--lib -- $unit)
  elif [ -z "$unit" ]; then
    test_args=(--test e2e -- $e2e)
  else
    test_args=(--lib --test e2e -- $unit $e2e)
  fi
  options=(--in-place --no-shuffle --output "$out_root/$name" "${files[@]}")
  [ -n "$diff_file" ] && options+=(--in-diff "$diff_file")
  [ -n "$shard" ] && options+=(--shard "$shard")
  [ -n "$skip" ] && options+=(--exclude-re "$skip")
  if $list; then
    cargo mutants --list "${options[@]}"
    continue
  fi
  echo "== $name: cargo test ${test_args[*]}"
  status=0
  # The minimum timeout allows for a loaded machine: the baseline run sets the rest.
  cargo mutants "${options[@]}" --minimum-test-timeout 120 -- "${test_args[@]}" || status=$?
  # 0: all caught; 2: some missed; 3: some timed out; 4: the baseline failed.
  results="$out_root/$name/mutants.out"
  count() { if [ -f "$results/$1.txt" ]; then wc -l <"$results/$1.txt"; else echo 0; fi; }
  summary+=("$(printf '%-12s %6s %6s %8s %7s' "$name" "$(count caught)" "$(count missed)" "$(count unviable)" "$(count timeout)")")
  case $status in
    0 | 3) ;;
    2) missed_any=true ;;
    *)
      echo "mutants.sh: cargo mutants failed for $name (exit $status); see $results/log" >&2
      exit 1
      ;;
  esac
done

if ! $list && [ ${#summary[@]} -gt 0 ]; then
  echo
  printf '%-12s %6s %6s %8s %7s\n' module caught missed unviable timeout
  printf '%s\n' "${summary[@]}"
  echo "missed mutants: $out_root/*/mutants.out/missed.txt"
fi
if ! git diff --quiet -- src; then
  echo "mutants.sh: src/ differs from the commit after the run: a mutant may be left in place (git diff -- src)" >&2
  exit 1
fi
$missed_any && exit 2
exit 0
