// npm run demo: two Greeter processes and a client process that find each other
// through mDNS on the loopback interface and talk over TCP. Each process's output
// is shown with its name; the greeters are stopped with SIGTERM at the end, so
// you can see them deregister and drain. The whole run is bounded in time.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const GREETERS = ['greeter-1', 'greeter-2'];
const LIMIT_MS = 60_000;

const colors = [36, 35, 33, 32];
function run(name: string, script: string, color: number, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [join(here, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `\x1b[${color}m${name.padEnd(9)}\x1b[0m | `;
  let ready: () => void;
  const started = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const relay = (stream: NodeJS.ReadableStream, onLine: (line: string) => void) => {
    let buffer = '';
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        onLine(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
      }
    });
  };
  relay(child.stdout!, (line) => {
    if (line.startsWith('ready ')) ready();
    process.stdout.write(`${prefix}${line}\n`);
  });
  relay(child.stderr!, (line) => process.stdout.write(`${prefix}${line}\n`));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, started, exited };
}

const processes: ChildProcess[] = [];
const limit = setTimeout(() => {
  console.error(`demo: not finished after ${LIMIT_MS / 1000} s; stopping everything`);
  for (const child of processes) child.kill('SIGKILL');
  process.exit(1);
}, LIMIT_MS);

const greeters = GREETERS.map((name, i) =>
  run(name, 'greeter-service.js', colors[i]!, { GREETER_INSTANCE: name }),
);
processes.push(...greeters.map((g) => g.child));
await Promise.race([
  Promise.all(greeters.map((g) => g.started)),
  ...greeters.map((g) =>
    g.exited.then((code) => Promise.reject(new Error(`a greeter exited early (${code})`))),
  ),
]);

const client = run('client', 'client.js', colors[3]!, {
  GREETER_INSTANCES: String(GREETERS.length),
});
processes.push(client.child);
const clientCode = await client.exited;

for (const greeter of greeters) greeter.child.kill('SIGTERM');
const codes = await Promise.all(greeters.map((g) => g.exited));
clearTimeout(limit);
console.log(
  `\ndemo: client exited ${clientCode}; greeters stopped gracefully: ${codes.every((c) => c === 0)}`,
);
process.exit(clientCode === 0 && codes.every((c) => c === 0) ? 0 : 1);
