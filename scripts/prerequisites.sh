#!/usr/bin/env bash
# Installs what pybuild's demo and tests need besides the Rust toolchain, on Debian/Ubuntu:
# Python 3 with venv support and its headers, a C compiler and pkg-config (for `[check]`),
# and strace
# (the tests use it to prove that a no-op build starts no process), and whatever the caller
# names as arguments.
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
command -v cc >/dev/null || need+=(gcc libc6-dev)
# Python.h, for the test that builds python-ldap from source.
python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || need+=(python3-dev)
command -v pkg-config >/dev/null || need+=(pkgconf)
command -v strace >/dev/null || need+=(strace)
# Extra needs of a caller, as COMMAND=PACKAGE (a COMMAND with a / is checked as a path).
for pair in "$@"; do
  cmd=${pair%%=*} pkg=${pair#*=}
  case $cmd in
    */*) [ -x "$cmd" ] || need+=("$pkg") ;;
    *) command -v "$cmd" >/dev/null || need+=("$pkg") ;;
  esac
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi
