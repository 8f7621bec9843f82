// Entry of the probe child process (see probe.ts).
import { runMain } from './plugin.js';
import { main } from './probe.js';

runMain('probe', main);
