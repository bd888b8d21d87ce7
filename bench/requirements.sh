#!/bin/sh
# Installs the command-line tools the benchmark anchors compare against (Debian/Ubuntu).
# Only what is missing is installed. Run as root, or with sudo: sudo sh bench/requirements.sh
set -eu

need=""
command -v gzip >/dev/null 2>&1 || need="$need gzip"
command -v zgrep >/dev/null 2>&1 || need="$need gzip"
command -v zstd >/dev/null 2>&1 || need="$need zstd"
command -v xz >/dev/null 2>&1 || need="$need xz-utils"
command -v rg >/dev/null 2>&1 || need="$need ripgrep"

if [ -z "$need" ]; then
    echo "bench: gzip, zgrep, zstd, xz and rg are all present."
    exit 0
fi

echo "bench: installing:$need"
if [ "$(id -u)" -eq 0 ]; then
    apt-get update
    # shellcheck disable=SC2086
    apt-get install -y $need
else
    sudo apt-get update
    # shellcheck disable=SC2086
    sudo apt-get install -y $need
fi
