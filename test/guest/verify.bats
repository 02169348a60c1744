#!/usr/bin/env bats
# verify against a healthy sandbox claw and against broken ones (one per check group).
load helpers

setup() {
  make_sandbox desktop
  run "$R/opt/claw/boot.sh"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  D="$R/mnt/claw-data"
}
teardown() { rm -rf "$R"; }

# verify must fail (exit 1, healthy false) with check $1 failing
expect_fail() {
  verify_json
  [ "$status" -eq 1 ] || { echo "exit $status"; echo "$output" | jq -c '.checks[] | select(.status != "pass")'; false; }
  [ "$(printf '%s' "$output" | jq -r .healthy)" = false ]
  [ "$(status_of "$1")" = fail ] || { echo "$1: $(status_of "$1") $(detail_of "$1")"; false; }
}

@test "healthy sandbox: exit 0, the document shape of the brief, no fail, every skip has a reason" {
  verify_json
  echo "$output" | jq -c '.checks[] | select(.status != "pass")'
  [ "$status" -eq 0 ]
  printf '%s' "$output" | jq -e '
    (keys == ["checks","claw","healthy","summary","version"]) and .version == 1 and .claw == "alice" and .healthy == true
    and (.checks | length >= 33)
    and all(.checks[]; (keys == ["detail","group","id","required","status","title"]) and (.status | IN("pass","fail","warn","skip")) and (.required | type == "boolean"))
    and ([.checks[] | select(.status == "fail")] | length == 0)
    and all(.checks[] | select(.status == "skip"); .detail | length > 0)
    and (.summary | keys == ["fail","pass","skip","warn"])
    and .summary.pass == ([.checks[] | select(.status == "pass")] | length)
    and ([.checks[].id] | length == (unique | length))'
  for g in disk links config secrets values services display vnc gateway binaries boot; do
    printf '%s' "$output" | jq -e --arg g "$g" 'any(.checks[]; .group == $g)' >/dev/null || { echo "no group $g"; false; }
  done
  [ "$(status_of disk.mounted)" = pass ]
  [ "$(status_of links.workspace)" = pass ]
  [ "$(status_of secrets.provider-key)" = pass ]
  [ "$(status_of boot.migrations-current)" = pass ]
  [[ "$(detail_of gateway.readyz)" == sandbox:* ]]
  [[ "$(detail_of display.x0)" == sandbox:* ]]
}

@test "--text prints one line per check and a summary" {
  run "$R/opt/claw/verify" --text
  [ "$status" -eq 0 ]
  [[ "$output" == *"[PASS]"*"disk.mounted"* ]]
  [[ "$output" == *"=== alice: healthy:"*"passed"* ]]
}

@test "disk group: marker missing -> disk.initialized fails" {
  rm "$D/.claw-initialized"
  expect_fail disk.initialized
}

@test "disk group: data disk gone -> disk.mounted fails" {
  rm "$R/mnt/claw-data"
  expect_fail disk.mounted
}

@test "links group: ~/workspace not the disk's -> links.workspace fails" {
  rm "$R/home/azureuser/workspace"
  mkdir "$R/home/azureuser/workspace"
  expect_fail links.workspace
}

@test "config group: openclaw.json corrupt -> config.openclaw-json-parses fails" {
  echo '{ "gateway": ' >"$D/openclaw/openclaw.json"
  expect_fail config.openclaw-json-parses
}

@test "config group: a legacy exec-approvals.json in the state dir fails config.exec-approvals" {
  echo '{"version":1}' >"$D/openclaw/exec-approvals.json"
  expect_fail config.exec-approvals
}

@test "config group: .env readable by others fails config.env" {
  chmod 644 "$D/openclaw/.env"
  expect_fail config.env
}

@test "secrets group: placeholder provider key fails secrets.provider-key, value never printed" {
  sed -i "s/^ANTHROPIC_API_KEY=.*/ANTHROPIC_API_KEY=your-anthropic-key-here/" "$D/openclaw/.env"
  expect_fail secrets.provider-key
  [[ "$(detail_of secrets.provider-key)" == *"ANTHROPIC_API_KEY"* ]]
  [[ "$output" != *"sk-ant-test"* ]]
}

