#!/bin/bash
# ns-run.sh CMD...: run CMD (as root) in a private mount + network namespace with an overlay
# on /dev, so the fake /dev/disk/azure links and mknod'ed partition nodes never reach the host
# (local-harness §4), and with its own loopback so stub listeners on 127.0.0.1 cannot clash.
# Afterwards every loop device backed by a claw test image is detached, also on failure.
set -uo pipefail
if [[ "${CLAW_GUEST_NS:-}" != 1 ]]; then
  exec unshare --mount --net --propagation private -- env CLAW_GUEST_NS=1 "$0" "$@"
fi
work="$(mktemp -d /tmp/claw-devov.XXXXXX)"
cleanup() {
  local m l
  findmnt -rn -o TARGET | grep -E '^/tmp/claw-(root|disk)\.' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  losetup -n -l -O NAME,BACK-FILE 2>/dev/null | awk '$2 ~ /\/claw-disk\./ {print $1}' | while read -r l; do
    partx -d "$l" 2>/dev/null
    losetup -d "$l" 2>/dev/null
  done
  umount -l /dev 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/up" "$work/work"
mount -t overlay overlay -o "lowerdir=/dev,upperdir=$work/up,workdir=$work/work" /dev || { echo "ns-run: overlay on /dev failed" >&2; exit 1; }
ip link set lo up 2>/dev/null || true
"$@"
