#!/usr/bin/env bash
# The whole test suite, cheapest first, so that a broken build says so in seconds, not after
# the base image and the registry: unit tests, then the end-to-end tests that need no
# container, registry, apt or Java, then those that do. Every e2e test runs in exactly one
# of the two stages: the second takes the tests the first skips, by the same filters.
# Extra arguments go to the test binaries (e.g. --nocapture).
set -euo pipefail
cd "$(dirname "$0")/.."

# The modules that need the base image (mmdebstrap, umoci, runc), a registry, apt-get as
# root, or Java (docs/testing.md, "How the suite is organised").
heavy=(image:: deploy:: spark:: push:: check:: sbom::)

skip=()
for module in "${heavy[@]}"; do skip+=(--skip "$module"); done

stage() {
  echo "== $1" >&2
  shift
  "$@"
}

stage "unit tests" cargo test --lib --bins -- "$@"
stage "doc tests" cargo test --doc -- "$@"
stage "end-to-end: no container, registry, apt or Java" \
  cargo test --test e2e -- "${skip[@]}" "$@"
stage "end-to-end: base image, registry, apt, Java (${heavy[*]})" \
  cargo test --test e2e -- "${heavy[@]}" "$@"
