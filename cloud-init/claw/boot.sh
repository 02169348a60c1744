#!/bin/bash
# claw-boot: runs on EVERY boot from claw-boot.service (a oneshot ordered before the gateway,
# x11vnc, lightdm and the Claude sidecar), under flock. Each step runs in its own process with
# a timeout and logs timestamped lines to stdout (the journal) and /var/log/claw-boot.log.
#
# Steps: disk -> seed -> secrets -> links -> ownership -> vnc -> approvals -> units ->
#        tailscale -> migrations -> services.  A failed step is reported and boot goes on;
# steps that need the data disk are skipped when the disk step failed; services are always
# started (a failed migration never keeps the gateway down). Exit 1 when any step failed.
#
# Environment: CLAW_ROOT (prefix standing for "/"), CLAW_SANDBOX=1 (no root: the data disk
# is the directory $CLAW_ROOT/dev/disk/azure/scsi1/lun0, /mnt/claw-data becomes a symlink to
# it), CLAW_SYSTEMCTL (default systemctl), CLAW_DISK_WAIT (s to wait for the disk, 120),
# CLAW_TIMEOUT_<STEP> (per-step timeout in s), CLAW_MIGRATION_TIMEOUT (per script, 600).
set -euo pipefail
umask 022

CLAW_SELF="$(readlink -f "${BASH_SOURCE[0]}")"
# shellcheck source=lib/common.sh
. "$(dirname "$CLAW_SELF")/lib/common.sh"

CLAW_DISK_WAIT="${CLAW_DISK_WAIT:-120}"
CLAW_PART_WAIT="${CLAW_PART_WAIT:-10}"
FSTAB="$CLAW_ROOT/etc/fstab"
DATA="$CLAW_MNT"

die() {
  claw_log "ERROR: $*"
  exit 1
}

# --- bookkeeping shared by the step processes ------------------------------------------------
record_created() { # kind(tree|node) path : boot created it, so the ownership step may chown it
  printf '%s %s\n' "$1" "$2" >>"$CLAW_BOOT_RUN/created"
}
flag() { : >"$CLAW_BOOT_RUN/flag.$1"; }
has_flag() { [[ -e "$CLAW_BOOT_RUN/flag.$1" ]]; }

same_dir() { [[ -e "$1" && -e "$2" && "$(stat -Lc %d:%i "$1")" == "$(stat -Lc %d:%i "$2")" ]]; }

write_if_changed() { # path mode content -> rc 0 when the file changed
  local path="$1" mode="$2" content="$3" tmp
  if [[ -f "$path" ]] && [[ "$(cat "$path")" == "$content" ]]; then return 1; fi
  mkdir -p "$(dirname "$path")"
  tmp="$(mktemp "$path.XXXXXX")"
  printf '%s\n' "$content" >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  return 0
}

random_password() { # 16 random alphanumerics, no fixed prefix (VNC uses only the first 8)
  head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 16
}

# --- step 1: the data disk ---------------------------------------------------------------------
DISK_LINKS=(scsi1/lun0 data/by-lun/0)

find_disk_link() { # waits up to CLAW_DISK_WAIT s for the Azure LUN 0 link (SCSI or NVMe)
  local deadline=$((SECONDS + CLAW_DISK_WAIT)) l p
  while :; do
    for l in "${DISK_LINKS[@]}"; do
      p="$CLAW_ROOT/dev/disk/azure/$l"
      if claw_sandbox; then
        [[ -d "$p" ]] && { printf '%s' "$p"; return 0; }
      else
        [[ -b "$p" ]] && { printf '%s' "$p"; return 0; }
      fi
    done
    ((SECONDS >= deadline)) && return 1
    sleep 1
  done
}

partition_path() { # /dev/sdc -> /dev/sdc1 ; /dev/nvme0n2 or /dev/loop3 -> ...p1
  if [[ "$1" =~ [0-9]$ ]]; then printf '%sp%s' "$1" "$2"; else printf '%s%s' "$1" "$2"; fi
}

