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
#   scripts/mutants.sh --e2e audit      the e2e pass alone, for the mutants the module's last
#                                       unit pass missed (its results under target/mutation)
#   scripts/mutants.sh --diff [BASE]    only the lines changed since BASE (default: main)
#   scripts/mutants.sh --shard K/N      the K-th of N slices of the mutants (0-based), to
#                                       split a whole run over machines or nights
#   scripts/mutants.sh --list [MODULE]  the modules, or the mutants, without running them
#
# Mutants are applied in place (`--in-place`), one at a time, and put back after each:
# the e2e tests then reuse target/ and the shared cache under target/tmp/shared-cache,
# which a copy of the tree would not have. So run it on a clean tree and do not edit the
# sources while it runs; if it is killed, `git diff -- src` shows any mutant left behind.
#
# Each module runs in two passes, to build as little as possible per mutant: first with
# the unit tests alone (only the library's test binary is rebuilt), then, for the mutants
# those missed, with the e2e tests (the binary and the e2e test binary rebuilt). Both
# build with the `mutants` profile of Cargo.toml (no debug info: linking it was a large
# share of each rebuild); .cargo/mutants.toml lists the mutants left out, with why. The
# e2e pass runs its tests with cargo-nextest, which stops at the first test that fails
# (cargo test runs every test of a binary): a caught mutant costs its first failure.
# Results: target/mutation/MODULE/{unit,e2e}/mutants.out/{caught,missed,unviable,timeout}.txt.
# Exit status: 0 when no mutant was missed, 2 when some were, 1 on an error.
set -euo pipefail
cd "$(dirname "$0")/.."

# NAME | files (globs) | unit test filters | e2e test filters (test names, substrings).
# The filters name the tests that check the module's guarantee, and only those; the e2e
# tests run only for the mutants the unit tests miss (and for the baseline).
MODULES=(
  "manifest|src/steps/bundle/manifest.rs|steps::bundle::manifest::|manifest shipped::a_bundle_leaving workspace::package_and"
  "pins|src/python/pins.rs|python::pins::|shipped::pins_and_constraints shipped::a_version_changed_by_hand shipped::the_projects_own_exact bundle::first_bundle_runs"
  "clean|src/commands/clean.rs||clean::"
  "paths|src/base/paths.rs|base::paths::|clean::clean_never clean::a_recorded clean::a_bundle_is_never_written"
  "fingerprint|src/engine/fingerprint.rs|engine::fingerprint:: engine::remote::key::|bundle::first_bundle_runs bundle::edits_deletions engine::interpreter_tool"
  "statcache|src/engine/statcache.rs|engine::statcache::|engine::edits_during_a_build bundle::edits_deletions inputs::an_unreadable"
  # The remote cache in two: the client (it needs a server: its unit tests, of how a size
  # is said, catch few) and the wire (credentials, the entry's format, keys, the transport's
  # limits).
  "remote|src/engine/remote.rs|engine::remote::tests::|remote:: hostile_cache:: trust::"
  "remote_wire|src/engine/remote/credentials.rs src/base/percent.rs src/engine/remote/entry.rs src/engine/remote/key.rs src/engine/remote/transport.rs|engine::remote base::percent::|hostile_cache:: remote::"
  "cache_keys|src/steps/bundle/cache_keys.rs|steps::bundle::cache_keys::|remote::a_fresh_clone remote::a_checkout_with remote::the_early_key layers::two_checkouts"
  # The layered PEX in two: how it is put together, and the zip writer (145 mutants).
  "layered_pex|src/steps/bundle/pex/layered_pex.rs src/steps/bundle/pex/pex_info.rs src/steps/bundle/pex/code_layer.rs|steps::bundle::pex::|layers::the_layered_pex_is_the_one layers::two_checkouts layers::pex_args"
  "pex_zip|src/steps/bundle/pex/zip.rs|steps::bundle::pex::|layers::the_layered_pex_is_the_one layers::two_checkouts readback::"
  "redact|src/base/redact.rs|base::redact::|safety::credentials"
  "links|src/engine/fileset/links.rs|engine::fileset::links::|inputs::a_link inputs::a_linked"
  "placement|src/steps/bundle/placement.rs|steps::bundle::placement::|clean::an_output_naming_sources clean::a_bundle_is_never_written hardening::pex_and_the_bundle_output bundle::first_bundle_runs"
  # What the trusted-cache work added: signatures, the audit of a fetched PEX, the bundle's
  # own code proven, the bundle read back in process.
  "signature|src/engine/remote/signature.rs|engine::remote::signature|trust::a_reader_takes trust::keygen"
  "audit|src/steps/bundle/pex/audit.rs|steps::bundle::pex::audit::|trust:: shipped::a_dependencies_pex remote::a_checkout_with_its_venv_takes_a_bundle_built"
  "own_code|src/steps/bundle/own_code.rs|steps::bundle::own_code::|own_code::"
  "archive|src/steps/bundle/archive.rs|steps::bundle::archive::|readback:: shipped:: own_code::"
  # Every output's path and its atomic writer.
  "outputs|src/base/outputs.rs|base::outputs::|hardening:: clean::"
  # The store side caches live in (checked on read, whole or not at all) and the one zip
  # reader every read-back goes through; the inner loop's block and its audit.
  "store|src/engine/store.rs|engine::store::|clean::clean_removes_the_projects_store layers:: trust::a_trojaned"
  "zip_reader|src/steps/zip_reader.rs|steps::zip_reader::|readback:: trust::a_trojaned"
  "boot|src/steps/bundle/pex/boot.rs|steps::bundle::pex::boot::|inner_loop::"
  # Many apps in one uv workspace: each app's closure in uv.lock, [apps.NAME] merged over
  # the top-level sections, and an app's inputs narrowed to its members' folders.
  "lock_closure|src/steps/bundle/lock_closure.rs|steps::bundle::lock_closure::|workspace::package_and"
  "apps|src/base/config/apps.rs|base::config::apps::|workspace::apps_settings workspace::each_app"
  "scope|src/engine/fileset/rules.rs|engine::fileset::|workspace::each_app watch::watch_in_a_workspace"
  "workspace_build|src/steps/workspace.rs||workspace::"
  # Path dependencies: a folder the venv runs editable is an input of the bundle.
  "path_deps|src/python/path_deps.rs|python::path_deps:: python::own_requirement::|path_deps::"
  # What the app asks for and needs from the venv (the bundle leaves none of it out), and
  # what pip installs a shiv or zipapp bundle from (a folder's copy as a wheel).
  "closure|src/python/closure.rs src/python/installed_wheel.rs src/steps/bundle/site.rs|python::closure:: python::installed_wheel:: steps::bundle::site::|shipped::a_requirement_from shipped::a_bundle_leaving shipped::a_uv_lock path_deps:: readback::an_edit_to_bundle_starts"
)

