// The CLI from source (when no built dist/ is wanted): same code as dist/cli/index.js.
import { main } from '../../../packages/cli/src/main';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
