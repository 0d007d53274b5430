#!/usr/bin/env bash
# `make fresh-check`: the README's two commands on a new machine. A minimal Debian 12 root (made once
# with debootstrap and cached), a clean clone of this repository's HEAD copied into a fresh copy of
# it, and `make slides` then `make test` run there as a new user would, with fontconfig installed
# before the first build (so matplotlib's font cache lists TeX Live's fonts, as on a desktop).
# pip inside finds what pip finds here: the host's pip configuration, certificates and the local
# package folders they name are made visible read-only. Needs root (chroot, mount) and Debian's
# package mirror.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${NNARCH_FRESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nnarch-fresh}"
base="$cache/debian12"
run="$cache/run"
mirror="${NNARCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ "$(id -u)" != 0 ]; then
    echo "fresh-check: needs root (debootstrap, chroot, mount); run: sudo make fresh-check"; exit 1
fi
if [ ! -x "$base/usr/bin/python3" ]; then
    command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    echo "fresh-check: making a Debian 12 root in $base (once; about 3 minutes)"
    rm -rf "$base.new"
    debootstrap --variant=minbase --include=python3,python3-venv,make,git,ca-certificates \
        bookworm "$base.new" "$mirror" >/dev/null
    rm -rf "$base" && mv "$base.new" "$base"
fi

mounted=()
cleanup() {
    for ((i=${#mounted[@]}-1; i>=0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
    rm -rf "$run"
}
trap cleanup EXIT
rm -rf "$run"
echo "fresh-check: a fresh copy of the root, and a clean clone of HEAD in it"
cp -a "$base" "$run"
git clone -q --no-local "$repo" "$run/home/nnarch"
cp /etc/resolv.conf "$run/etc/resolv.conf" 2>/dev/null || true

bind() {  # bind <host path> [ro]: the same path inside the root
    [ -e "$1" ] || return 0
    if [ -d "$1" ]; then mkdir -p "$run$1"; else mkdir -p "$(dirname "$run$1")"; touch "$run$1"; fi
    mount --bind "$1" "$run$1"
    mounted+=("$run$1")
    if [ "${2:-}" = ro ]; then mount -o remount,bind,ro "$run$1"; fi
}
mount -t proc proc "$run/proc"; mounted+=("$run/proc")
bind /dev
bind /dev/pts
mount -t tmpfs tmpfs "$run/dev/shm"; mounted+=("$run/dev/shm")
# pip's configuration and what it names: the wheels folder (torch's CPU build) and local indexes
for path in /etc/pip.conf /etc/xdg/pip /etc/ssl/certs/ca-certificates.crt; do bind "$path" ro; done
if command -v pip3 >/dev/null || command -v pip >/dev/null; then
    for url in $(pip config list 2>/dev/null | grep -oE "(file://)?/[^' ]+" | sed 's#^file://##'); do
        case "$url" in /opt/*|/srv/*|/var/cache/*) bind "$(echo "$url" | cut -d/ -f1-3)" ro ;; esac
    done
fi

echo "fresh-check: installing fontconfig first (so matplotlib's font cache will list TeX Live's fonts)"
chroot "$run" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fontconfig >/dev/null"

echo "fresh-check: make slides, then make test, in the clean clone"
start=$(date +%s)
# shellcheck disable=SC2046 # pip's settings from the environment (PIP_*), one word each
chroot "$run" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
    $(env | grep -E '^PIP_[A-Z_]+=[^ ]*$' || true) sh -c "cd /home/nnarch && make slides && make test"
echo "fresh-check: passed in $(( $(date +%s) - start )) s (make slides and make test in a new Debian 12 root)"