unit_only=false
e2e_only=false
diff_base=""
shard=""
list=false
selected=()
while [ $# -gt 0 ]; do
  case "$1" in
    --unit) unit_only=true ;;
    --e2e) e2e_only=true ;;
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

if $unit_only && $e2e_only; then
  echo "mutants.sh: --unit and --e2e each leave out the other's pass; give one" >&2
  exit 1
fi
for tool in cargo-mutants cargo-nextest; do
  if ! $list && ! command -v "$tool" >/dev/null; then
    echo "mutants.sh: installing $tool (cargo install --locked $tool)" >&2
    cargo install --locked "$tool"
  fi
done
if ! $list && ! git diff --quiet -- src; then
  echo "mutants.sh: src/ has uncommitted changes; mutants are applied in place, so commit or stash them first" >&2
  exit 1
fi

out_root=target/mutation
mkdir -p "$out_root"
diff_file=""
if [ -n "$diff_base" ]; then
  diff_file="$out_root/changes.diff"
  git diff "$diff_base" -- src >"$diff_file"
fi

summary=()
missed_any=false
# Runs cargo mutants (OPTIONS... -- CARGO_TEST_ARGS...); fails the script on an error.
# 0: all caught; 2: some missed; 3: some timed out; 4: the baseline failed.
mutants() {
  local status=0
  cargo mutants "$@" || status=$?
  case $status in
    0 | 2 | 3) ;;
    *)
      echo "mutants.sh: cargo mutants failed for $name (exit $status); see $out_root/$name/*/mutants.out/log" >&2
      exit 1
      ;;
  esac
}
# The lines of PASS/mutants.out/KIND.txt of this module (0 when that pass did not run).
count() {
  local file="$out_root/$name/$1/mutants.out/$2.txt"
  if [ -f "$file" ]; then wc -l <"$file"; else echo 0; fi
}
# Adds to `only` each mutant named in FILE (a pass's missed.txt), by its whole name.
only_missed() {
  while IFS= read -r mutant; do
    only+=(--re "^$(sed 's/[][\.*+?^${}()|]/\\&/g' <<<"$mutant")\$")
  done <"$1"
}
for entry in "${MODULES[@]}"; do
  IFS='|' read -r name globs unit e2e <<<"$entry"
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
  $unit_only && e2e=""
  if [ -z "$unit" ] && [ -z "$e2e" ]; then
    echo "== $name: no unit tests, skipped with --unit"
    continue
  fi
  options=(--in-place --no-shuffle "${files[@]}")
  if $list; then
    [ -n "$diff_file" ] && options+=(--in-diff "$diff_file")
    [ -n "$shard" ] && options+=(--shard "$shard")
    cargo mutants --list "${options[@]}"
    continue
  fi
  # `--cargo-arg` reaches the build (`cargo test --no-run`) as well as the test run, so
  # only the test binary a pass runs is rebuilt; the timeout's minimum allows for a
  # loaded machine (the baseline run sets the rest).
  options+=(--minimum-test-timeout 120)
  # The names of the mutants the e2e pass tries: all of them when there is no unit pass.
  only=()
  missed="$out_root/$name/unit/mutants.out/missed.txt"
  if $e2e_only; then
    if [ -n "$unit" ] && [ ! -f "$missed" ]; then
      echo "mutants.sh: --e2e: $name has no unit pass on record ($missed); run it first" >&2
      exit 1
    fi
    rm -rf "${out_root:?}/$name/e2e"
  else
    rm -rf "${out_root:?}/$name"
  fi
  mkdir -p "$out_root/$name"
  if $e2e_only && [ -n "$unit" ]; then
    only_missed "$missed"
    [ ${#only[@]} -eq 0 ] && echo "== $name: its last unit pass missed none" && continue
  elif [ -n "$unit" ]; then
    echo "== $name, unit tests: cargo test --lib -- $unit"
    unit_options=("${options[@]}" --output "$out_root/$name/unit")
    [ -n "$diff_file" ] && unit_options+=(--in-diff "$diff_file")
    [ -n "$shard" ] && unit_options+=(--shard "$shard")
    mutants "${unit_options[@]}" --cargo-arg=--lib -- -- $unit
    if [ -n "$e2e" ] && [ -s "$missed" ]; then only_missed "$missed"; fi
  fi
  if [ -n "$e2e" ] && { [ -z "$unit" ] || [ ${#only[@]} -gt 0 ]; }; then
    echo "== $name, e2e tests: cargo nextest run --test e2e $e2e ($(( ${#only[@]} / 2 )) mutants the unit tests missed, or all)"
    e2e_options=("${options[@]}" --output "$out_root/$name/e2e" "${only[@]}")
    if [ ${#only[@]} -eq 0 ]; then
      [ -n "$diff_file" ] && e2e_options+=(--in-diff "$diff_file")
      [ -n "$shard" ] && e2e_options+=(--shard "$shard")
    fi
    mutants "${e2e_options[@]}" --test-tool nextest --cargo-arg=--test=e2e -- $e2e
  fi
  # A mutant the unit pass missed and the e2e pass tried counts once, as the e2e pass found.
  if [ -d "$out_root/$name/e2e" ]; then
    caught=$(( $(count unit caught) + $(count e2e caught) ))
    missed=$(count e2e missed)
    unviable=$(( $(count unit unviable) + $(count e2e unviable) ))
    timeout=$(( $(count unit timeout) + $(count e2e timeout) ))
  else
    caught=$(count unit caught)
    missed=$(count unit missed)
    unviable=$(count unit unviable)
    timeout=$(count unit timeout)
  fi
  [ "$missed" -gt 0 ] && missed_any=true
  summary+=("$(printf '%-12s %6s %6s %8s %7s' "$name" "$caught" "$missed" "$unviable" "$timeout")")
done

if ! $list && [ ${#summary[@]} -gt 0 ]; then
  echo
  printf '%-12s %6s %6s %8s %7s\n' module caught missed unviable timeout
  printf '%s\n' "${summary[@]}"
  echo "missed mutants: $out_root/*/{unit,e2e}/mutants.out/missed.txt (the e2e list when both ran)"
fi
if ! $list && ! git diff --quiet -- src; then
  echo "mutants.sh: src/ differs from the commit after the run: a mutant may be left in place (git diff -- src)" >&2
  exit 1
fi
$missed_any && exit 2
exit 0
