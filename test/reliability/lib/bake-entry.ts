// Runs bake() from source in a child process (the crash matrix kills it). `openclawps bake --version x.y.z`
// cannot be used: commander's program-level --version shadows the subcommand's (prints 0.1.0).
// argv[2] = JSON of the BakeOptions fields that are data (azure connection included).
import { createConsoleReporter } from '@openclawps/config';
import { bake, type BakeOptions } from '@openclawps/lifecycle';

const opts = JSON.parse(process.argv[2]) as Omit<BakeOptions, 'reporter'>;
bake({ ...opts, reporter: createConsoleReporter() })
  .then((r) => {
    console.log(`baked ${r.version}: ${r.imageVersionId}`);
  })
  .catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exitCode = 1;
  });
