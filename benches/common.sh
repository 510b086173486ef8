# Sourced by the bench scripts: installs the prerequisites (plus the COMMAND=PACKAGE pairs
# in the caller's `bench_needs` array), builds pybuild in release mode, makes the work dir
# (BENCH_DIR, else a temp dir) and keeps the pip, pex, shiv, uv and wheelhouse caches (and
# pybuild's own uv) in it unless the environment names them. Sets `repo`, `pb` and `work`;
# leaves the shell in `repo`.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/prerequisites.sh ${bench_needs[@]+"${bench_needs[@]}"}
cargo build --release --quiet
pb="$repo/target/release/pybuild"
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
export PEX_ROOT=${PEX_ROOT:-$work/cache/pex} PIP_CACHE_DIR=${PIP_CACHE_DIR:-$work/cache/pip}
export PYBUILD_CACHE_DIR=${PYBUILD_CACHE_DIR:-$work/cache/pybuild}
export SHIV_ROOT=${SHIV_ROOT:-$work/cache/shiv} UV_CACHE_DIR=${UV_CACHE_DIR:-$work/cache/uv}
