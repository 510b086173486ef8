#!/usr/bin/env bash
# Remote cache benchmark (issue #17): against a local nginx with WebDAV PUT, the medians of
# RUNS rounds of
#   A     cold `pybuild bundle` of tests/fixtures/uv-app (pex pinned, uv.lock) that uploads,
#         signing its entries (downloads warm: pip/uv/pex caches kept in the work dir; no
#         shared layer);
#   B     the same checkout copied elsewhere with a fresh HOME, PYBUILD_CACHE_DIR and PEX_ROOT,
#         trusting A's key: the bundle's early key hits (its signature verified, its code
#         checked against the sources), nothing else runs;
#   B'    as B with one source edited: venv, tools, develop run here (from the warm uv cache;
#         pybuild's wheelhouse is filled from the index), the dependencies PEX is fetched
#         and checked against the venv's RECORDs, the code layer is built here;
#   B0    with BASE_PB=path/to/an/older/pybuild (one that neither signs nor checks): B by it,
#         from the same server, to quote what signing and checking cost the fetch (B/B0).
# The server's store is emptied before each round.
#
#   bash benches/remote.sh [RUNS]     (RUNS defaults to 3; BENCH_DIR=... keeps the work dir)
set -euo pipefail
bench_needs=(/usr/sbin/nginx=nginx)
source "$(dirname "$0")/common.sh"
runs=${1:-3}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
srv=$work/nginx
mkdir -p "$srv"
cat >"$srv/nginx.conf" <<CONF
daemon off; master_process off; $([ "$(id -u)" = 0 ] && echo "user root;") pid $srv/nginx.pid; error_log $srv/error.log;
events { worker_connections 64; }
http { access_log $srv/access.log; client_body_temp_path $srv/body;
  proxy_temp_path $srv/proxy; fastcgi_temp_path $srv/fcgi; uwsgi_temp_path $srv/uwsgi; scgi_temp_path $srv/scgi;
  server { listen 127.0.0.1:$port; root $srv/data; client_max_body_size 0;
    location / { dav_methods PUT; create_full_put_path on; } } }
CONF
/usr/sbin/nginx -e "$srv/error.log" -p "$srv" -c "$srv/nginx.conf" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null || true' EXIT
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.05; done
export PYBUILD_REMOTE_CACHE=http://127.0.0.1:$port

checkout() { # DIR: a fresh copy of the app, pex pinned
  rm -rf "$1" && mkdir -p "$(dirname "$1")" && cp -r "$repo/tests/fixtures/uv-app" "$1"
  printf '[project]\nname = "uvapp"\n\n[env]\ntools = ["pex==2.105.2"]\n' >"$1/project.toml"
}
timed() { # DIR ENV...: seconds of `pybuild -q bundle` in DIR
  local dir=$1; shift
  local start end
  start=$(date +%s.%N)
  (cd "$dir" && env "$@" "$pb" -q bundle >/dev/null)
  end=$(date +%s.%N)
  awk "BEGIN { printf \"%.2f\", $end - $start }"
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }

key=$work/bench.key
trusted=$("$pb" -q cache keygen bench --out "$key" --force)

a=() b=() e=() b0=()
for i in $(seq "$runs"); do
  rm -rf "$srv/data"
  checkout "$work/a/uvapp"
  # No dependencies PEX left by the previous round: A builds everything but downloads.
  rm -rf "$PYBUILD_CACHE_DIR/layers"
  a+=("$(timed "$work/a/uvapp" PYBUILD_CACHE_SIGNING_KEY_FILE="$key")")
  # pybuild's own uv, on PATH for the fresh machines (fetching it is not what is measured).
  uv_path=$(dirname "$(ls -d "$PYBUILD_CACHE_DIR"/uv/*/bin/uv | head -1)")
  kinds="b e"
  [ -z "${BASE_PB:-}" ] || kinds="b0 b e"
  for kind in $kinds; do
    fresh=$work/fresh-$kind
    rm -rf "$fresh"
    checkout "$fresh/uvapp"
    [ $kind = e ] && echo '# edited' >>"$fresh/uvapp/src/uvapp/cli.py"
    binary=$pb
    [ $kind = b0 ] && binary=$BASE_PB
    t=$(pb=$binary timed "$fresh/uvapp" HOME="$fresh/home" PYBUILD_CACHE_DIR="$fresh/pybuild" \
      PEX_ROOT="$fresh/pex" PATH="$uv_path:$PATH" PYBUILD_CACHE_TRUSTED_KEYS="$trusted" \
      PYBUILD_REMOTE_CACHE_READ_ONLY=1)
    case $kind in
      b | b0)
        [ ! -e "$fresh/uvapp/.venv" ] || { echo "$kind made a venv" >&2; exit 1; }
        cmp "$fresh/uvapp/dist/uvapp.pex" "$work/a/uvapp/dist/uvapp.pex"
        if [ $kind = b ]; then b+=("$t"); else b0+=("$t"); fi ;;
      e) e+=("$t") ;;
    esac
  done
  echo "round $i: A ${a[-1]} s, B ${b[-1]} s, B' ${e[-1]} s${BASE_PB:+, B0 ${b0[-1]} s}"
done
echo "median of $runs: A cold build (signing) $(median "${a[@]}") s; B signed fetch $(median "${b[@]}") s; B' dependencies hit $(median "${e[@]}") s"
if [ -n "${BASE_PB:-}" ]; then
  mb=$(median "${b[@]}") mb0=$(median "${b0[@]}")
  echo "B0 (BASE_PB, unsigned, unchecked) $mb0 s; B/B0 = $(awk "BEGIN { printf \"%.2f\", $mb / $mb0 }")"
fi