# Wait for a partition's device node; without udev register it with partx and mknod it from sysfs.
ensure_partition_node() {
  local dev="$1" part="$2" name deadline majmin
  name="$(basename "$part")"
  deadline=$((SECONDS + CLAW_PART_WAIT))
  if command -v udevadm >/dev/null 2>&1; then timeout 10 udevadm settle 2>/dev/null || true; fi
  while [[ ! -b "$part" ]] && ((SECONDS < deadline)); do
    [[ -e "/sys/class/block/$name" ]] || break # the kernel does not know it: no point waiting
    sleep 1
  done
  if [[ -b "$part" ]]; then
    blockdev --flushbufs "$part" 2>/dev/null || true
    return 0
  fi
  if [[ ! -e "/sys/class/block/$name/dev" ]]; then
    claw_log "disk: $name unknown to the kernel; registering partitions with partx"
    partx -a "$dev" 2>/dev/null || partx -u "$dev" 2>/dev/null || true
  fi
  if [[ ! -b "$part" && -r "/sys/class/block/$name/dev" ]]; then
    majmin="$(cat "/sys/class/block/$name/dev")"
    claw_log "disk: no udev node for $name; mknod $part b ${majmin/:/ }"
    mknod -m 0660 "$part" b "${majmin%%:*}" "${majmin##*:}"
    chgrp disk "$part" 2>/dev/null || true
  fi
  [[ -b "$part" ]] || return 1
  blockdev --flushbufs "$part" 2>/dev/null || true
}

# True only when nothing at all is on the disk: no signature (wipefs, blkid), no partitions
# known to the kernel and the first and last MiB all zero. Anything else is never formatted.
disk_is_blank() {
  local dev="$1" base sigs size rc=0
  base="$(basename "$dev")"
  # read what is on the disk now, not what a re-used device's buffer cache remembers
  blockdev --flushbufs "$dev" 2>/dev/null || true
  sigs="$(wipefs -n --noheadings -O TYPE "$dev" 2>/dev/null)" || return 1
  [[ -z "${sigs//[[:space:]]/}" ]] || return 1
  blkid -p "$dev" >/dev/null 2>&1 || rc=$?
  [[ $rc -eq 2 ]] || return 1
  compgen -G "/sys/class/block/$base/${base}*" >/dev/null && return 1
  cmp -s -n 1048576 "$dev" /dev/zero || return 1
  size="$(blockdev --getsize64 "$dev")"
  if ((size > 2097152)); then
    dd if="$dev" bs=1M skip=$((size / 1048576 - 1)) count=1 status=none 2>/dev/null | cmp -s -n 1048576 - /dev/zero || return 1
  fi
  return 0
}

format_disk() {
  local dev="$1" part
  part="$(partition_path "$dev" 1)"
  claw_log "disk: $dev carries no signature at all: creating GPT + one partition, mkfs.ext4 -L $CLAW_LABEL"
  printf 'label: gpt\n,,L\n' | sfdisk --quiet "$dev" >/dev/null 2>&1 || true
  # sfdisk cannot make the kernel re-read the table on a loop device/without a parser: partx can.
  partx -a "$dev" 2>/dev/null || partx -u "$dev" 2>/dev/null || true
  [[ "$(blkid -p -s PTTYPE -o value "$dev" 2>/dev/null)" == gpt ]] || die "disk: writing the GPT on $dev failed"
  ensure_partition_node "$dev" "$part" || die "disk: partition $part did not appear (partx/sysfs)"
  mkfs.ext4 -q -L "$CLAW_LABEL" "$part" || die "disk: mkfs.ext4 on $part failed"
  claw_log "disk: formatted $part as ext4 label $CLAW_LABEL"
}

fs_probe() { # dev -> "TYPE LABEL" (low-level probe, no cache)
  local type label
  type="$(blkid -p -s TYPE -o value "$1" 2>/dev/null || true)"
  label="$(blkid -p -s LABEL -o value "$1" 2>/dev/null || true)"
  printf '%s|%s' "$type" "$label"
}

# Which block device holds our filesystem; refuses foreign ones with the reason and the fix.
claw_filesystem() {
  local dev="$1" pttype part probe
  pttype="$(blkid -p -s PTTYPE -o value "$dev" 2>/dev/null || true)"
  if [[ -n "$pttype" ]]; then
    part="$(partition_path "$dev" 1)"
    ensure_partition_node "$dev" "$part" || die "disk: $dev has a $pttype partition table but no partition 1 node; refusing to touch it"
    probe="$(fs_probe "$part")"
    if [[ "$probe" == "ext4|$CLAW_LABEL" ]]; then printf '%s' "$part"; return 0; fi
    if [[ "$probe" == "|" ]]; then
      die "disk: $dev has a $pttype partition table but $part holds no filesystem; a disk with a partition table is never formatted. Fix: attach the claw's data disk at LUN 0, or wipe this disk on purpose (wipefs -a) to let boot format it"
    fi
    die "disk: foreign filesystem on $part (TYPE=${probe%%|*} LABEL=${probe#*|}); not mounting it as $CLAW_LABEL and not formatting it. Fix: attach the claw's data disk (ext4 label $CLAW_LABEL) at LUN 0"
  fi
  probe="$(fs_probe "$dev")"
  if [[ "$probe" == "ext4|$CLAW_LABEL" ]]; then printf '%s' "$dev"; return 0; fi
  if [[ "$probe" != "|" ]]; then
    die "disk: foreign filesystem on $dev (TYPE=${probe%%|*} LABEL=${probe#*|}); not mounting it as $CLAW_LABEL and not formatting it. Fix: attach the claw's data disk (ext4 label $CLAW_LABEL) at LUN 0"
  fi
  die "disk: $dev holds data without a recognised signature; refusing to format it"
}

