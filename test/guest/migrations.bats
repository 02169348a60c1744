#!/usr/bin/env bats
# run-updates.sh through boot.sh in the sandbox: applied set with checksums on the disk.
load helpers

setup() { make_sandbox desktop; U="$R/opt/claw/updates"; }
teardown() { rm -rf "$R"; }

applied_names() { cut -d' ' -f1 "$R/mnt/claw-data/migrations/applied"; }

@test "migrations are applied once, recorded with sha256 and time" {
  boot
  [ "$status" -eq 0 ]
  [ "$(applied_names | tr '\n' ' ')" = "001-initial 002-workspace-dirs " ]
  sha="$(sha256sum "$U/002-workspace-dirs.sh" | cut -d' ' -f1)"
  grep -qE "^002-workspace-dirs $sha [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$" "$R/mnt/claw-data/migrations/applied"
  [ -d "$R/mnt/claw-data/workspace/skills" ]
  boot
  [ "$status" -eq 0 ]
  [ "$(applied_names | wc -l)" -eq 2 ]
  [[ "$output" == *"no pending migrations"* ]]
}

@test "a migration added by a newer image runs on the next boot, only it" {
  boot
  printf '#!/bin/bash\necho ran >>"$CLAW_DATA/ran-003"\n' >"$U/003-new.sh"
  boot
  [ "$status" -eq 0 ]
  [ "$(cat "$R/mnt/claw-data/ran-003")" = ran ]
  boot
  [ "$(wc -l <"$R/mnt/claw-data/ran-003")" -eq 1 ]
}

@test "numeric order: 009 before 010 (and 010 is ten, not octal)" {
  printf '#!/bin/bash\necho 010 >>"$CLAW_DATA/order"\n' >"$U/010-b.sh"
  printf '#!/bin/bash\necho 009 >>"$CLAW_DATA/order"\n' >"$U/009-a.sh"
  boot
  [ "$status" -eq 0 ]
  [ "$(tr '\n' ' ' <"$R/mnt/claw-data/order")" = "009 010 " ]
}

@test "a failing migration is reported, later ones wait, services still start; it is retried next boot" {
  printf '#!/bin/bash\necho broken >&2\nexit 3\n' >"$U/003-fail.sh"
  printf '#!/bin/bash\ntouch "$CLAW_DATA/ran-004"\n' >"$U/004-after.sh"
  boot
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"003-fail: broken"* ]]
  [[ "$output" == *"003-fail failed (exit 3)"* ]]
  [ ! -e "$R/mnt/claw-data/ran-004" ]
  ! applied_names | grep -q 003-fail
  [ "$(cat "$FAKE_SYSTEMD_DIR/openclaw-gateway.service.state")" = active ]
  grep -qx 'failed=migrations' "$R/var/lib/claw/last-boot"
  grep -qx 'detail=003-fail exit 3' "$R/mnt/claw-data/migrations/last-run"
  printf '#!/bin/bash\nexit 0\n' >"$U/003-fail.sh"
  boot
  [ "$status" -eq 0 ]
  [ -e "$R/mnt/claw-data/ran-004" ]
}

@test "the per-script timeout is honoured (header and CLAW_MIGRATION_TIMEOUT), the whole process group dies" {
  printf '#!/bin/bash\n# claw-timeout: 2\nsleep 97 &\nsleep 98\n' >"$U/003-hang.sh"
  boot
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"003-hang timed out after 2s"* ]]
  ! pgrep -f 'sleep 9[78]'
  [ "$(cat "$FAKE_SYSTEMD_DIR/openclaw-gateway.service.state")" = active ]
  printf '#!/bin/bash\nsleep 99\n' >"$U/003-hang.sh"
  CLAW_MIGRATION_TIMEOUT=1 boot
  [[ "$output" == *"003-hang timed out after 1s"* ]]
  ! pgrep -f 'sleep 99'
}

@test "checksum drift of an applied migration is reported, not re-run" {
  boot
  before="$(grep '^002-' "$R/mnt/claw-data/migrations/applied")"
  rmdir "$R/mnt/claw-data/workspace/skills"
  echo '# edited after release' >>"$U/002-workspace-dirs.sh"
  boot
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"002-workspace-dirs changed after it was applied"*"not re-running it"* ]]
  [ ! -d "$R/mnt/claw-data/workspace/skills" ]
  [ "$(grep '^002-' "$R/mnt/claw-data/migrations/applied")" = "$before" ]
  run "$R/opt/claw/run-updates.sh" --check
  [[ "$output" == *"drift 002-workspace-dirs"* ]]
}

@test "duplicate numbers at runtime: neither runs, the run is reported failed" {
  printf '#!/bin/bash\ntouch "$CLAW_DATA/x"\n' >"$U/005-x.sh"
  printf '#!/bin/bash\ntouch "$CLAW_DATA/y"\n' >"$U/005-y.sh"
  boot
  [ "$status" -eq 1 ]
  [[ "$output" == *"duplicate migration numbers: 5"* ]]
  [ ! -e "$R/mnt/claw-data/x" ] && [ ! -e "$R/mnt/claw-data/y" ]
  run "$R/opt/claw/run-updates.sh" --check
  [ "$status" -eq 1 ]
  [[ "$output" == *"duplicate 005-x"* ]]
}

@test "a renamed migration whose number is already applied is reported, not run" {
  boot
  mv "$U/002-workspace-dirs.sh" "$U/002-renamed.sh"
  run "$R/opt/claw/run-updates.sh" --check
  [[ "$output" == *"conflict 002-renamed number already applied as 002-workspace-dirs"* ]]
}
