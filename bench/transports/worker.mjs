// One benchmark process: the server or the client of one contender, driven by the
// orchestrator (../transports.mjs) over the IPC channel.
//
//   server: serve(), then answer { type: 'cpu' } and { type: 'sockets' } until { type: 'exit' }.
//   client: on { type: 'run' }: connect, check one reply, keep `inFlight` calls going;
//           after the warm-up report 'window-start', after the measured window
//           'window-end' with the calls, latencies and CPU; keep the load on until
//           { type: 'stop' }, then wait for the calls in flight, close and report 'stopped'.
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { cpuMicros, fail, send, serveOrchestrator } from '../lib/worker.mjs';
import { CONTENDERS } from './contenders/index.mjs';
import { loopbackViolations } from './sockets.mjs';

const [role, name] = process.argv.slice(2);

serveOrchestrator();

/** The request of a scenario: `{ name }` carrying a string of `size` characters (else "John"). */
function requestOf(size) {
  if (size === 0) return { name: 'John' };
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  // Joined, not built with +=: a string built by appending is a rope that every
  // JSON.stringify would walk again (about 3× the cost of a flat string at 64 KiB).
  const name = Array.from({ length: size }, (_, i) => alphabet[(i * 7 + (i >> 6)) % 62]).join('');
  return { name };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function server(contender) {
  const running = await contender.serve();
  process.on('message', async (message) => {
    if (message.type === 'cpu') {
      await send({ type: 'cpu', cpu: cpuMicros(), at: performance.now() });
    } else if (message.type === 'sockets') {
      await send({ type: 'sockets', violations: loopbackViolations() });
    } else if (message.type === 'exit') {
      await Promise.race([running.close(), new Promise((r) => setTimeout(r, 3000))]).catch(
        () => {},
      );
      process.exit(0);
    }
  });
  await send({ type: 'ready', address: running.address });
}

async function client(contender) {
  const { address, inFlight, size, warmupMs, durationMs } = await new Promise((resolve) =>
    process.once('message', resolve),
  );
  const connection = await contender.connect(address);
  const request = requestOf(size);
  const expected = { msg: `Hello ${request.name}` };
  const first = await connection.call(request);
  if (!isDeepStrictEqual({ ...first }, expected)) {
    throw new Error(`unexpected reply: ${JSON.stringify(first).slice(0, 200)}`);
  }
  const replyLength = expected.msg.length;

  let stop = false;
  let recording = false;
  let calls = 0;
  let latencies = new Float64Array(1 << 18);
  const call = connection.call;
  const loop = async () => {
    while (!stop) {
      const started = performance.now();
      const reply = await call(request);
      if (reply.msg.length !== replyLength) throw new Error('wrong reply');
      if (recording) {
        if (calls === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[calls++] = performance.now() - started;
      }
    }
  };
  const loops = Array.from({ length: inFlight }, loop);
  const failed = Promise.all(loops).then(
    () => undefined,
    (error) => error,
  );
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const raced = async (ms) => {
    const error = await Promise.race([failed, sleep(ms)]);
    if (error !== undefined) throw error;
  };

  await raced(warmupMs);
  recording = true;
  const cpuStart = cpuMicros();
  const start = performance.now();
  await send({ type: 'window-start' });
  await raced(durationMs);
  recording = false;
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuMicros() - cpuStart;
  const measured = calls;
  const sorted = latencies.subarray(0, measured).sort();
  const stopped = new Promise((resolve) => {
    process.once('message', (message) => {
      if (message.type === 'stop') resolve();
    });
  });
  await send({
    type: 'window-end',
    calls: measured,
    seconds,
    p50us: percentile(sorted, 50) * 1000,
    p99us: percentile(sorted, 99) * 1000,
    clientCpuUsPerCall: cpu / measured,
    violations: loopbackViolations(),
  });
  await stopped;
  stop = true;
  await Promise.race([failed, sleep(5000)]);
  await Promise.race([connection.close(), sleep(3000)]).catch(() => {});
  await send({ type: 'stopped' });
  process.exit(0);
}

const load = CONTENDERS[name];
if (!load) await fail(new Error(`unknown contender ${name}`));
const contender = await load();
await (role === 'server' ? server(contender) : client(contender));