ensure_fstab() { # fstab line by UUID with nofail and a device timeout, added once
  local src="$1" uuid line tmp
  uuid="$(blkid -p -s UUID -o value "$src" 2>/dev/null || true)"
  [[ -n "$uuid" ]] || die "disk: no UUID on $src"
  line="UUID=$uuid /mnt/claw-data ext4 defaults,nofail,x-systemd.device-timeout=${CLAW_FSTAB_DEVICE_TIMEOUT:-30s} 0 2"
  touch "$FSTAB"
  if grep -qxF "$line" "$FSTAB"; then return 0; fi
  tmp="$(mktemp "$FSTAB.XXXXXX")"
  # a stale line for the mount point (another disk's UUID) is replaced, everything else is kept
  awk '$2 != "/mnt/claw-data"' "$FSTAB" >"$tmp"
  printf '%s\n' "$line" >>"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$FSTAB"
  claw_log "disk: fstab entry for UUID=$uuid written (nofail, device timeout)"
}

step_disk() {
  local link dev target src label
  if claw_sandbox; then
    link="$(find_disk_link)" || die "disk: no data disk directory at $CLAW_ROOT/dev/disk/azure/{scsi1/lun0,data/by-lun/0} after ${CLAW_DISK_WAIT}s"
    mkdir -p "$(dirname "$CLAW_MNT")"
    if [[ -L "$CLAW_MNT" ]]; then
      [[ "$(readlink "$CLAW_MNT")" == "$link" ]] || ln -sfn "$link" "$CLAW_MNT"
    elif [[ -d "$CLAW_MNT" ]]; then
      rmdir "$CLAW_MNT" 2>/dev/null || die "disk: $CLAW_MNT is a non-empty directory on the OS disk; refusing to replace it"
      ln -s "$link" "$CLAW_MNT"
    elif [[ -e "$CLAW_MNT" ]]; then
      die "disk: $CLAW_MNT exists and is not a directory"
    else
      ln -s "$link" "$CLAW_MNT"
    fi
    claw_log "disk: sandbox data disk $link linked at /mnt/claw-data"
    return 0
  fi
  if mountpoint -q "$CLAW_MNT"; then
    src="$(findmnt -n -o SOURCE --mountpoint "$CLAW_MNT")"
    label="$(blkid -p -s LABEL -o value "$src" 2>/dev/null || true)"
    [[ "$label" == "$CLAW_LABEL" ]] || die "disk: /mnt/claw-data is already mounted from $src (label '${label}'), which is not the claw data disk"
    claw_log "disk: already mounted from $src"
    ensure_fstab "$src"
    return 0
  fi
  link="$(find_disk_link)" || die "disk: no data disk at /dev/disk/azure/scsi1/lun0 or /dev/disk/azure/data/by-lun/0 after ${CLAW_DISK_WAIT}s. Fix: attach the claw's data disk at LUN 0"
  dev="$(readlink -f "$link")"
  [[ -b "$dev" ]] || die "disk: $link does not resolve to a block device"
  claw_log "disk: LUN 0 is $dev (via ${link#"$CLAW_ROOT"})"
  if disk_is_blank "$dev"; then format_disk "$dev"; fi
  target="$(claw_filesystem "$dev")"
  mkdir -p "$CLAW_MNT"
  # identified by its label (claw_filesystem refuses anything not labelled claw-data), mounted
  # by that exact device: with two claw-data disks attached (e.g. a snapshot copy), `mount -L`
  # could pick the wrong one. fstab then names the UUID.
  mount -t ext4 -o defaults "$target" "$CLAW_MNT" || die "disk: mounting $target at /mnt/claw-data failed"
  claw_log "disk: mounted $target (label $CLAW_LABEL) at /mnt/claw-data"
  ensure_fstab "$target"
}

