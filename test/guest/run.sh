#!/bin/bash
# npm run test:guest: shellcheck of every guest script, then the bats suites (TAP), the disk
# suite inside a private mount/network namespace with an overlay on /dev (real loop devices).
# Ends with exactly one line "guest: N passed, M failed, K skipped".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
pass=0 fail=0 skip=0
tap="$(mktemp)"
trap 'rm -f "$tap"' EXIT

count_tap() { # TAP file -> adds to the counters, prints the TAP
  local line
  while IFS= read -r line; do
    printf '%s\n' "$line"
    if [[ "$line" =~ ^ok\ [0-9]+.*\#\ skip ]]; then skip=$((skip + 1))
    elif [[ "$line" =~ ^ok\ [0-9]+ ]]; then pass=$((pass + 1))
    elif [[ "$line" =~ ^not\ ok\ [0-9]+ ]]; then fail=$((fail + 1)); fi
  done <"$1"
}

echo "# shellcheck"
# every executable in the payload (boot.sh, verify, scrub, …), the library, the migrations, the harness
mapfile -t scripts < <({
  find cloud-init/claw -maxdepth 1 -type f -perm -u+x
  echo cloud-init/claw/lib/common.sh
  find cloud-init/claw/updates -maxdepth 1 -name '*.sh'
  echo test/guest/run.sh test/guest/ns-run.sh test/guest/helpers.bash test/guest/bin/fake-systemctl | tr ' ' '\n'
} | sort -u)
if command -v shellcheck >/dev/null 2>&1; then
  for f in "${scripts[@]}"; do
    if out="$(shellcheck -x -S info "$f" 2>&1)"; then echo "ok - shellcheck $f"; pass=$((pass + 1))
    else echo "not ok - shellcheck $f"; printf '%s\n' "$out" | sed 's/^/#   /'; fail=$((fail + 1)); fi
  done
else
  echo "ok - shellcheck # skip shellcheck is not installed (apt install shellcheck)"
  skip=$((skip + ${#scripts[@]}))
fi

if ! command -v bats >/dev/null 2>&1; then
  echo "# bats is not installed (apt install bats): guest suites skipped"
  skip=$((skip + 1))
else
  # every suite but the disk one runs in the host namespace (sandbox roots, no mounts)
  for suite in test/guest/*.bats; do
    [[ "$suite" == test/guest/disk.bats ]] && continue
    echo "# bats $suite"
    bats --tap "$suite" >"$tap" 2>&1
    count_tap "$tap"
  done
  echo "# bats disk (real loop devices)"
  if [[ "$(id -u)" == 0 ]] && command -v unshare >/dev/null 2>&1; then
    test/guest/ns-run.sh bats --tap test/guest/disk.bats >"$tap" 2>&1
  else
    # the suite skips every test and prints why
    bats --tap test/guest/disk.bats >"$tap" 2>&1
  fi
  count_tap "$tap"
fi
echo "guest: $pass passed, $fail failed, $skip skipped"
((fail == 0))
