#!/bin/bash
# 002-workspace-dirs: example migration. Creates the workspace's skills/ and memory/
# directories for disks seeded before they were part of the defaults. Idempotent, never
# overwrites anything, changes only what it creates.
# Environment from run-updates.sh: CLAW_DATA (the mounted data disk), CLAW_ADMIN_USER,
# CLAW_SANDBOX (1 = no root, no chown).
# claw-timeout: 60
set -euo pipefail
: "${CLAW_DATA:?run me through run-updates.sh}"
for d in skills memory; do
  p="$CLAW_DATA/workspace/$d"
  if [[ ! -d "$p" ]]; then
    mkdir -p "$p"
    if [[ "${CLAW_SANDBOX:-0}" != 1 && "$(id -u)" == 0 ]] && id -u "${CLAW_ADMIN_USER:-}" >/dev/null 2>&1; then
      chown "$CLAW_ADMIN_USER:$(id -gn "$CLAW_ADMIN_USER")" "$p"
    fi
    echo "created workspace/$d"
  fi
done