data_ready() { [[ -d "$DATA" ]] && { claw_sandbox || mountpoint -q "$DATA"; }; }

# --- step 2: seed a new disk once; the marker is written last ------------------------------------
step_seed() {
  local d
  data_ready || die "seed: the data disk is not mounted; never seeding the OS disk"
  if [[ -e "$DATA/.claw-initialized" ]]; then
    claw_log "seed: disk already initialized ($(head -n1 "$DATA/.claw-initialized" 2>/dev/null || true))"
    return 0
  fi
  claw_log "seed: new disk, seeding from $CLAW_OPT/defaults and /etc/claw/seed"
  # the seed creates these trees (once per disk), so the ownership step may chown them
  for d in openclaw workspace claude; do
    mkdir -p "$DATA/$d"
    record_created tree "$DATA/$d"
  done
  mkdir -p "$DATA/migrations" "$DATA/tailscale" "$DATA/.claw"
  chmod 700 "$DATA/tailscale" "$DATA/.claw"
  # -n: an interrupted seed that runs again never overwrites what is already there
  [[ -d "$CLAW_OPT/defaults/openclaw" ]] && cp -Rn "$CLAW_OPT/defaults/openclaw/." "$DATA/openclaw/"
  [[ -d "$CLAW_OPT/defaults/workspace" ]] && cp -Rn "$CLAW_OPT/defaults/workspace/." "$DATA/workspace/"
  # per-claw files delivered by the slim cloud-init win over the image defaults
  if [[ -f "$CLAW_ETC/seed/openclaw.json" ]]; then
    install -m 0600 "$CLAW_ETC/seed/openclaw.json" "$DATA/openclaw/openclaw.json"
  fi
  if [[ -f "$CLAW_ETC/seed/SOUL.md" ]]; then
    install -m 0644 "$CLAW_ETC/seed/SOUL.md" "$DATA/workspace/SOUL.md"
  fi
  # exec-approvals.json is NOT copied into the state dir (a legacy file there blocks approvals
  # in OpenClaw 2026.9); the approvals step loads it with `openclaw approvals set --file`.
  if [[ ! -s "$DATA/vnc-password.txt" ]]; then
    local pw=""
    pw="$(claw_env_get "$CLAW_ETC/claw.env" VNC_PASSWORD 2>/dev/null || true)"
    [[ ${#pw} -ge 8 ]] || pw="$(random_password)"
    (umask 077 && printf '%s\n' "$pw" >"$DATA/vnc-password.txt")
    record_created node "$DATA/vnc-password.txt"
    claw_log "seed: VNC password written to the disk (not logged)"
  fi
  sync
  (umask 022 && claw_now >"$DATA/.claw-initialized.tmp" && mv -f "$DATA/.claw-initialized.tmp" "$DATA/.claw-initialized")
  claw_log "seed: done, marker written"
}

# --- secrets: the delivered claw.env replaces the disk copy when it differs and is newer --------
step_secrets() {
  local src="$CLAW_ETC/claw.env" dst="$DATA/openclaw/.env" tmp
  data_ready || die "secrets: data disk not mounted"
  mkdir -p "$DATA/openclaw"
  if [[ ! -f "$src" ]]; then
    claw_log "secrets: no delivered /etc/claw/claw.env; keeping the disk .env"
    return 0
  fi
  if [[ -f "$dst" ]] && cmp -s "$src" "$dst"; then
    claw_log "secrets: disk .env matches the delivered one"
    return 0
  fi
  if [[ -f "$dst" && ! "$src" -nt "$dst" ]]; then
    claw_log "secrets: disk .env differs but is not older than the delivered claw.env; keeping the disk copy"
    return 0
  fi
  tmp="$(mktemp "$dst.XXXXXX")"
  chmod 600 "$tmp"
  cat "$src" >"$tmp"
  touch -r "$src" "$tmp"
  mv -f "$tmp" "$dst"
  record_created node "$dst"
  flag env-changed
  claw_log "secrets: disk .env updated from the delivered claw.env ($(claw_env_count "$dst") keys, values not logged)"
}

# --- step 3: links --------------------------------------------------------------------------
# ~/.openclaw and ~/workspace are BIND MOUNTS of the disk directories, not symlinks: OpenClaw's
# exec/fs tools resolve real paths and reject or mis-handle workspace paths that go through a
# symlink (the original moved to bind mounts for that reason, seed-study §6.3), and the state
# dir must look like a plain ~/.openclaw for `openclaw` CLI commands run by the user. They are
# made here at runtime, never in fstab, so a missing disk cannot drop the VM into emergency
# mode (the original's bind lines lacked nofail). The sandbox cannot mount: it uses symlinks.
# Single files (~/vnc-password.txt) stay symlinks: no tool resolves them.
move_aside() {
  local p="$1" aside
  aside="$p.pre-claw-$(date -u +%Y%m%d%H%M%S)"
  mv "$p" "$aside"
  claw_log "links: moved existing ${p#"$CLAW_ROOT"} aside to ${aside#"$CLAW_ROOT"}"
}

link_dir() { # target source
  local target="$1" source="$2"
  if claw_sandbox; then
    if [[ -L "$target" ]]; then
      [[ "$(readlink "$target")" == "$source" ]] && return 0
      rm -f "$target"
    elif [[ -d "$target" ]]; then
      rmdir "$target" 2>/dev/null || move_aside "$target"
    elif [[ -e "$target" ]]; then
      move_aside "$target"
    fi
    ln -s "$source" "$target"
    record_created node "$target"
    claw_log "links: ${target#"$CLAW_ROOT"} -> ${source#"$CLAW_ROOT"} (sandbox symlink)"
    return 0
  fi
  [[ -L "$target" ]] && rm -f "$target" # an old symlink layout is replaced by the bind mount
  if mountpoint -q "$target"; then
    same_dir "$target" "$source" && return 0
    die "links: ${target#"$CLAW_ROOT"} is already a mount of something other than ${source#"$CLAW_ROOT"}"
  fi
  if [[ -d "$target" ]]; then
    [[ -z "$(ls -A "$target")" ]] || move_aside "$target"
  elif [[ -e "$target" ]]; then
    move_aside "$target"
  fi
  if [[ ! -d "$target" ]]; then
    mkdir -p "$target"
    record_created node "$target"
  fi
  mount --bind "$source" "$target"
  claw_log "links: bind-mounted ${source#"$CLAW_ROOT"} at ${target#"$CLAW_ROOT"}"
}

step_links() {
  local admin home
  data_ready || die "links: data disk not mounted"
  admin="$(claw_admin_user)"
  home="$(claw_admin_home "$admin")"
  [[ -d "$home" ]] || die "links: home $home of admin user $admin does not exist"
  mkdir -p "$DATA/openclaw" "$DATA/workspace" "$DATA/claude"
  link_dir "$home/.openclaw" "$DATA/openclaw"
  link_dir "$home/workspace" "$DATA/workspace"
  link_dir "$home/.claude" "$DATA/claude"
  if [[ -e "$DATA/vnc-password.txt" && "$(readlink "$home/vnc-password.txt" 2>/dev/null || true)" != "$CLAW_MNT/vnc-password.txt" ]]; then
    [[ -e "$home/vnc-password.txt" || -L "$home/vnc-password.txt" ]] && rm -f "$home/vnc-password.txt"
    ln -s "$CLAW_MNT/vnc-password.txt" "$home/vnc-password.txt"
    record_created node "$home/vnc-password.txt"
  fi
  # Tailscale node state lives on the disk, so an upgraded VM is the same tailnet node.
  if ! claw_sandbox && { command -v tailscaled >/dev/null 2>&1 || [[ -d "$CLAW_ROOT/var/lib/tailscale" ]]; }; then
    mkdir -p "$DATA/tailscale" "$CLAW_ROOT/var/lib/tailscale"
    chmod 700 "$DATA/tailscale"
    if ! mountpoint -q "$CLAW_ROOT/var/lib/tailscale"; then
      mount --bind "$DATA/tailscale" "$CLAW_ROOT/var/lib/tailscale"
      flag tailscale-bound
      claw_log "links: tailscale state bound from the disk"
    fi
  fi
  mkdir -p "$CLAW_ROOT/var/tmp/openclaw-compile-cache"
}

# --- step 4: ownership of what this boot created (no recursive walk of the disk) -------------
step_ownership() {
  local admin group kind path n=0
  if claw_sandbox; then
    claw_log "ownership: sandbox, nothing to chown"
    return 0
  fi
  admin="$(claw_admin_user)"
  id -u "$admin" >/dev/null 2>&1 || die "ownership: admin user $admin does not exist"
  group="$(claw_admin_group "$admin")"
  [[ -f "$CLAW_BOOT_RUN/created" ]] || { claw_log "ownership: nothing new"; return 0; }
  while read -r kind path; do
    [[ -e "$path" || -L "$path" ]] || continue
    if [[ "$kind" == tree ]]; then chown -R "$admin:$group" "$path"; else chown -h "$admin:$group" "$path"; fi
    n=$((n + 1))
  done <"$CLAW_BOOT_RUN/created"
  claw_log "ownership: $n path(s) created by this boot now owned by $admin:$group"
}

# --- step 5: VNC password from the disk into /etc/x11vnc.pass (x11vnc -passwdfile) ----------
step_vnc() {
  local pwf="$DATA/vnc-password.txt" dest="$CLAW_ROOT/etc/x11vnc.pass" pw
  if [[ "$(claw_profile)" == minimal ]]; then
    claw_log "vnc: minimal profile image, no VNC"
    return 0
  fi
  data_ready || die "vnc: data disk not mounted"
  if [[ ! -s "$pwf" ]]; then
    (umask 077 && random_password >"$pwf" && echo >>"$pwf")
    record_created node "$pwf"
    claw_log "vnc: disk had no VNC password; generated one"
  fi
  pw="$(head -n1 "$pwf")"
  ((${#pw} >= 8)) || die "vnc: the password in vnc-password.txt is shorter than 8 characters"
  if [[ -f "$dest" ]] && [[ "$(head -n1 "$dest")" == "$pw" ]]; then
    claw_log "vnc: /etc/x11vnc.pass up to date"
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  (umask 077 && printf '%s\n' "$pw" >"$dest.tmp" && mv -f "$dest.tmp" "$dest")
  chmod 600 "$dest"
  flag vnc-changed
  claw_log "vnc: /etc/x11vnc.pass updated from the disk (not logged)"
}

# --- exec approvals: loaded with `openclaw approvals set --file` when the document changed ----
step_approvals() {
  local doc="$CLAW_ETC/seed/exec-approvals.json" legacy="$DATA/openclaw/exec-approvals.json"
  local rec="$DATA/.claw/approvals.sha256" sha admin home tmp oc
  data_ready || die "approvals: data disk not mounted"
  mkdir -p "$DATA/.claw"
  if [[ -f "$legacy" ]]; then
    # a legacy JSON file in the state dir silently blocks approvals in OpenClaw 2026.9
    mv -f "$legacy" "$DATA/.claw/exec-approvals.legacy-$(date -u +%Y%m%d%H%M%S).json"
    claw_log "approvals: moved a legacy exec-approvals.json out of the state dir"
    if [[ ! -f "$doc" ]]; then
      doc="$(find "$DATA/.claw" -maxdepth 1 -name 'exec-approvals.legacy-*.json' | sort | tail -n1)"
    fi
  fi
  if [[ ! -f "$doc" ]]; then
    claw_log "approvals: no exec approvals document delivered"
    return 0
  fi
  jq -e '.version == 1' "$doc" >/dev/null 2>&1 || die "approvals: ${doc#"$CLAW_ROOT"} is not an exec approvals document (version 1)"
  sha="$(claw_sha256 "$doc")"
  if [[ -f "$rec" && "$(cat "$rec")" == "$sha" ]]; then
    claw_log "approvals: already loaded (sha256 ${sha:0:12})"
    return 0
  fi
  oc="$(PATH="/usr/local/bin:/usr/bin:$PATH" command -v openclaw || true)"
  if [[ -z "$oc" ]]; then
    claw_log "approvals: openclaw is not installed; approvals stay pending"
    return 0
  fi
  admin="$(claw_admin_user)"
  home="$(claw_admin_home "$admin")"
  if claw_sandbox || [[ "$(id -u)" != 0 ]]; then
    HOME="$home" "$oc" approvals set --file "$doc" >/dev/null
  else
    tmp="$(mktemp)"
    install -m 0600 -o "$admin" "$doc" "$tmp"
    runuser -u "$admin" -- env HOME="$home" "$oc" approvals set --file "$tmp" >/dev/null || { rm -f "$tmp"; die "approvals: openclaw approvals set failed"; }
    rm -f "$tmp"
  fi
  printf '%s\n' "$sha" >"$rec"
  claw_log "approvals: loaded with openclaw approvals set (sha256 ${sha:0:12})"
}

# --- units: per-claw admin user in drop-ins, lightdm autologin, VNC exposure ------------------
step_units() {
  local admin group home sd="$CLAW_ROOT/etc/systemd/system" changed=0 listen
  admin="$(claw_admin_user)"
  group="$(claw_admin_group "$admin")"
  home="/home/$admin"
  [[ -z "$CLAW_ROOT" ]] && home="$(claw_admin_home "$admin")"
  local svc_user
  svc_user="$(printf '[Service]\nUser=%s\nGroup=%s\nWorkingDirectory=%s\nEnvironment=HOME=%s' "$admin" "$group" "$home" "$home")"
  write_if_changed "$sd/openclaw-gateway.service.d/10-claw-admin.conf" 0644 "$svc_user" && changed=1
  write_if_changed "$sd/claude-sidecar.service.d/10-claw-admin.conf" 0644 "$svc_user" && changed=1
  if [[ "$(claw_profile)" == desktop ]]; then
    write_if_changed "$CLAW_ROOT/etc/lightdm/lightdm.conf.d/50-claw-autologin.conf" 0644 \
      "$(printf '[Seat:*]\nautologin-user=%s\nautologin-user-timeout=0\nautologin-session=xfce\nuser-session=xfce' "$admin")" && changed=1
    listen=-localhost
    [[ "$(claw_vnc_exposure)" == public ]] && listen='-listen 0.0.0.0'
    write_if_changed "$sd/x11vnc.service.d/10-claw-exposure.conf" 0644 \
      "$(printf '[Service]\nEnvironment="CLAW_VNC_LISTEN_ARGS=%s"' "$listen")" && { changed=1; flag vnc-changed; }
  fi
  if ((changed)); then
    "$CLAW_SYSTEMCTL" daemon-reload || die "units: daemon-reload failed"
    claw_log "units: drop-ins for admin user $admin written, daemon reloaded"
  else
    claw_log "units: drop-ins up to date (admin user $admin)"
  fi
}

# --- Tailscale: join once when the claw's .env has TAILSCALE_AUTHKEY; never blocks boot -------
step_tailscale() {
  local key claw keyfile rc=0
  key="$(claw_env_get "$DATA/openclaw/.env" TAILSCALE_AUTHKEY 2>/dev/null || true)"
  if [[ -z "$key" ]]; then claw_log "tailscale: no TAILSCALE_AUTHKEY, not joining"; return 0; fi
  if claw_sandbox; then claw_log "tailscale: sandbox, not joining"; return 0; fi
  if ! command -v tailscale >/dev/null 2>&1; then claw_log "tailscale: not installed, not joining"; return 0; fi
  if has_flag tailscale-bound; then timeout 30 "$CLAW_SYSTEMCTL" restart tailscaled.service || true; fi
  if timeout 10 tailscale status --json 2>/dev/null | jq -e '.BackendState == "Running"' >/dev/null 2>&1; then
    claw_log "tailscale: already a tailnet node (state on the disk)"
    touch "$DATA/tailscale/.claw-joined"
    return 0
  fi
  if [[ -e "$DATA/tailscale/.claw-joined" ]]; then
    claw_log "tailscale: joined before but not running now; leaving it to tailscaled (no re-registration)"
    return 0
  fi
  claw="$(claw_claw_name)"
  keyfile="$(umask 077 && mktemp "$CLAW_BOOT_RUN/ts.XXXXXX")"
  printf '%s' "$key" >"$keyfile"
  timeout 60 tailscale up --auth-key="file:$keyfile" --hostname="$claw" --timeout=45s >/dev/null 2>&1 || rc=$?
  rm -f "$keyfile"
  if ((rc == 0)); then
    touch "$DATA/tailscale/.claw-joined"
    claw_log "tailscale: joined the tailnet as $claw"
  else
    claw_log "WARN tailscale: join failed (rc $rc); boot continues"
    flag tailscale-failed
  fi
  return 0
}

# --- step 6: migrations ---------------------------------------------------------------------
step_migrations() {
  data_ready || die "migrations: data disk not mounted"
  "$CLAW_OPT/run-updates.sh"
}

# --- step 7: services (queued with --no-block: they are ordered after this unit) --------------
step_services() {
  local units=() u rc=0 sc=("$CLAW_SYSTEMCTL")
  claw_sandbox || sc+=(--no-block)
  [[ "$(claw_profile)" == desktop ]] && units+=(lightdm x11vnc)
  units+=(openclaw-gateway claude-sidecar)
  for u in "${units[@]}"; do
    if ! claw_sandbox && [[ ! -e "$CLAW_ROOT/etc/systemd/system/$u.service" && ! -e "$CLAW_ROOT/lib/systemd/system/$u.service" && ! -e "$CLAW_ROOT/usr/lib/systemd/system/$u.service" ]]; then
      claw_log "services: $u.service is not installed, skipped"
      continue
    fi
    if [[ "$u" == openclaw-gateway ]] && has_flag env-changed; then "${sc[@]}" try-restart "$u.service" || true; fi
    if [[ "$u" == x11vnc ]] && has_flag vnc-changed; then "${sc[@]}" try-restart "$u.service" || true; fi
    if "${sc[@]}" start "$u.service"; then
      claw_log "services: start $u.service queued"
    else
      claw_log "ERROR services: starting $u.service failed"
      rc=1
    fi
  done
  return "$rc"
}

# --- driver ------------------------------------------------------------------------------------
run_step() { # name default-timeout
  local name="$1" t var rc=0 started=$SECONDS
  var="CLAW_TIMEOUT_${name^^}"
  t="${!var:-$2}"
  claw_log "step $name: start (timeout ${t}s)"
  CLAW_STEP="$name" timeout --kill-after=10 "$t" "$CLAW_SELF" --step "$name" || rc=$?
  if ((rc == 0)); then
    claw_log "step $name: ok ($((SECONDS - started))s)"
  elif ((rc == 124 || rc == 137)); then
    claw_log "step $name: FAILED, timed out after ${t}s"
  else
    claw_log "step $name: FAILED (exit $rc)"
  fi
  return $rc
}

main() {
  local failed=() warnings=() disk_ok=1 s
  mkdir -p "$CLAW_RUN" "$CLAW_STATE"
  exec 9>"$CLAW_RUN/claw-boot.lock"
  if ! flock -w "${CLAW_LOCK_WAIT:-300}" 9; then
    claw_log "another claw-boot run holds the lock; giving up"
    exit 75
  fi
  export CLAW_BOOT_RUN="$CLAW_RUN/boot"
  rm -rf "$CLAW_BOOT_RUN"
  mkdir -p "$CLAW_BOOT_RUN"
  chmod 700 "$CLAW_BOOT_RUN"
  claw_log "=== claw-boot start: claw=$(claw_claw_name) profile=$(claw_profile) sandbox=$CLAW_SANDBOX root=${CLAW_ROOT:-/}"

  run_step disk $((CLAW_DISK_WAIT + 300)) || { failed+=(disk); disk_ok=0; }
  if ((disk_ok)); then
    for s in seed secrets links ownership vnc; do
      run_step "$s" 120 || failed+=("$s")
    done
    # `openclaw approvals set` starts the whole CLI: ~5 s idle, close to a minute on a loaded VM
    run_step approvals 300 || failed+=(approvals)
  else
    claw_log "data disk unavailable: skipping seed, secrets, links, ownership, vnc, approvals, tailscale, migrations"
  fi
  run_step units 60 || failed+=(units)
  if ((disk_ok)); then
    run_step tailscale 120 || warnings+=(tailscale)
    has_flag tailscale-failed && warnings+=(tailscale)
    run_step migrations "${CLAW_MIGRATIONS_TIMEOUT:-3600}" || failed+=(migrations)
  fi
  run_step services 120 || failed+=(services)

  local result=ok
  ((${#failed[@]} == 0)) || result=failed
  {
    printf 'result=%s\n' "$result"
    printf 'failed=%s\n' "$(IFS=,; echo "${failed[*]}")"
    printf 'warnings=%s\n' "$(IFS=,; echo "${warnings[*]}")"
    printf 'finished=%s\n' "$(claw_now)"
    printf 'boot_id=%s\n' "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)"
  } >"$CLAW_STATE/last-boot.tmp"
  mv -f "$CLAW_STATE/last-boot.tmp" "$CLAW_STATE/last-boot"
  if [[ "$result" == ok ]]; then
    claw_log "=== claw-boot complete"
    exit 0
  fi
  claw_log "=== claw-boot complete with failed steps: ${failed[*]} (services were still started)"
  exit 1
}

# sourced (by the unit tests of the helpers above): define the functions, run nothing
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then return 0; fi
if [[ "${1:-}" == --step ]]; then
  STEP="$2"
  set -o errtrace
  trap 'claw_log "step $STEP: error at line $LINENO"' ERR
  "step_$STEP"
  exit 0
fi
case "${1:-}" in
  -h | --help)
    sed -n '2,15p' "$CLAW_SELF"
    exit 0
    ;;
esac
main "$@"
