/**
 * Small programs first on PATH for everything that runs inside a sandbox VM (SSH commands, boot.sh,
 * cloud-init's runcmd). They stand in for what needs root or a real init system, and act only on
 * `$CLAW_ROOT`:
 *
 * - `sudo [-n -E -H -S -k -u USER …] CMD…`: runs CMD (the sandbox has one identity).
 * - `systemctl`: the service recorder. Unit state lives in `$CLAW_ROOT/run/sandbox-systemd/<unit>.state`
 *   (cleared at every boot, like tmpfs), enablement in `$CLAW_ROOT/etc/sandbox-systemd/<unit>.enabled`
 *   (persists on the OS disk), every call appended to `$CLAW_ROOT/var/log/sandbox-systemctl.log`.
 *   `start claw-boot.service` runs the real `$CLAW_ROOT/opt/claw/boot.sh` once per boot (a oneshot).
 * - `chown`, `chgrp`: accepted and ignored (no users to own files).
 * - `cloud-init status [--wait]`: `status: done` once this boot's cloud-init finished;
 *   `cloud-init clean [--logs] [--seed]`: forgets the instance (custom data applies again next boot).
 * - `waagent -deprovision[+user] -force`: removes SSH host keys and, with +user, the provisioned user.
 * - `journalctl`: prints the sandbox's boot log.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const SUDO = `#!/bin/bash
# sandbox sudo: drop the options, run the command
while (($#)); do
  case "$1" in
    -u | -g | -p | -C | -h | -r | -t | -U | -D) shift 2 ;;
    --user=* | --group=* | --prompt=*) shift ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
(($#)) || { echo "usage: sudo command" >&2; exit 1; }
exec "$@"
`;

const SYSTEMCTL = `#!/bin/bash
# sandbox systemctl: records unit state under $CLAW_ROOT (no init system in the sandbox)
set -uo pipefail
root="\${CLAW_ROOT:?sandbox systemctl needs CLAW_ROOT}"
run="$root/run/sandbox-systemd"
en="$root/etc/sandbox-systemd"
mkdir -p "$run" "$en" "$root/var/log"
printf '%s %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$root/var/log/sandbox-systemctl.log"
args=()
quiet=0
failed_only=0
now=0
while (($#)); do
  case "$1" in
    -q | --quiet) quiet=1 ;;
    --failed) failed_only=1 ;;
    --now) now=1 ;;
    --state=failed) failed_only=1 ;;
    -p | --property | -t | --type | --state) shift ;;
    -*) ;;
    *) args+=("$1") ;;
  esac
  shift
done
cmd="\${args[0]:-list-units}"
units=("\${args[@]:1}")
norm() { if [[ "$1" == *.* ]]; then printf '%s' "$1"; else printf '%s.service' "$1"; fi; }
state() { cat "$run/$1.state" 2>/dev/null || echo inactive; }
say() { ((quiet)) || printf '%s\\n' "$1"; }
rc=0
case "$cmd" in
  daemon-reload | daemon-reexec | reset-failed | mask | unmask) ;;
  start | restart | reload-or-restart | try-restart | reload)
    for u in "\${units[@]}"; do
      u="$(norm "$u")"
      if [[ "$cmd" == try-restart && "$(state "$u")" != active ]]; then continue; fi
      if [[ "$u" == claw-boot.service ]]; then
        if [[ "$cmd" == start && "$(state "$u")" == active ]]; then continue; fi
        echo activating >"$run/$u.state"
        if CLAW_SYSTEMCTL="$0" bash "$root/opt/claw/boot.sh" >>"$root/var/log/sandbox-claw-boot.journal" 2>&1; then
          echo active >"$run/$u.state"
        else
          echo failed >"$run/$u.state"
          rc=1
        fi
      else
        echo active >"$run/$u.state"
      fi
    done ;;
  stop | kill)
    for u in "\${units[@]}"; do echo inactive >"$run/$(norm "$u").state"; done ;;
  enable | disable)
    for u in "\${units[@]}"; do
      u="$(norm "$u")"
      if [[ "$cmd" == enable ]]; then : >"$en/$u.enabled"; else rm -f "$en/$u.enabled"; fi
    done
    if ((now)) && [[ "$cmd" == enable ]]; then "$0" start "\${units[@]}" || rc=1; fi ;;
  is-active)
    for u in "\${units[@]}"; do s="$(state "$(norm "$u")")"; say "$s"; [[ "$s" == active ]] || rc=3; done ;;
  is-failed)
    for u in "\${units[@]}"; do s="$(state "$(norm "$u")")"; say "$s"; [[ "$s" == failed ]] || rc=1; done ;;
  is-enabled)
    for u in "\${units[@]}"; do
      if [[ -e "$en/$(norm "$u").enabled" ]]; then say enabled; else say disabled; rc=1; fi
    done ;;
  status)
    for u in "\${units[@]}"; do u="$(norm "$u")"; s="$(state "$u")"; printf '* %s - sandbox unit\\n   Active: %s\\n' "$u" "$s"; [[ "$s" == active ]] || rc=3; done ;;
  list-units)
    for f in "$run"/*.state; do
      [[ -e "$f" ]] || continue
      s="$(cat "$f")"; u="$(basename "$f" .state)"
      ((failed_only)) && [[ "$s" != failed ]] && continue
      [[ "$s" == failed ]] && printf '%s loaded failed failed sandbox unit\\n' "$u"
      [[ "$s" == active ]] && printf '%s loaded active running sandbox unit\\n' "$u"
    done ;;
  *) echo "sandbox systemctl: unsupported command: $cmd" >&2; rc=1 ;;
esac
exit "$rc"
`;

const NOOP = `#!/bin/bash
# sandbox: ownership is not modelled (no users); accepted and ignored
exit 0
`;

const CLOUD_INIT = `#!/bin/bash
# sandbox cloud-init: status and clean only (the emulator applies custom data at first boot)
root="\${CLAW_ROOT:?}"
case "\${1:-}" in
  status)
    if [[ -e "$root/var/lib/cloud/instance/boot-finished" ]]; then echo "status: done"; exit 0; fi
    if [[ -e "$root/var/lib/cloud/instance/error" ]]; then echo "status: error"; exit 1; fi
    echo "status: not started"; exit 0 ;;
  clean)
    shift
    rm -rf "$root/var/lib/cloud"
    for a in "$@"; do
      [[ "$a" == --logs || "$a" == -l ]] && rm -f "$root/var/log/cloud-init.log" "$root/var/log/cloud-init-output.log"
    done
    exit 0 ;;
  *) echo "sandbox cloud-init: only 'status' and 'clean' are supported" >&2; exit 1 ;;
esac
`;

const WAAGENT = `#!/bin/bash
# sandbox waagent: -deprovision[+user] removes host keys (and the provisioned user's home)
root="\${CLAW_ROOT:?}"
user=0; dep=0
for a in "$@"; do
  case "$a" in
    -deprovision) dep=1 ;;
    -deprovision+user) dep=1; user=1 ;;
  esac
done
((dep)) || { echo "sandbox waagent: only -deprovision[+user] is supported" >&2; exit 1; }
rm -f "$root"/etc/ssh/ssh_host_*
rm -f "$root/etc/hostname"
if ((user)) && [[ -f "$root/var/lib/waagent/provisioned-user" ]]; then
  u="$(cat "$root/var/lib/waagent/provisioned-user")"
  if [[ "$u" =~ ^[a-z_][a-z0-9_-]*$ ]]; then
    rm -rf "\${root:?}/home/$u"
    sed -i "/^$u:/d" "$root/etc/sandbox-shadow" 2>/dev/null || true
  fi
  rm -f "$root/var/lib/waagent/provisioned-user"
fi
exit 0
`;

const JOURNALCTL = `#!/bin/bash
# sandbox journalctl: the boot log
cat "\${CLAW_ROOT:?}/var/log/claw-boot.log" 2>/dev/null
exit 0
`;

export const SHIMS: Record<string, string> = {
  sudo: SUDO,
  systemctl: SYSTEMCTL,
  chown: NOOP,
  chgrp: NOOP,
  'cloud-init': CLOUD_INIT,
  waagent: WAAGENT,
  journalctl: JOURNALCTL,
};

/** Writes the shims into `dir` (created) and returns it. */
export function writeShims(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(SHIMS)) {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, 0o755);
  }
  return dir;
}
