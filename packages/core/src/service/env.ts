/**
 * go-micro's `MICRO_*` environment variables, and loading a plugin package by the
 * name one of them gives (`MICRO_REGISTRY=etcd` → `@micro/registry-etcd`).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What the environment configures; every field is optional. */
export interface EnvConfig {
  name?: string;
  version?: string;
  id?: string;
  address?: string;
  advertise?: string;
  metadata?: Record<string, string>;
  registry?: string;
  registryAddress?: string[];
  transport?: string;
  transportAddress?: string[];
  broker?: string;
  brokerAddress?: string[];
  selector?: string;
  requestTimeout?: number;
  retries?: number;
  poolSize?: number;
  poolTtl?: number;
  registerTtl?: number;
  registerInterval?: number;
}

const UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration (`1m30s`, `500ms`, `5s`) into milliseconds; a bare number
 * counts as seconds.
 * @throws TypeError for anything else
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1_000;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    throw new TypeError(`not a duration: "${text}" (examples: 30s, 1m30s, 500ms)`);
  }
  return parts.reduce((total, [, value, unit]) => total + Number(value) * UNITS[unit!]!, 0);
}

function list(value: string | undefined): string[] | undefined {
  const items = value
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  return items && items.length > 0 ? items : undefined;
}

function wholeNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new TypeError(`${name} must be a whole number, got "${value}"`);
  }
  return number;
}

/** A Go duration (`1.5s`, `300ms`) in milliseconds. */
function duration(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  try {
    return parseDuration(value);
  } catch (error) {
    throw new TypeError(`${name}: ${(error as Error).message}`);
  }
}

function seconds(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) {
    throw new TypeError(`${name} must be a number of seconds, got "${value}"`);
  }
  return number * 1_000;
}

/**
 * Reads go-micro's environment variables.
 * @param env the environment
 * @throws TypeError naming the variable when a value is malformed
 */
export function readEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const config: EnvConfig = {};
  const set = <K extends keyof EnvConfig>(key: K, value: EnvConfig[K] | undefined) => {
    if (value !== undefined && value !== '') config[key] = value;
  };
  set('name', env.MICRO_SERVER_NAME);
  set('version', env.MICRO_SERVER_VERSION);
  set('id', env.MICRO_SERVER_ID);
  set('address', env.MICRO_SERVER_ADDRESS);
  set('advertise', env.MICRO_SERVER_ADVERTISE);
  const metadata = list(env.MICRO_SERVER_METADATA);
  if (metadata) {
    config.metadata = Object.fromEntries(
      metadata.map((pair) => {
        const eq = pair.indexOf('=');
        if (eq <= 0)
          throw new TypeError(`MICRO_SERVER_METADATA entries are key=value, got "${pair}"`);
        return [pair.slice(0, eq), pair.slice(eq + 1)];
      }),
    );
  }
  set('registry', env.MICRO_REGISTRY);
  set('registryAddress', list(env.MICRO_REGISTRY_ADDRESS));
  set('transport', env.MICRO_TRANSPORT);
  set('transportAddress', list(env.MICRO_TRANSPORT_ADDRESS));
  set('broker', env.MICRO_BROKER);
  set('brokerAddress', list(env.MICRO_BROKER_ADDRESS));
  set('selector', env.MICRO_SELECTOR);
  set('requestTimeout', duration('MICRO_CLIENT_REQUEST_TIMEOUT', env.MICRO_CLIENT_REQUEST_TIMEOUT));
  set('retries', wholeNumber('MICRO_CLIENT_RETRIES', env.MICRO_CLIENT_RETRIES));
  set('poolSize', wholeNumber('MICRO_CLIENT_POOL_SIZE', env.MICRO_CLIENT_POOL_SIZE));
  set('poolTtl', duration('MICRO_CLIENT_POOL_TTL', env.MICRO_CLIENT_POOL_TTL));
  set('registerTtl', seconds('MICRO_REGISTER_TTL', env.MICRO_REGISTER_TTL));
  set('registerInterval', seconds('MICRO_REGISTER_INTERVAL', env.MICRO_REGISTER_INTERVAL));
  return config;
}

/** The interfaces a plugin can be chosen for by name. */
export type PluginKind = 'registry' | 'transport' | 'broker' | 'selector';

const VARIABLE: Readonly<Record<PluginKind, string>> = {
  registry: 'MICRO_REGISTRY',
  transport: 'MICRO_TRANSPORT',
  broker: 'MICRO_BROKER',
  selector: 'MICRO_SELECTOR',
};

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * Loads `@micro/<kind>-<name>` and calls its factory, the export named
 * `create<Name><Kind>` (matched case-insensitively: `createRabbitMQBroker` for
 * `rabbitmq`). The package is looked up from @micro/core and then from the
 * working directory, so an app's own dependencies are found.
 * @param kind which interface
 * @param name the plugin name, e.g. `etcd`
 * @param options passed to the factory
 * @throws Error saying which package to install when it is not installed
 */
export async function loadPlugin<T>(kind: PluginKind, name: string, options: object): Promise<T> {
  const pkg = `@micro/${kind}-${name}`;
  let module: Record<string, unknown>;
  try {
    module = await import(pkg);
  } catch (error) {
    if (!isMissing(error)) throw error;
    try {
      const path = createRequire(join(process.cwd(), 'index.js')).resolve(pkg);
      module = await import(pathToFileURL(path).href);
    } catch (fromApp) {
      if (!isMissing(fromApp)) throw fromApp;
      throw new Error(
        `${VARIABLE[kind]}=${name} needs the ${pkg} package, which is not installed: run \`pnpm add ${pkg}\` (or npm install ${pkg})`,
        { cause: error },
      );
    }
  }
  const wanted = `create${name}${kind}`.toLowerCase();
  const factory = Object.entries(module).find(
    ([key, value]) => key.toLowerCase() === wanted && typeof value === 'function',
  )?.[1] as ((options: object) => T) | undefined;
  if (!factory) {
    throw new Error(
      `${pkg} has no factory named like create${name}${kind}: is it a ${kind} plugin?`,
    );
  }
  return factory(options);
}
