#!/usr/bin/env bats
# bake's scrub and secret scan, in a sandbox root (no root needed).
load helpers

setup() {
  make_root desktop azureuser
  export CLAW_SANDBOX=1
  mkdir -p "$R/etc/ssh" "$R/var/lib/cloud/instances/i-1" "$R/home/azureuser/.openclaw" "$R/usr/lib/node_modules/pkg"
  echo key >"$R/etc/ssh/ssh_host_ed25519_key"
  echo 'user-data with 123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr' >"$R/var/lib/cloud/instances/i-1/user-data.txt"
  echo 'TELEGRAM_BOT_TOKEN=x' >"$R/home/azureuser/.openclaw/.env"
  echo history >"$R/home/azureuser/.bash_history"
  echo hash >"$R/etc/x11vnc.pass"
  echo 'log line' >"$R/var/log/syslog"
  echo tmp >"$R/tmp/file"
}

teardown() { rm -rf "$R"; }

@test "scrub removes per-claw files, secrets, host keys, cloud-init state, history, VNC hash, logs and temp files" {
  run "$R/opt/claw/scrub"
  [ "$status" -eq 0 ]
  [ ! -e "$R/etc/claw" ]
  [ ! -e "$R/etc/ssh/ssh_host_ed25519_key" ]
  [ ! -e "$R/var/lib/cloud/instances" ]
  [ ! -e "$R/home/azureuser/.openclaw/.env" ]
  [ ! -e "$R/home/azureuser/.bash_history" ]
  [ ! -e "$R/etc/x11vnc.pass" ]
  [ ! -s "$R/var/log/syslog" ]
  [ ! -e "$R/tmp/file" ]
  [ -x "$R/opt/claw/boot.sh" ]
}

@test "secret scan refuses a root holding a configured value or a token shape, and names only paths" {
  run bash -c "printf 'sk-ant-test-0000000000000000\n' | '$R/opt/claw/secret-scan' '$R'"
  [ "$status" -eq 1 ]
  echo "$output" | jq -e '.clean == false' >/dev/null
  echo "$output" | jq -e '[.findings[].kind] | index("configured-secret-value") != null' >/dev/null
  echo "$output" | jq -e '[.findings[].kind] | index("telegram-bot-token") != null' >/dev/null
  [[ "$output" != *"sk-ant-test-0000000000000000"* ]]
  [[ "$output" != *"AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr"* ]]
}

@test "after the scrub the same root scans clean, and example keys inside node_modules are not flagged" {
  echo 'example: sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' >"$R/usr/lib/node_modules/pkg/README.md"
  "$R/opt/claw/scrub"
  run bash -c "printf 'sk-ant-test-0000000000000000\n' | '$R/opt/claw/secret-scan' '$R'"
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.clean == true and .scanned > 10' >/dev/null
}

@test "key markers in the distribution's Python libraries and docs are not flagged, a real key elsewhere is" {
  "$R/opt/claw/scrub"
  mkdir -p "$R/usr/lib/python3/dist-packages/cloudinit/config" "$R/usr/share/doc/cloud-init/examples" "$R/root"
  echo 'KEY_BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----"' >"$R/usr/lib/python3/dist-packages/cloudinit/config/cc_ssh.py"
  echo '-----BEGIN RSA PRIVATE KEY-----' >"$R/usr/share/doc/cloud-init/examples/cloud-config-ssh-keys.txt"
  run "$R/opt/claw/secret-scan" "$R"
  [ "$status" -eq 0 ]
  echo '-----BEGIN OPENSSH PRIVATE KEY-----' >"$R/root/id_left_behind"
  run "$R/opt/claw/secret-scan" "$R"
  [ "$status" -eq 1 ]
  echo "$output" | jq -e '[.findings[].path] == ["'"$R"'/root/id_left_behind"]' >/dev/null
}

@test "a configured value inside node_modules is still found" {
  "$R/opt/claw/scrub"
  echo 'leaked sk-ant-test-0000000000000000' >"$R/usr/lib/node_modules/pkg/cache.json"
  run bash -c "printf 'sk-ant-test-0000000000000000\n' | '$R/opt/claw/secret-scan' '$R'"
  [ "$status" -eq 1 ]
  echo "$output" | jq -e '.findings[0].path | endswith("node_modules/pkg/cache.json")' >/dev/null
}

@test "deprovision in the sandbox removes the builder user's home" {
  run "$R/opt/claw/scrub" --deprovision azureuser
  [ "$status" -eq 0 ]
  [ ! -e "$R/home/azureuser" ]
}
