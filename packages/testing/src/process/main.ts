// Entry of the probe child process (see probe.ts).
import { main } from './probe.js';

main().catch((error: unknown) => {
  process.stderr.write(`probe failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
