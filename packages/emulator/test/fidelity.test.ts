/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Fidelity replay of real recorded Azure sessions (../shared/fixtures/azure-recordings, read in place,
 * never copied into the repo): each recorded request is sent to the emulator (host and subscription
 * rewritten, recorded async-operation URLs mapped to the emulator's), and the status code, the presence
 * of the LRO headers and the key structure of the body are compared with the recorded response.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '@openclawps/emulator';
import { raw } from './clients';

const DIR = join(__dirname, '../../../../shared/fixtures/azure-recordings/js');
const FILES = [
  'recording_virtualmachines_create_test.json',
  'recording_virtualmachines_get_test.json',
  'recording_virtualmachines_update_test.json',
  'recording_virtualmachines_delete_test.json',
];
const present = existsSync(DIR) && FILES.every((f) => existsSync(join(DIR, f)));
if (!present) console.warn(`SKIP fidelity replay: recordings not found at ${DIR} (../shared is absent)`);
const describeIf = present ? describe : describe.skip;

/**
 * Recorded keys the emulator does not produce, with the reason. The test fails when a new mismatch
 * appears, and also when one of these disappears (so the list stays honest).
 */
const KNOWN_MISSING: Record<string, string> = {};

function keyPaths(v: any, prefix = ''): string[] {
  if (Array.isArray(v)) return v.length ? keyPaths(v[0], `${prefix}[]`) : [];
  if (v && typeof v === 'object') {
    return Object.keys(v).flatMap((k) => [`${prefix}.${k}`, ...keyPaths(v[k], `${prefix}.${k}`)]);
  }
  return [];
}

const header = (h: Record<string, any>, name: string) =>
  Object.keys(h).some((k) => k.toLowerCase() === name.toLowerCase());

describeIf('fidelity replay of recorded Azure sessions', () => {
  let emu: Emulator;
  const opMap = new Map<string, string>(); // recorded op URL (path) -> emulator URL
  const mismatches: string[] = [];
  beforeAll(async () => {
    emu = await startEmulator({ latencyScale: 0 });
    await raw(
      emu,
      'PUT',
      `/subscriptions/${emu.subscriptionId}/resourcegroups/myjstest?api-version=2025-04-01`,
      { location: 'eastus' },
    );
  });
  afterAll(() => emu.close());

  const rewrite = (s: string) => s.replace(/azure_subscription_id/g, emu.subscriptionId);

  for (const file of FILES) {
    it(`replays ${file}`, async () => {
      const rec = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
      for (const [i, e] of rec.Entries.entries()) {
        const u = new URL(e.RequestUri);
        const where = `${file}#${i} ${e.RequestMethod} ${u.pathname.replace(/.*\/providers\//, '')}`;
        let target = rewrite(u.pathname + u.search);
        const isPoll = /\/(operations|DiskOperations)\//i.test(u.pathname);
        if (isPoll) {
          const mapped = opMap.get(u.pathname.toLowerCase());
          if (!mapped) {
            mismatches.push(`${where}: no emulator operation mapped for this poll`);
            continue;
          }
          target = mapped;
        }
        if (isPoll) await emu.world.idle();
        const body = e.RequestBody ? JSON.parse(rewrite(JSON.stringify(e.RequestBody))) : undefined;
        const got = await raw(emu, e.RequestMethod, target, body);
        if (got.status !== e.StatusCode)
          mismatches.push(
            `${where}: status ${got.status}, recorded ${e.StatusCode} ${got.text.slice(0, 200)}`,
          );
        for (const h of ['Azure-AsyncOperation', 'Location']) {
          if (header(e.ResponseHeaders, h) !== header(got.headers, h)) {
            mismatches.push(
              `${where}: header ${h} ${header(got.headers, h) ? 'present' : 'absent'}, recorded ${header(e.ResponseHeaders, h) ? 'present' : 'absent'}`,
            );
          }
        }
        if (
          !isPoll &&
          e.RequestMethod !== 'GET' &&
          header(e.ResponseHeaders, 'Retry-After') !== header(got.headers, 'Retry-After')
        ) {
          mismatches.push(
            `${where}: header Retry-After ${header(got.headers, 'Retry-After') ? 'present' : 'absent'} on the initial response`,
          );
        }
        for (const h of ['x-ms-request-id', 'x-ms-correlation-request-id'])
          if (!header(got.headers, h)) mismatches.push(`${where}: no ${h}`);
        const recAo = Object.entries(e.ResponseHeaders).find(
          ([k]) => k.toLowerCase() === 'azure-asyncoperation',
        )?.[1] as string | undefined;
        if (recAo && got.headers['azure-asyncoperation'])
          opMap.set(new URL(recAo).pathname.toLowerCase(), got.headers['azure-asyncoperation']);
        if (e.ResponseBody && typeof e.ResponseBody === 'object') {
          const ours = new Set(keyPaths(got.body));
          const recordedInProgress = e.ResponseBody.status === 'InProgress';
          for (const k of keyPaths(e.ResponseBody)) {
            if (ours.has(k)) continue;
            // tags on the recorded VMs were added by the recording subscription's Azure Policy (azsecpack)
            if (k === '.tags' || k.startsWith('.tags.')) continue;
            if (recordedInProgress && k === '.endTime') continue;
            mismatches.push(`${where}: body lacks ${k}`);
          }
          for (const k of ['provisioningState']) {
            const want = e.ResponseBody.properties?.[k];
            if (want !== undefined && got.body?.properties?.[k] !== want && !isPoll) {
              mismatches.push(`${where}: properties.${k} ${got.body?.properties?.[k]}, recorded ${want}`);
            }
          }
          if (isPoll && got.body?.status !== 'Succeeded' && e.ResponseBody.status === 'Succeeded')
            mismatches.push(`${where}: status ${got.body?.status}`);
        }
      }
    });
  }

  it('has no mismatches beyond the documented ones', () => {
    const unknown = mismatches.filter((m) => !Object.keys(KNOWN_MISSING).some((k) => m.includes(k)));
    if (mismatches.length) console.log(`fidelity mismatches:\n${mismatches.join('\n')}`);
    expect(unknown).toEqual([]);
    for (const k of Object.keys(KNOWN_MISSING)) expect(mismatches.some((m) => m.includes(k))).toBe(true);
  });
});
