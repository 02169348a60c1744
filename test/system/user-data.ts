/**
 * The per-claw custom data for the booted test: a claw spec read from a `.env` text exactly as a
 * user's file is (@openclawps/config), rendered by the product's slim cloud-init template
 * (@openclawps/templates renderSlimCloudInit). Fake secrets only (there is no network to use them).
 */
import { randomBytes } from 'node:crypto';
import { formatEnv, loadSpec, type ClawSpec } from '@openclawps/config';
import { renderSlimCloudInit } from '@openclawps/templates';

export interface TestClaw {
  spec: ClawSpec;
  claw: string;
  adminUser: string;
  userData: string;
  /** Secret values to mask from logs. */
  secrets: string[];
}

export function testClaw(claw = 'alice', adminUser = 'azureuser'): TestClaw {
  const env: [string, string][] = [
    ['CLAW_NAME', claw],
    ['ADMIN_USER', adminUser],
    ['PROFILE', 'minimal'],
    ['OPENCLAW_MODEL', 'xai/grok-4'],
    ['XAI_API_KEY', `xai-${randomBytes(16).toString('hex')}`],
    ['TELEGRAM_BOT_TOKEN', `7012345678:AA${randomBytes(16).toString('hex')}`],
    ['TELEGRAM_USER_ID', '5551234567'],
  ];
  const spec = loadSpec(formatEnv(env), { file: 'system-test.env' });
  return {
    spec,
    claw,
    adminUser,
    userData: renderSlimCloudInit(spec, { distro: 'debian' }),
    secrets: env.filter(([k]) => /KEY|TOKEN/.test(k)).map(([, v]) => v),
  };
}
