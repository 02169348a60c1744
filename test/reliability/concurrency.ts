/** Two upgrades of one claw at once: exactly one proceeds, the other refuses before any downtime. */
import { createMemoryReporter } from '@openclawps/config';
import { assert, assertEqual, group, test } from './lib/runner';
import { bakeVersion, clawState, orphans, stampClaw, startWorld, upgradeClaw, type World } from './lib/world';

let w: World;

group('concurrency', (g) => {
  g.setup(async () => {
    w = await startWorld({ latencyScale: 0.002 });
    await bakeVersion(w, '1.0.0');
    await bakeVersion(w, '1.1.0');
    await stampClaw(w, 'twin', { imageVersion: '1.0.0' });
  });
  g.teardown(async () => w?.close());

  test('two upgrades of one claw at once: exactly one proceeds', async () => {
    const before = clawState(w, 'twin');
    const ra = createMemoryReporter();
    const rb = createMemoryReporter();
    const results = await Promise.allSettled([
      upgradeClaw(w, 'twin', '1.1.0', { owner: 'run-a', reporter: ra }),
      upgradeClaw(w, 'twin', '1.1.0', { owner: 'run-b', reporter: rb }),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled' && r.value.changed !== false);
    const refused = results.filter((r) => r.status === 'rejected');
    assertEqual(
      ok.length,
      1,
      `upgrades that proceeded (${results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message).slice(0, 200) : 'ok')).join(' | ')})`,
    );
    assertEqual(refused.length, 1, 'upgrades refused');
    const msg = String((refused[0] as PromiseRejectedResult).reason?.message);
    assert(/upgrade|lease|in progress|another|locked|owner/i.test(msg), `the refusal says why: ${msg}`);
    const deletes = w.emu.requests.filter(
      (r) =>
        r.method === 'DELETE' &&
        !r.poll &&
        /\/providers\/microsoft\.compute\/virtualmachines\/twin$/.test(r.path.toLowerCase()),
    );
    assertEqual(deletes.length, 1, 'the VM was deleted (replaced) exactly once');
    const after = clawState(w, 'twin');
    assertEqual(after.version, '1.1.0', 'version');
    assertEqual(after.dataDiskId, before.dataDiskId, 'data disk id');
    assertEqual(orphans(w, 'twin', { snapshotRetention: 2 }), [], 'orphans');
  });
});
