# shellcheck shell=bash
# shellcheck disable=SC2034 # the path variables are used by the scripts that source this file
# Shared helpers for the claw guest scripts (sourced, never executed).
#
# Every absolute path goes through $CLAW_ROOT (empty in production, a directory that stands
# for "/" in tests and in the emulator's sandbox). CLAW_SANDBOX=1 is the emulator's no-root
# mode: the data disk is a directory, nothing is mounted, chowned or formatted, and systemd
# is reached only through ${CLAW_SYSTEMCTL:-systemctl}.

CLAW_ROOT="${CLAW_ROOT:-}"
CLAW_ROOT="${CLAW_ROOT%/}"
CLAW_SANDBOX="${CLAW_SANDBOX:-0}"
CLAW_SYSTEMCTL="${CLAW_SYSTEMCTL:-systemctl}"
# The payload: /opt/claw in the image; the directory holding this library when run from a checkout.
if [[ -z "${CLAW_OPT:-}" ]]; then
  if [[ -d "$CLAW_ROOT/opt/claw/updates" ]]; then CLAW_OPT="$CLAW_ROOT/opt/claw"; else
    CLAW_OPT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  fi
fi
CLAW_MNT="$CLAW_ROOT/mnt/claw-data"
CLAW_ETC="$CLAW_ROOT/etc/claw"
CLAW_LOG="${CLAW_LOG:-$CLAW_ROOT/var/log/claw-boot.log}"
CLAW_STATE="$CLAW_ROOT/var/lib/claw"
CLAW_RUN="$CLAW_ROOT/run/claw"
CLAW_LABEL="claw-data"
CLAW_GATEWAY_PORT="${CLAW_GATEWAY_PORT:-18789}"
export CLAW_ROOT CLAW_SANDBOX CLAW_SYSTEMCTL CLAW_OPT

claw_sandbox() { [[ "$CLAW_SANDBOX" == 1 ]]; }

claw_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# One timestamped line to stderr (the journal under systemd) and to the boot log.
# Callers never pass secret values here.
claw_log() {
  local tag="${CLAW_LOG_TAG:-claw-boot}" line
  line="[$tag] $(claw_now) $*"
  printf '%s\n' "$line" >&2
  if [[ -n "$CLAW_LOG" ]]; then
    mkdir -p "$(dirname "$CLAW_LOG")" 2>/dev/null || true
    printf '%s\n' "$line" >>"$CLAW_LOG" 2>/dev/null || true
  fi
}

# Read KEY from a dotenv file as data (never sourced, never executed).
# Accepts KEY=value, export KEY=value, KEY='value' ('\'' for a quote) and KEY="value".
claw_env_get() {
  local file="$1" key="$2" line val
  [[ -r "$file" ]] || return 1
  val=""
  local found=1
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    line="${line#"${line%%[![:space:]]*}"}"
    [[ "$line" == export\ * ]] && line="${line#export }"
    [[ "$line" == "$key="* ]] || continue
    val="${line#"$key="}"
    if [[ "$val" == \'*\' && ${#val} -ge 2 ]]; then
      val="${val:1:${#val}-2}"
      val="${val//\'\\\'\'/\'}"
    elif [[ "$val" == \"*\" && ${#val} -ge 2 ]]; then
      val="${val:1:${#val}-2}"
      val="${val//\\\"/\"}"
      val="${val//\\\\/\\}"
    fi
    found=0
  done <"$file"
  [[ $found -eq 0 ]] || return 1
  printf '%s' "$val"
}

# Number of KEY=... lines (for logging without values).
claw_env_count() { grep -cE '^[[:space:]]*(export[[:space:]]+)?[A-Za-z_][A-Za-z0-9_]*=' "$1" 2>/dev/null || echo 0; }

# A value that is empty or still a template placeholder.
claw_is_placeholder() {
  local v="${1,,}"
  [[ -z "$v" || "$v" == *your-*-here* || "$v" == *changeme* || "$v" == "<"*">" || "$v" == *placeholder* || "$v" == xxx* ]]
}

claw_json_get() { # file jq-filter -> raw value (empty on error/null)
  [[ -r "$1" ]] || return 1
  jq -r "$2 // empty" "$1" 2>/dev/null
}

# The claw's admin user (claw.json adminUser, default azureuser), its group and home.
claw_admin_user() {
  local u
  u="$(claw_json_get "$CLAW_ETC/claw.json" .adminUser || true)"
  [[ "$u" =~ ^[a-z_][a-z0-9_-]*$ ]] || u=azureuser
  printf '%s' "$u"
}
claw_admin_group() {
  local g
  g="$(id -gn "$1" 2>/dev/null || true)"
  printf '%s' "${g:-$1}"
}
claw_admin_home() {
  local h=""
  if [[ -z "$CLAW_ROOT" ]]; then h="$(getent passwd "$1" 2>/dev/null | cut -d: -f6 || true)"; fi
  printf '%s' "${h:-$CLAW_ROOT/home/$1}"
}

claw_claw_name() {
  local n
  n="$(claw_json_get "$CLAW_ETC/claw.json" .claw || true)"
  printf '%s' "${n:-$(hostname 2>/dev/null || echo claw)}"
}

# The image profile baked into /opt/claw/image.json: desktop (default) or minimal.
claw_profile() {
  local p
  p="$(claw_json_get "$CLAW_OPT/image.json" .profile || true)"
  [[ "$p" == minimal ]] && echo minimal || echo desktop
}

claw_vnc_exposure() {
  local e
  e="$(claw_json_get "$CLAW_ETC/claw.json" .vncExposure || true)"
  [[ "$e" == public ]] && echo public || echo localhost
}

claw_sha256() { sha256sum "$1" | cut -d' ' -f1; }
