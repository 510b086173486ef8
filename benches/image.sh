#!/usr/bin/env bash
# The image's figures on the sample app: `pybuild image` cold (the bundle built, the base
# on disk), an edit of one module → image (bundle + image), and the app's start-up in the
# container (umoci unpack + runc run, as the image's non-root user), first and second
# start, with PEX_ROOT on a volume (the files a start wrote there counted: none, the venv
# is in the image); then
# `pybuild push` to a registry on loopback (Debian's docker-registry): the first push, an
# edit → push (the blobs uploaded counted in the registry's access log), a push with
# nothing changed.
# BENCH_BASE names the base as `[image] base` does (oci:DIR:TAG); without it, one is made
# once in the work dir with mmdebstrap + umoci (about a minute and a half).
# Usage: [BENCH_DIR=DIR] [BENCH_BASE=oci:DIR:TAG] bash benches/image.sh
set -euo pipefail
bench_needs=(mmdebstrap=mmdebstrap umoci=umoci runc=runc docker-registry=docker-registry)
source "$(dirname "$0")/common.sh"

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

base=${BENCH_BASE:-}
if [ -z "$base" ]; then
  if [ ! -d "$work/base" ]; then
    SOURCE_DATE_EPOCH=1700000000 mmdebstrap --quiet --variant=essential \
      --include=python3-minimal,libpython3.11-stdlib --mode=root bookworm "$work/rootfs.tar"
    umoci init --layout "$work/base.new"
    umoci new --image "$work/base.new:bookworm"
    umoci raw add-layer --image "$work/base.new:bookworm" "$work/rootfs.tar"
    umoci config --image "$work/base.new:bookworm" \
      --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    rm "$work/rootfs.tar"
    mv "$work/base.new" "$work/base"
  fi
  base="oci:$work/base:bookworm"
fi

app="$work/app"
rm -rf "$app"
cp -r tests/fixtures/sample "$app"
printf '[project]\nname = "greeter"\n\n[env]\nrequirements = ["requirements.txt"]\n\n[image]\nbase = "%s"\n' \
  "$base" > "$app/project.toml"
cd "$app"
"$pb" -q bundle
start=$(now); "$pb" -q image; cold=$(since "$start")
echo 'def word():
    return "howdy"' > src/greeter/words.py
start=$(now); "$pb" -q image; edit=$(since "$start")

run="$work/run"
rm -rf "$run"; mkdir -p "$run/pex-root"
umoci unpack --image "dist/greeter.oci:latest" "$run/bundle" >/dev/null
python3 - "$run" <<'PY'
import json, sys
run = sys.argv[1]
path = f"{run}/bundle/config.json"
config = json.load(open(path))
config["process"]["terminal"] = False
config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/pex_root"]
config["mounts"].append({"destination": "/pex_root", "type": "bind",
                         "source": f"{run}/pex-root", "options": ["rbind", "rw"]})
json.dump(config, open(path, "w"))
PY
start=$(now); runc run -b "$run/bundle" "bench-$$-1" </dev/null >/dev/null; first=$(since "$start")
written=$(find "$run/pex-root" -mindepth 1 | wc -l)
start=$(now); runc run -b "$run/bundle" "bench-$$-2" </dev/null >/dev/null; second=$(since "$start")

printf 'image, cold (bundle built, base on disk): %.2f s\n' "$cold"
printf 'edit one module -> image (bundle + image):  %.2f s\n' "$edit"
printf 'start-up in the container, first:         %.2f s\n' "$first"
printf 'start-up in the container, second:        %.2f s\n' "$second"
printf 'files the first start wrote to PEX_ROOT:  %s\n' "$written"

# Push: a registry of its own on a free loopback port, its access log in the work dir.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -rf "$work/registry"; mkdir -p "$work/registry"
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$work/registry/storage" "$port" > "$work/registry/config.yml"
docker-registry serve "$work/registry/config.yml" > "$work/registry/log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null || true' EXIT
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null; do sleep 0.1; done
export PYBUILD_IMAGE_REPOSITORY="127.0.0.1:$port/bench/greeter"
uploads() { grep -c '"PUT /v2/[^ ]*/blobs/uploads/[^ ]* HTTP/1.1" 201' "$work/registry/log" || true; }
start=$(now); "$pb" -q push; push_first=$(since "$start"); sent_first=$(uploads)
echo 'def word():
    return "hello again"' > src/greeter/words.py
start=$(now); "$pb" -q push; push_edit=$(since "$start"); sent_edit=$(( $(uploads) - sent_first ))
before=$(wc -l < "$work/registry/log")
start=$(now); "$pb" -q push; push_noop=$(since "$start")
requests_noop=$(( $(wc -l < "$work/registry/log") - before ))

printf 'push, first (image built):                 %.2f s, %s blobs uploaded\n' "$push_first" "$sent_first"
printf 'edit one module -> push (bundle+image+push): %.2f s, %s blobs uploaded\n' "$push_edit" "$sent_edit"
printf 'push, nothing changed:                     %.2f s, %s log lines at the registry\n' "$push_noop" "$requests_noop"
