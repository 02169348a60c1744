#!/bin/bash
# start-claude.sh: Claude Code remote-control in the tmux session "claude", working dir
# ~/workspace. Idempotent: an existing session is left alone. Inside the session claude is
# restarted when it exits (e.g. before anyone logged it in), so the sidecar never silently dies.
# Run by claude-sidecar.service as the admin user; run as root it re-executes as that user.
set -euo pipefail
CLAW_SELF="$(readlink -f "${BASH_SOURCE[0]}")"
# shellcheck source=lib/common.sh
. "$(dirname "$CLAW_SELF")/lib/common.sh"
CLAW_LOG=""
CLAW_LOG_TAG=start-claude

if [[ "$(id -u)" == 0 && "$CLAW_SANDBOX" != 1 ]]; then
  admin="$(claw_admin_user)"
  exec runuser -u "$admin" -- env HOME="$(claw_admin_home "$admin")" "$CLAW_SELF" "$@"
fi
export PATH="/usr/local/bin:$PATH"
command -v tmux >/dev/null 2>&1 || { claw_log "ERROR: tmux is not installed"; exit 1; }
if tmux has-session -t claude 2>/dev/null; then
  claw_log "tmux session claude already running"
  exit 0
fi
command -v claude >/dev/null 2>&1 || { claw_log "ERROR: claude (Claude Code) is not installed"; exit 1; }
dir="$HOME/workspace"
[[ -d "$dir" ]] || dir="$HOME"
name="$(hostname)"
printf -v loop 'while :; do claude remote-control --name %q; echo "claude exited ($?); restarting in 10 s"; sleep 10; done' "$name"
tmux new-session -d -s claude -c "$dir" "$loop"
claw_log "started tmux session claude (claude remote-control --name $name) in $dir"
