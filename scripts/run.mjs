#!/usr/bin/env node
// The entry point behind the root npm scripts. It needs only Node and npm: it finds
// (or fetches through npx) the pnpm pinned in package.json, installs, builds, and then
// runs the demo, the tests with the real servers they need, or the benchmarks.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { packageManager } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = packageManager.replace(/^pnpm@/, '');
const ci = Boolean(process.env.CI);

/** Every server the integration tests use; `scripts/services` knows how to run each. */
const SERVICES = ['etcd', 'consul', 'mdns', 'nats', 'rabbitmq', 'kafka'];

function log(message) {
  process.stderr.write(`\n[micro] ${message}\n`);
}

function pnpmCommand() {
  const local = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (local.status === 0 && local.stdout.trim() === pnpmVersion) return ['pnpm'];
  // No matching pnpm on PATH: run the pinned one through npx (cached in ~/.npm).
  return ['npx', '--yes', `pnpm@${pnpmVersion}`];
}

function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', ...options });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

const pnpm = pnpmCommand();
const runPnpm = (args, options) => run(pnpm[0], [...pnpm.slice(1), ...args], options);

async function install() {
  log(`installing dependencies with pnpm ${pnpmVersion}`);
  await runPnpm(['install', ...(ci ? ['--frozen-lockfile'] : []), '--reporter=append-only']);
}

async function build() {
  log('building every package');
  await runPnpm(['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
}

/**
 * Starts the servers in the background (a first run builds Consul for minutes, so
 * it overlaps with install and build) and resolves to the MICRO_TEST_* variables
 * `scripts/services` printed.
 */
function servicesUp() {
  const script = join(root, 'scripts/services');
  if (!existsSync(script)) return Promise.resolve({});
  log(`starting test servers in the background: ${SERVICES.join(', ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, 'up', ...SERVICES], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const env = {};
      for (const line of stdout.split('\n')) {
        const match = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
        if (match) env[match[1]] = match[2].replace(/^'(.*)'$/, '$1');
      }
      if (code !== 0) {
        const message = 'scripts/services up failed; integration tests without their server will skip';
        if (process.env.MICRO_TEST_REQUIRE_SERVICES === '1') {
          reject(new Error(message.replace('will skip', 'fail')));
          return;
        }
        log(message);
      }
      resolve(env);
    });
  });
}

/**
 * The Go toolchain, for the tests that build a Go go-micro peer (MICRO_TEST_GO);
 * looked up as scripts/services looks it up to build Consul.
 */
function goToolchain() {
  for (const go of ['go', '/usr/local/go/bin/go']) {
    if (spawnSync(go, ['version'], { stdio: 'ignore' }).status === 0) return { MICRO_TEST_GO: go };
  }
  log('Go is not installed: the Go interop tests will skip');
  return {};
}

function servicesDown() {
  const script = join(root, 'scripts/services');
  if (!existsSync(script)) return;
  log('stopping test servers');
  spawnSync('bash', [script, 'down'], { cwd: root, stdio: 'inherit' });
}

async function test() {
  const stop = () => {
    servicesDown();
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const servers = servicesUp();
  servers.catch(() => {});
  try {
    await install();
    await build();
    const env = { ...goToolchain(), ...process.env, ...(await servers) };
    log('lint, type-check, unit and integration tests');
    await runPnpm(
      [
        'exec',
        'turbo',
        'run',
        'lint',
        'typecheck',
        'test',
        'test:integration',
        '--concurrency=2',
        '--continue',
        '--output-logs=full',
      ],
      { env },
    );
  } finally {
    await servers.catch(() => {});
    servicesDown();
  }
}

async function demo() {
  await install();
  await build();
  log('running examples/helloworld');
  await runPnpm(['--filter', '@micro/example-helloworld', 'run', 'demo']);
}

async function bench() {
  await install();
  await build();
  await runPnpm(['--filter', '@micro/bench', 'run', 'bench', ...process.argv.slice(3)]);
}

const commands = {
  demo,
  test,
  build: async () => {
    await install();
    await build();
  },
  bench,
  changeset: () => runPnpm(['exec', 'changeset', ...process.argv.slice(3)]),
};

const command = commands[process.argv[2]];
if (!command) {
  console.error(`usage: node scripts/run.mjs ${Object.keys(commands).join('|')}`);
  process.exit(2);
}
command().catch((error) => {
  log(error.message);
  process.exit(1);
});
