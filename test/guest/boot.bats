#!/usr/bin/env bats
# boot.sh in the emulator's no-root sandbox mode (CLAW_SANDBOX=1, CLAW_ROOT=<dir>): the data
# disk is a directory; seed, secrets, links, VNC, units, services, locking and timeouts.
load helpers

setup() { make_sandbox desktop; }
teardown() { rm -rf "$R"; }

@test "first boot seeds the disk, links home, syncs secrets and starts the services" {
  boot
  echo "$output"
  [ "$status" -eq 0 ]
  D="$R/dev/disk/azure/scsi1/lun0"
  [ "$(readlink "$R/mnt/claw-data")" = "$D" ]
  [ -f "$D/.claw-initialized" ]
  cmp "$R/etc/claw/seed/openclaw.json" "$D/openclaw/openclaw.json"
  [ "$(cat "$D/workspace/SOUL.md")" = "# SOUL of alice" ]
  cmp "$R/etc/claw/claw.env" "$D/openclaw/.env"
  [ "$(stat -c %a "$D/openclaw/.env")" = 600 ]
  [ ! -e "$D/openclaw/exec-approvals.json" ]
  [ "$(readlink "$R/home/azureuser/.openclaw")" = "$R/mnt/claw-data/openclaw" ]
  [ "$(readlink "$R/home/azureuser/workspace")" = "$R/mnt/claw-data/workspace" ]
  for u in lightdm x11vnc openclaw-gateway claude-sidecar; do [ "$(cat "$FAKE_SYSTEMD_DIR/$u.service.state")" = active ]; done
  grep -qx 'result=ok' "$R/var/lib/claw/last-boot"
  grep -q 'User=azureuser' "$R/etc/systemd/system/openclaw-gateway.service.d/10-claw-admin.conf"
  grep -qx 'autologin-user=azureuser' "$R/etc/lightdm/lightdm.conf.d/50-claw-autologin.conf"
  # every step logged with a timestamp
  for s in disk seed secrets links ownership vnc approvals units tailscale migrations services; do
    grep -qE "^\[claw-boot\] [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z step $s: ok" "$R/var/log/claw-boot.log"
  done
}

@test "the VNC password is random, 16 alphanumerics without a fixed prefix, copied to /etc/x11vnc.pass" {
  boot
  p1="$(cat "$R/mnt/claw-data/vnc-password.txt")"
  [[ "$p1" =~ ^[A-Za-z0-9]{16}$ ]]
  [ "$(cat "$R/etc/x11vnc.pass")" = "$p1" ]
  [ "$(stat -c %a "$R/etc/x11vnc.pass")" = 600 ]
  R1="$R"; make_sandbox desktop; boot
  p2="$(cat "$R/mnt/claw-data/vnc-password.txt")"
  rm -rf "$R1"
  [ "$p1" != "$p2" ]
  [ "${p1:0:4}" != "${p2:0:4}" ] || [ "${p1:4:4}" != "${p2:4:4}" ]
}

@test "secrets never appear in the boot log" {
  boot
  ! grep -q 'sk-ant-test' "$R/var/log/claw-boot.log"
  ! grep -q 'AAbbCCdd' "$R/var/log/claw-boot.log"
  [[ "$output" != *sk-ant-test* ]]
}

@test "second boot is idempotent: seed not repeated, agent edits kept, nothing restarted needlessly" {
  boot
  [ "$status" -eq 0 ]
  echo "the agent evolved" >>"$R/mnt/claw-data/workspace/SOUL.md"
  echo note >"$R/mnt/claw-data/workspace/note.txt"
  marker="$(cat "$R/mnt/claw-data/.claw-initialized")"
  : >"$FAKE_SYSTEMD_DIR/calls.log"
  boot
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"seed: disk already initialized"* ]]
  [[ "$output" == *"no pending migrations"* ]]
  grep -q 'the agent evolved' "$R/mnt/claw-data/workspace/SOUL.md"
  [ "$(cat "$R/mnt/claw-data/.claw-initialized")" = "$marker" ]
  [ "$(wc -l <"$R/mnt/claw-data/migrations/applied")" -eq 2 ]
  ! grep -q daemon-reload "$FAKE_SYSTEMD_DIR/calls.log"
  ! grep -q try-restart "$FAKE_SYSTEMD_DIR/calls.log"
}