@test "secrets group: the provider key follows the model (openai with OPENAI_API_KEY passes, xai without XAI fails)" {
  jq '.agents.defaults.model.primary = "openai/gpt-5.5"' "$D/openclaw/openclaw.json" >"$R/x" && mv "$R/x" "$D/openclaw/openclaw.json"
  echo "OPENAI_API_KEY='sk-proj-test-123'" >>"$D/openclaw/.env"
  verify_json
  [ "$(status_of secrets.provider-key)" = pass ]
  [[ "$(detail_of secrets.provider-key)" == *"OPENAI_API_KEY is set"* ]]
  jq '.agents.defaults.model.primary = "xai/grok-4.7"' "$D/openclaw/openclaw.json" >"$R/x" && mv "$R/x" "$D/openclaw/openclaw.json"
  expect_fail secrets.provider-key
  [[ "$(detail_of secrets.provider-key)" == *XAI_API_KEY* ]]
}

@test "secrets group: malformed Telegram token fails secrets.telegram-token" {
  sed -i "s/^TELEGRAM_BOT_TOKEN=.*/TELEGRAM_BOT_TOKEN=123:short/" "$D/openclaw/.env"
  expect_fail secrets.telegram-token
}

@test "secrets group: a newer delivered claw.env not yet synced fails secrets.synced" {
  echo "EXTRA=1" >>"$R/etc/claw/claw.env"
  touch -d '2030-01-01' "$R/etc/claw/claw.env"
  expect_fail secrets.synced
}

@test "values group: workspace off the disk fails values.workspace; open DMs warn" {
  jq '.agents.defaults.workspace = "/home/azureuser/.openclaw/workspace" | .channels.telegram.dmPolicy = "open" | .channels.telegram.allowFrom = ["*"]' \
    "$D/openclaw/openclaw.json" >"$R/x" && mv "$R/x" "$D/openclaw/openclaw.json"
  expect_fail values.workspace
  [ "$(status_of values.dm-policy)" = warn ]
}

@test "values group: gateway bound to lan fails values.gateway" {
  jq '.gateway.bind = "lan"' "$D/openclaw/openclaw.json" >"$R/x" && mv "$R/x" "$D/openclaw/openclaw.json"
  expect_fail values.gateway
}

@test "services group: gateway not active fails services.openclaw-gateway; sidecar down only warns" {
  echo failed >"$FAKE_SYSTEMD_DIR/openclaw-gateway.service.state"
  echo inactive >"$FAKE_SYSTEMD_DIR/claude-sidecar.service.state"
  expect_fail services.openclaw-gateway
  [ "$(status_of services.claude-sidecar)" = warn ]
}

@test "vnc group: /etc/x11vnc.pass out of sync fails vnc.password" {
  echo somethingelse >"$R/etc/x11vnc.pass"
  expect_fail vnc.password
}

@test "boot group: boot.sh not executable, pending migration, failed last run" {
  chmod -x "$R/opt/claw/boot.sh"
  expect_fail boot.boot
  chmod +x "$R/opt/claw/boot.sh"
  printf '#!/bin/bash\nexit 0\n' >"$R/opt/claw/updates/003-new.sh"
  expect_fail boot.migrations-current
  [[ "$(detail_of boot.migrations-current)" == *003-new* ]]
  rm "$R/opt/claw/updates/003-new.sh"
  sed -i 's/^result=ok/result=failed/; s/^failed=.*/failed=migrations/' "$R/var/lib/claw/last-boot"
  expect_fail boot.last-run
  [[ "$(detail_of boot.last-run)" == *migrations* ]]
}

@test "boot group: checksum drift only warns" {
  echo '# edited' >>"$R/opt/claw/updates/002-workspace-dirs.sh"
  verify_json
  [ "$status" -eq 0 ]
  [ "$(status_of boot.migrations-current)" = warn ]
}

@test "minimal profile: desktop checks skip and say why" {
  rm -rf "$R"; make_sandbox minimal
  "$R/opt/claw/boot.sh" 2>/dev/null
  verify_json
  [ "$status" -eq 0 ]
  for id in services.lightdm services.x11vnc display.x0 display.session vnc.listening vnc.rfb vnc.password binaries.x11vnc; do
    [ "$(status_of "$id")" = skip ] || { echo "$id $(status_of "$id")"; false; }
    [[ "$(detail_of "$id")" == "minimal profile image"* ]] || { echo "$id $(detail_of "$id")"; false; }
  done
}

@test "desktop outside the sandbox with no display: the real checks run and fail, each saying what is missing" {
  unset CLAW_SANDBOX
  ss -Hltn 'sport = :5900' | grep -q . && skip "something listens on 5900 on this host"
  verify_json
  [ "$status" -eq 1 ]
  [ "$(status_of display.x0)" = fail ]
  [ "$(status_of display.session)" = fail ]
  [[ "$(detail_of display.session)" == "no xfce4-session for "* ]]
  [ "$(status_of vnc.rfb)" = fail ]
  [[ "$(detail_of vnc.rfb)" == "no RFB greeting on 127.0.0.1:5900"* ]]
}
