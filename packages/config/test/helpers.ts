import { formatEnv } from '@openclawps/config';

/** A valid claw `.env` for tests (fake but well-formed values). */
export const VALID_ENV: Record<string, string> = {
  CLAW_NAME: 'alice',
  OPENCLAW_MODEL: 'xai/grok-4.20-0309-reasoning',
  XAI_API_KEY: 'xai-Zq3v9LrT0pWk2sYbN8cHdJf6gAeUm1Xo',
  TELEGRAM_BOT_TOKEN: '7012345678:AAHk3nQv9xZr2LmWp8TcYbFd6JsGe1UoRiA',
  TELEGRAM_USER_ID: '5551234567',
};

export function envText(vars: Record<string, string | undefined>): string {
  return formatEnv(Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined));
}