@test "an interrupted seed (no marker) seeds again without clobbering files already there" {
  boot
  rm "$R/mnt/claw-data/.claw-initialized"
  echo mine >"$R/mnt/claw-data/workspace/mine.txt"
  boot
  [ "$status" -eq 0 ]
  [ -f "$R/mnt/claw-data/.claw-initialized" ]
  [ "$(cat "$R/mnt/claw-data/workspace/mine.txt")" = mine ]
}

@test "a newer delivered claw.env rotates the disk .env and restarts the gateway" {
  boot
  printf 'OPENCLAW_MODEL=anthropic/claude-sonnet-5\nANTHROPIC_API_KEY=sk-ant-rotated-1111111111\n' >"$R/etc/claw/claw.env"
  touch -d '2026-06-01 00:00:00' "$R/etc/claw/claw.env"
  : >"$FAKE_SYSTEMD_DIR/calls.log"
  boot
  [ "$status" -eq 0 ]
  cmp "$R/etc/claw/claw.env" "$R/mnt/claw-data/openclaw/.env"
  [ "$(stat -c %a "$R/mnt/claw-data/openclaw/.env")" = 600 ]
  grep -q 'try-restart openclaw-gateway.service' "$FAKE_SYSTEMD_DIR/calls.log"
  ! grep -q 'sk-ant-rotated' "$R/var/log/claw-boot.log"
}

@test "an older delivered claw.env does not overwrite a newer disk .env" {
  boot
  printf 'ANTHROPIC_API_KEY=edited-on-disk\n' >"$R/mnt/claw-data/openclaw/.env"
  touch -d '2026-09-01 00:00:00' "$R/mnt/claw-data/openclaw/.env"
  boot
  [ "$status" -eq 0 ]
  grep -q edited-on-disk "$R/mnt/claw-data/openclaw/.env"
  [[ "$output" == *"keeping the disk copy"* ]]
}

@test "a legacy exec-approvals.json is moved out of the state dir" {
  boot
  echo '{"version":1}' >"$R/mnt/claw-data/openclaw/exec-approvals.json"
  boot
  [ "$status" -eq 0 ]
  [ ! -e "$R/mnt/claw-data/openclaw/exec-approvals.json" ]
  ls "$R"/mnt/claw-data/.claw/exec-approvals.legacy-*.json
}

@test "no data disk: boot reports it, skips the disk steps, still starts the services" {
  rmdir "$R/dev/disk/azure/scsi1/lun0"
  CLAW_DISK_WAIT=1 boot
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"no data disk directory"* ]]
  [[ "$output" == *"skipping seed"* ]]
  [ ! -e "$R/mnt/claw-data/.claw-initialized" ]
  [ "$(cat "$FAKE_SYSTEMD_DIR/openclaw-gateway.service.state")" = active ]
  grep -qx 'result=failed' "$R/var/lib/claw/last-boot"
  grep -qx 'failed=disk' "$R/var/lib/claw/last-boot"
}

@test "the NVMe link (data/by-lun/0) is found too" {
  rmdir "$R/dev/disk/azure/scsi1/lun0"
  mkdir -p "$R/dev/disk/azure/data/by-lun/0"
  boot
  [ "$status" -eq 0 ]
  [ "$(readlink "$R/mnt/claw-data")" = "$R/dev/disk/azure/data/by-lun/0" ]
  [ -f "$R/dev/disk/azure/data/by-lun/0/.claw-initialized" ]
}

@test "each step has a timeout: a disk that never appears is cut off, boot goes on" {
  rmdir "$R/dev/disk/azure/scsi1/lun0"
  CLAW_DISK_WAIT=600 CLAW_TIMEOUT_DISK=2 boot
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"step disk: FAILED, timed out after 2s"* ]]
  [[ "$output" == *"step services: ok"* ]]
}

