// The processes of a benchmark: Node processes with an IPC channel, pinned to a CPU
// with taskset or not, under node --cpu-prof or not. An orchestrator's workers (see
// ./worker.mjs for their side) are all stopped on the way out, on failure and on
// Ctrl-C too.
import { fork, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

let tasksetRuns;

/** Whether taskset (util-linux) runs here, so that a process can be pinned to a CPU. */
export function canPin() {
  tasksetRuns ??= spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  return tasksetRuns;
}

/**
 * Runs `script` in a new Node process with an IPC channel.
 * @param options.cpu the CPU to pin it to (needs taskset); anywhere when undefined
 * @param options.execArgv Node's own flags
 * @param options.stdio and the other options are child_process's
 * @returns the ChildProcess
 */
export function launch(script, args, { cpu, execArgv = [], ...options }) {
  if (cpu === undefined) return fork(script, args, { ...options, execArgv });
  // taskset execs node in place, so the IPC channel and the environment carry over.
  return spawn(
    'taskset',
    ['-c', String(cpu), process.execPath, ...execArgv, script, ...args],
    options,
  );
}

/**
 * The folder of `--profile DIR`, absolute and created.
 * @returns undefined without the option
 */
export function profileFolder(text) {
  if (!text) return undefined;
  const folder = resolve(text);
  mkdirSync(folder, { recursive: true });
  return folder;
}

/** Says where the CPU profiles went, if anywhere. */
export function printProfileFolder(folder) {
  if (folder) console.log(`CPU profiles (open in Chrome DevTools or speedscope): ${folder}`);
}

/** Every worker alive, so that any way out stops them. */
const workers = new Set();

function killAll() {
  for (const child of workers) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

let killsOnExit = false;

function killAllOnExit() {
  if (killsOnExit) return;
  killsOnExit = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping every benchmark process\n`);
      killAll();
      process.exit(130);
    });
  }
}

/**
 * Starts a worker and returns helpers to exchange messages with it. Its output is
 * kept (the last 4 KiB) for error messages.
 * @param options.who the worker in error messages, e.g. "server of raw"
 * @param options.cpu the CPU to pin it to; anywhere when undefined
 * @param options.profile `{ dir, name }` to run it under node --cpu-prof
 * @param options.exitWithinMs how long `stop()` waits for it to exit before killing it
 */
export function startWorker(script, args, { who, cpu, profile, exitWithinMs = 5_000 }) {
  killAllOnExit();
  const execArgv = profile
    ? ['--cpu-prof', `--cpu-prof-dir=${profile.dir}`, `--cpu-prof-name=${profile.name}`]
    : [];
  const child = launch(script, args, {
    cpu,
    execArgv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  workers.add(child);
  // EPIPE on the IPC channel of a child that is exiting: its exit is handled below.
  child.on('error', () => {});
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-4096);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const tail = () => (output.trim() ? `; its output ended with:\n${output.trim()}` : '');
  const inbox = [];
  let waiter;
  let exited;
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      workers.delete(child);
      exited = signal ?? code;
      resolve();
      waiter?.(new Error(`${who} exited (${exited})${tail()}`));
    });
  });
  child.on('message', (message) => {
    const item =
      message.type === 'error' ? new Error(`${who} failed: ${message.message}`) : message;
    if (waiter) waiter(item);
    else inbox.push(item);
  });
  return {
    send(message) {
      if (child.connected) child.send(message);
    },
    /** The next message, which must be of `type`, within `ms`. */
    next(type, ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(new Error(`${who}: no '${type}' within ${ms} ms${tail()}`));
        }, ms);
        const settle = (item) => {
          clearTimeout(timer);
          waiter = undefined;
          if (item instanceof Error) reject(item);
          else if (item.type !== type) {
            reject(new Error(`${who}: expected '${type}', got '${item.type}'`));
          } else resolve(item);
        };
        if (inbox.length > 0) settle(inbox.shift());
        else if (exited !== undefined) {
          clearTimeout(timer);
          reject(new Error(`${who} exited (${exited})${tail()}`));
        } else waiter = settle;
      });
    },
    /** Sends `{ type }` and waits for the answer of the same type. */
    request(type, ms = 10_000) {
      this.send({ type });
      return this.next(type, ms);
    },
    /** Asks the worker to exit, then kills it if it has not within `exitWithinMs`. */
    async stop() {
      if (exited !== undefined) return;
      this.send({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), exitWithinMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
