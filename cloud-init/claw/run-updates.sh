#!/bin/bash
# run-updates.sh: apply the migrations /opt/claw/updates/NNN-name.sh to the data disk.
#
# The applied set lives on the disk, in /mnt/claw-data/migrations/applied, one line per
# migration: "NNN-name sha256 ISO-time" (a set with checksums, not a high-water mark).
# Each pending script runs once, in numeric order, as root with a timeout
# (CLAW_MIGRATION_TIMEOUT, default 600 s; a "# claw-timeout: N" line in the script overrides).
# A script whose checksum changed after it was applied is reported ("drift"), never re-run.
# Duplicate numbers are reported and neither script runs. The first failure stops the run
# (later migrations may depend on it) and is retried on the next boot.
#
#   run-updates.sh           apply pending migrations; exit 1 when one failed
#   run-updates.sh --check   print one status line per migration, change nothing;
#                            exit 0 when every migration is applied (drift is only reported)
set -euo pipefail
umask 022

CLAW_SELF="$(readlink -f "${BASH_SOURCE[0]}")"
# shellcheck source=lib/common.sh
. "$(dirname "$CLAW_SELF")/lib/common.sh"
CLAW_LOG_TAG=claw-updates

UPDATES="$CLAW_OPT/updates"
MIGDIR="$CLAW_MNT/migrations"
APPLIED="$MIGDIR/applied"
LAST_RUN="$MIGDIR/last-run"
DEFAULT_TIMEOUT="${CLAW_MIGRATION_TIMEOUT:-600}"

# "number name path" for every candidate, numeric order (10#: 010 is ten, not octal eight)
list_migrations() {
  local f base
  for f in "$UPDATES"/[0-9][0-9][0-9]-*.sh; do
    [[ -f "$f" ]] || continue
    base="$(basename "$f" .sh)"
    printf '%d %s %s\n' "$((10#${base%%-*}))" "$base" "$f"
  done | sort -n -k1,1 -k2,2
}

applied_sha() { [[ -f "$APPLIED" ]] && awk -v n="$1" '$1 == n { print $2; exit }' "$APPLIED"; }
applied_with_number() { # number -> name of an applied migration with that number, if any
  [[ -f "$APPLIED" ]] && awk -v n="$1" '{ split($1, a, "-"); if (a[1] + 0 == n + 0) { print $1; exit } }' "$APPLIED"
}

script_timeout() {
  local t
  t="$(sed -n 's/^# claw-timeout: *\([0-9][0-9]*\) *$/\1/p' "$1" | head -n1)"
  printf '%s' "${t:-$DEFAULT_TIMEOUT}"
}

# status of one migration: applied | drift | conflict | duplicate | pending
migration_status() {
  local num="$1" name="$2" path="$3" dups="$4" have other
  if [[ " $dups " == *" $num "* ]]; then echo duplicate; return; fi
  have="$(applied_sha "$name" || true)"
  if [[ -n "$have" ]]; then
    [[ "$have" == "$(claw_sha256 "$path")" ]] && echo applied || echo drift
    return
  fi
  other="$(applied_with_number "$num" || true)"
  if [[ -n "$other" ]]; then echo conflict; return; fi
  echo pending
}

duplicate_numbers() { list_migrations | awk '{ c[$1]++ } END { for (n in c) if (c[n] > 1) printf "%s ", n }'; }

check() {
  local dups num name path st rc=0
  dups="$(duplicate_numbers)"
  while read -r num name path; do
    st="$(migration_status "$num" "$name" "$path" "$dups")"
    case "$st" in
      applied) echo "applied $name" ;;
      drift) echo "drift $name applied with sha256 $(applied_sha "$name" | cut -c1-12), now $(claw_sha256 "$path" | cut -c1-12)" ;;
      conflict) echo "conflict $name number already applied as $(applied_with_number "$num")" ;;
      duplicate) echo "duplicate $name number $(printf '%03d' "$num") is used twice"; rc=1 ;;
      pending) echo "pending $name"; rc=1 ;;
    esac
  done < <(list_migrations)
  return $rc
}

write_last_run() { # result detail
  printf 'result=%s\ndetail=%s\nfinished=%s\n' "$1" "$2" "$(claw_now)" >"$LAST_RUN.tmp"
  mv -f "$LAST_RUN.tmp" "$LAST_RUN"
}

apply() {
  local dups num name path st t out rc n=0 admin
  [[ -d "$CLAW_MNT" ]] || { claw_log "ERROR: data disk $CLAW_MNT not present"; return 1; }
  mkdir -p "$MIGDIR"
  touch "$APPLIED"
  dups="$(duplicate_numbers)"
  [[ -z "$dups" ]] || claw_log "ERROR: duplicate migration numbers: $dups- none of those scripts runs; fix the numbering"
  admin="$(claw_admin_user)"
  out="$(mktemp)"
  trap 'rm -f "$out"' RETURN
  while read -r num name path; do
    st="$(migration_status "$num" "$name" "$path" "$dups")"
    case "$st" in
      applied) continue ;;
      drift)
        claw_log "WARN: $name changed after it was applied (sha256 $(applied_sha "$name" | cut -c1-12) -> $(claw_sha256 "$path" | cut -c1-12)); not re-running it"
        continue
        ;;
      conflict)
        claw_log "WARN: $name has the number of applied migration $(applied_with_number "$num"); not running it"
        continue
        ;;
      duplicate) continue ;;
    esac
    t="$(script_timeout "$path")"
    claw_log "running $name (timeout ${t}s)"
    rc=0
    CLAW_DATA="$CLAW_MNT" CLAW_ADMIN_USER="$admin" CLAW_ADMIN_HOME="$(claw_admin_home "$admin")" \
      timeout --kill-after=10 "$t" bash "$path" >"$out" 2>&1 </dev/null || rc=$?
    while IFS= read -r line; do claw_log "$name: $line"; done <"$out"
    if ((rc != 0)); then
      if ((rc == 124 || rc == 137)); then
        claw_log "ERROR: $name timed out after ${t}s; stopping, it is retried on the next boot"
        write_last_run failed "$name timed out after ${t}s"
      else
        claw_log "ERROR: $name failed (exit $rc); stopping, it is retried on the next boot"
        write_last_run failed "$name exit $rc"
      fi
      return 1
    fi
    printf '%s %s %s\n' "$name" "$(claw_sha256 "$path")" "$(claw_now)" >>"$APPLIED"
    sync "$APPLIED" 2>/dev/null || sync
    n=$((n + 1))
    claw_log "applied $name"
  done < <(list_migrations)
  if [[ -n "$dups" ]]; then
    write_last_run failed "duplicate migration numbers: $dups"
    return 1
  fi
  if ((n == 0)); then claw_log "no pending migrations"; else claw_log "applied $n migration(s)"; fi
  write_last_run ok "applied $n"
  return 0
}

case "${1:-}" in
  --check) check ;;
  -h | --help) sed -n '2,15p' "$CLAW_SELF" ;;
  "") apply ;;
  *)
    echo "usage: run-updates.sh [--check]" >&2
    exit 2
    ;;
esac