@test "flock: a second concurrent boot waits for the lock and gives up with 75" {
  mkdir -p "$R/run/claw"
  exec 8>"$R/run/claw/claw-boot.lock"
  flock 8
  CLAW_LOCK_WAIT=1 boot
  exec 8>&-
  [ "$status" -eq 75 ]
  [[ "$output" == *"holds the lock"* ]]
}

@test "minimal profile: no VNC step, no desktop units started" {
  rm -rf "$R"; make_sandbox minimal
  boot
  [ "$status" -eq 0 ]
  [[ "$output" == *"vnc: minimal profile image, no VNC"* ]]
  [ ! -e "$FAKE_SYSTEMD_DIR/lightdm.service.state" ]
  [ ! -e "$FAKE_SYSTEMD_DIR/x11vnc.service.state" ]
  [ "$(cat "$FAKE_SYSTEMD_DIR/openclaw-gateway.service.state")" = active ]
}

@test "a per-claw admin user and public VNC exposure land in the unit drop-ins" {
  rm -rf "$R"; make_sandbox desktop clawadmin
  jq '.vncExposure = "public"' "$R/etc/claw/claw.json" >"$R/x" && mv "$R/x" "$R/etc/claw/claw.json"
  boot
  [ "$status" -eq 0 ]
  grep -qx 'User=clawadmin' "$R/etc/systemd/system/openclaw-gateway.service.d/10-claw-admin.conf"
  grep -qx 'Environment=HOME=/home/clawadmin' "$R/etc/systemd/system/claude-sidecar.service.d/10-claw-admin.conf"
  grep -qx 'autologin-user=clawadmin' "$R/etc/lightdm/lightdm.conf.d/50-claw-autologin.conf"
  grep -qx 'Environment="CLAW_VNC_LISTEN_ARGS=-listen 0.0.0.0"' "$R/etc/systemd/system/x11vnc.service.d/10-claw-exposure.conf"
  [ -L "$R/home/clawadmin/workspace" ]
}

@test "Tailscale: a key without the tailscale binary never blocks boot" {
  printf "TAILSCALE_AUTHKEY='tskey-auth-test'\n" >>"$R/etc/claw/claw.env"
  boot
  [ "$status" -eq 0 ]
  [[ "$output" == *"tailscale: sandbox, not joining"* ]]
  ! grep -q 'tskey-auth-test' "$R/var/log/claw-boot.log"
}

@test "a failing service start is reported, the other services still start" {
  touch "$FAKE_SYSTEMD_DIR/lightdm.service.fail"
  boot
  [ "$status" -eq 1 ]
  [[ "$output" == *"starting lightdm.service failed"* ]]
  [ "$(cat "$FAKE_SYSTEMD_DIR/openclaw-gateway.service.state")" = active ]
  grep -qx 'failed=services' "$R/var/lib/claw/last-boot"
}

@test "start-claude.sh: one tmux session 'claude' in ~/workspace running claude remote-control, idempotent" {
  command -v tmux >/dev/null || skip "needs tmux"
  boot
  bin="$R/fakebin"
  mkdir -p "$bin"
  # a stand-in for the Claude Code CLI (not installed here): records its arguments and stays up
  printf '#!/bin/bash\necho "$*" >>"%s/claude-args"\nexec sleep 300\n' "$R" >"$bin/claude"
  chmod +x "$bin/claude"
  export TMUX_TMPDIR="$R/tmp" HOME="$R/home/azureuser"
  PATH="$bin:$PATH" run "$R/opt/claw/start-claude.sh"
  echo "$output"
  [ "$status" -eq 0 ]
  PATH="$bin:$PATH" run "$R/opt/claw/start-claude.sh"
  [[ "$output" == *"tmux session claude already running"* ]]
  [ "$(tmux list-sessions -F '#S' | grep -cx claude)" -eq 1 ]
  [ "$(tmux display-message -p -t claude '#{pane_current_path}')" = "$(readlink -f "$R/home/azureuser/workspace")" ]
  for i in $(seq 1 50); do [ -s "$R/claude-args" ] && break; sleep 0.1; done
  [ "$(cat "$R/claude-args")" = "remote-control --name $(hostname)" ]
  tmux kill-server
}
