/**
 * The reliability suite (npm run test:reliability): crash matrix, fault matrix, bad-input corpus, secret-leak
 * scan, concurrency. Ends with `reliability: N passed, M failed, K skipped` (scripts/test-all.mjs sums it).
 * OPENCLAWPS_REL_FILTER=<regexp> runs a subset; OPENCLAWPS_REL_CLI=src runs the CLI from source instead of dist/.
 */
import './lib/dist-copy';
import './concurrency';
import './faults';
import './crash';
import './bad-input';
import './secrets';

import { runAll } from './lib/runner';

// a stray rejection (e.g. a dropped SSH session nobody awaited) is logged, not fatal to the whole suite
process.on('unhandledRejection', (e) =>
  console.log(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`),
);

const filter = process.env.OPENCLAWPS_REL_FILTER
  ? new RegExp(process.env.OPENCLAWPS_REL_FILTER, 'i')
  : undefined;
runAll(filter)
  .then((c) => {
    console.log(`reliability: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
    process.exit(c.failed ? 1 : 0);
  })
  .catch((e) => {
    console.error(e);
    console.log('reliability: 0 passed, 1 failed, 0 skipped');
    process.exit(1);
  });
