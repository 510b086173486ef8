#!/usr/bin/env bash
# The image's figures on the sample app: `pybuild image` cold (the bundle built, the base
# on disk), an edit of one module → image, and the app's start-up in the container
# (umoci unpack + runc run), first and second start with PEX_ROOT on a volume.
# BENCH_BASE names the base as `[image] base` does (oci:DIR:TAG); without it, one is made
# once in the work dir with mmdebstrap + umoci (about a minute and a half).
# Usage: [BENCH_DIR=DIR] [BENCH_BASE=oci:DIR:TAG] bash benches/image.sh
set -euo pipefail
bench_needs=(mmdebstrap=mmdebstrap umoci=umoci runc=runc)
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
start=$(now); runc run -b "$run/bundle" "bench-$$-2" </dev/null >/dev/null; second=$(since "$start")

printf 'image, cold (bundle built, base on disk): %.2f s\n' "$cold"
printf 'edit one module -> image (bundle + image):  %.2f s\n' "$edit"
printf 'start-up in the container, first:         %.2f s\n' "$first"
printf 'start-up in the container, second:        %.2f s\n' "$second"
