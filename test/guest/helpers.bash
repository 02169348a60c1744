# shellcheck shell=bash
# shellcheck disable=SC2154 # $output, $status and $lines are set by bats' run
# Shared fixtures for the guest bats suites.
GUEST_TEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PAYLOAD="$(cd "$GUEST_TEST_DIR/../../cloud-init/claw" && pwd)"
FAKE_SYSTEMCTL="$GUEST_TEST_DIR/bin/fake-systemctl"

# A root directory that stands for "/" with the payload at /opt/claw and the per-claw files
# the slim cloud-init delivers. $1 = profile (desktop|minimal), $2 = admin user.
make_root() {
  local profile="${1:-desktop}" admin="${2:-azureuser}"
  R="$(mktemp -d "${BATS_TMPDIR:-/tmp}/claw-root.XXXXXX")"
  mkdir -p "$R/opt" "$R/etc/claw/seed" "$R/home/$admin" "$R/var/log" "$R/mnt" "$R/tmp"
  cp -a "$PAYLOAD" "$R/opt/claw"
  printf '{"version":"1.2.3","profile":"%s","distro":"debian:12"}\n' "$profile" >"$R/opt/claw/image.json"
  printf '{"claw":"alice","adminUser":"%s","vncExposure":"localhost","profile":"%s"}\n' "$admin" "$profile" >"$R/etc/claw/claw.json"
  cat >"$R/etc/claw/claw.env" <<'ENV'
OPENCLAW_MODEL=anthropic/claude-sonnet-5
ANTHROPIC_API_KEY='sk-ant-test-0000000000000000'
TELEGRAM_BOT_TOKEN='123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr'
TELEGRAM_USER_ID=123456789
ENV
  chmod 600 "$R/etc/claw/claw.env"
  touch -d '2026-01-01 00:00:00' "$R/etc/claw/claw.env"
  cat >"$R/etc/claw/seed/openclaw.json" <<'JSON'
{
  "gateway": { "mode": "local", "port": 18789, "bind": "loopback" },
  "agents": {
    "defaults": { "model": { "primary": "anthropic/claude-sonnet-5" }, "workspace": "/mnt/claw-data/workspace", "sandbox": { "mode": "off" } },
    "entries": { "main": {} }
  },
  "channels": { "telegram": { "enabled": true, "dmPolicy": "allowlist", "allowFrom": ["123456789"] } }
}
JSON
  printf '{"version":1,"defaults":{"security":"full","ask":"off","askFallback":"full"},"agents":{}}\n' >"$R/etc/claw/seed/exec-approvals.json"
  printf '# SOUL of alice\n' >"$R/etc/claw/seed/SOUL.md"
  export FAKE_SYSTEMD_DIR="$R/run/fake-systemd"
  mkdir -p "$FAKE_SYSTEMD_DIR"
  export CLAW_ROOT="$R" CLAW_SYSTEMCTL="$FAKE_SYSTEMCTL" CLAW_DISK_WAIT="${CLAW_DISK_WAIT:-2}"
  unset CLAW_OPT
}

make_sandbox() {
  make_root "${1:-desktop}" "${2:-azureuser}"
  mkdir -p "$R/dev/disk/azure/scsi1/lun0"
  export CLAW_SANDBOX=1
}

boot() { run "$R/opt/claw/boot.sh"; }
verify_json() { run "$R/opt/claw/verify"; }
# status of one check in the last verify output
status_of() { printf '%s\n' "$output" | jq -r --arg id "$1" '.checks[] | select(.id == $id) | .status'; }
detail_of() { printf '%s\n' "$output" | jq -r --arg id "$1" '.checks[] | select(.id == $id) | .detail'; }
