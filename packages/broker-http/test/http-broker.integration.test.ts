// The HTTP broker between real processes that find each other over mDNS (multicast
// on loopback): conformance with one mDNS registry per broker, a subscriber in a
// child process, queue groups across processes, a subscriber killed with SIGKILL,
// and garbage sent to a child's listener.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { encodeEnvelope, isMicroError, type Registry, silentLogger } from '@micro/core';
import { createMdnsRegistry, type MdnsRegistry } from '@micro/registry-mdns';
import {
  brokerConformance,
  describeWithServer,
  randomName,
  rejection,
  waitFor,
  within,
} from '@micro/testing';
import { createHttpBroker, type HttpBroker, SERVICE_NAME } from '../src/index.js';
import { rawRequest } from './helpers.js';

/** Not 5353: tests never talk to real mDNS responders on this host. */
const PORT = Number(process.env.MICRO_TEST_MDNS_PORT ?? 15353);
const DIST = join(__dirname, '..', 'dist', 'index.js');
// A dev dependency, so turbo builds it first; the child imports its build.
const REGISTRY_MDNS = join(__dirname, '..', '..', 'registry-mdns', 'dist', 'index.js');
const FIXTURE = join(__dirname, 'fixtures', 'subscriber.mjs');

const code = (error: unknown) => (isMicroError(error) ? error.code : error);
const body = (text: string) => Buffer.from(text);

interface Child {
  process: ChildProcess;
  id: string;
  address: string;
  received: string[];
  output: string[];
  exited: Promise<number | null>;
}

describeWithServer('HttpBroker over mDNS', ['MICRO_TEST_MDNS_INTERFACE'], (env) => {
  const registries: MdnsRegistry[] = [];
  const mdns = (): Registry => {
    const registry = createMdnsRegistry({
      interface: env.MICRO_TEST_MDNS_INTERFACE,
      port: PORT,
      logger: silentLogger,
    });
    registries.push(registry);
    return registry;
  };

  afterAll(async () => {
    for (const registry of registries) await registry.close();
  });

  // Every broker has a registry of its own, as every process would.
  brokerConformance(
    'http over mdns',
    () => createHttpBroker({ registry: mdns(), logger: silentLogger }),
    {
      redeliversOnError: true,
    },
  );

  describe('between processes', () => {
    const children: Child[] = [];
    const brokers: HttpBroker[] = [];

    afterEach(async () => {
      for (const child of children.splice(0)) {
        if (child.process.exitCode === null && child.process.signalCode === null) {
          child.process.kill('SIGKILL');
        }
        await child.exited;
      }
      for (const broker of brokers.splice(0)) await broker.disconnect();
    });

    /** A publisher in this process, with a registry of its own. */
    const publisher = async () => {
      const broker = createHttpBroker({ registry: mdns(), logger: silentLogger });
      brokers.push(broker);
      await broker.connect();
      return broker;
    };

    /** Starts a subscriber process; resolves once it has subscribed. */
    const startChild = (topic: string, extra: Record<string, string> = {}): Promise<Child> => {
      for (const file of [DIST, REGISTRY_MDNS]) {
        if (!existsSync(file)) {
          throw new Error(`${file} is missing: run \`pnpm run build\` in its package first`);
        }
      }
      const process_ = spawn(process.execPath, [FIXTURE], {
        env: {
          ...process.env,
          REGISTRY_MDNS,
          MDNS_INTERFACE: env.MICRO_TEST_MDNS_INTERFACE,
          MDNS_PORT: String(PORT),
          TOPIC: topic,
          ...extra,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output: string[] = [];
      const received: string[] = [];
      const exited = new Promise<number | null>((resolve) => process_.once('exit', resolve));
      process_.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      const ready = new Promise<Child>((resolve, reject) => {
        createInterface({ input: process_.stdout! }).on('line', (line) => {
          output.push(line);
          const message = JSON.parse(line) as {
            ready?: { id: string; address: string };
            got?: string;
          };
          if (message.got !== undefined) received.push(message.got);
          if (message.ready) {
            const child = { process: process_, ...message.ready, received, output, exited };
            children.push(child);
            resolve(child);
          }
        });
        void exited.then((exitCode) =>
          reject(new Error(`subscriber exited (${exitCode}): ${output.join('')}`)),
        );
      });
      return within(ready, 15_000, 'the subscriber process to subscribe');
    };

    /** Waits until the publisher's registry lists the child's subscription. */
    const visible = (registry: Registry, child: Child) =>
      waitFor(
        `subscription ${child.id} in the registry`,
        async () =>
          (await registry.getService(SERVICE_NAME)).some((s) =>
            s.nodes.some((n) => n.id === child.id),
          ),
        { timeout: 10_000, interval: 100 },
      );

    it('delivers what this process publishes to a subscriber in another process', async () => {
      const topic = randomName('topic');
      const child = await startChild(topic);
      const broker = await publisher();
      for (let i = 0; i < 5; i++) await broker.publish(topic, { header: {}, body: body(`m${i}`) });
      await waitFor('5 messages in the child', () => child.received.length === 5);
      expect(child.received).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    }, 30_000);

    it('gives each message to exactly one of two subscriber processes of a queue', async () => {
      const topic = randomName('topic');
      const queue = randomName('queue');
      const [one, two] = await Promise.all([
        startChild(topic, { QUEUE: queue }),
        startChild(topic, { QUEUE: queue }),
      ]);
      const broker = await publisher();
      const count = 30;
      for (let i = 0; i < count; i++)
        await broker.publish(topic, { header: {}, body: body(`q${i}`) });
      await waitFor('every message', () => one.received.length + two.received.length >= count);
      const all = [...one.received, ...two.received].sort();
      expect(all).toEqual(Array.from({ length: count }, (_, i) => `q${i}`).sort());
      expect(one.received.length).toBeGreaterThan(0);
      expect(two.received.length).toBeGreaterThan(0);
    }, 30_000);

    it('sends a queue to the surviving member after the other is killed with SIGKILL', async () => {
      const topic = randomName('topic');
      const queue = randomName('queue');
      const [victim, survivor] = await Promise.all([
        startChild(topic, { QUEUE: queue }),
        startChild(topic, { QUEUE: queue }),
      ]);
      const broker = await publisher();
      await broker.publish(topic, { header: {}, body: body('warm-up') });
      victim.process.kill('SIGKILL');
      await within(victim.exited, 5_000, 'the victim to die');
      const before = survivor.received.length;
      for (let i = 0; i < 10; i++) {
        await within(broker.publish(topic, { header: {}, body: body(`s${i}`) }), 3_000, 'publish');
      }
      await waitFor('10 messages at the survivor', () => survivor.received.length === before + 10);
      expect(survivor.received.slice(before)).toEqual(
        Array.from({ length: 10 }, (_, i) => `s${i}`),
      );
    }, 30_000);

    it('answers 503 at once, publish after publish, for a topic whose only subscriber was killed', async () => {
      const topic = randomName('topic');
      const child = await startChild(topic);
      const broker = await publisher();
      await broker.publish(topic, { header: {}, body: body('alive') });
      await waitFor('the first message', () => child.received.length === 1);
      child.process.kill('SIGKILL');
      await within(child.exited, 5_000, 'the subscriber to die');
      // No goodbye was sent: the record stays until mDNS expires it (120 s), and
      // every publish until then fails fast instead of hanging or succeeding silently.
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const error = await rejection(
          within(broker.publish(topic, { header: {}, body: body('x') }), 5_000, 'publish'),
        );
        expect(code(error)).toBe(503);
        expect((error as Error).message).toContain(child.id);
        expect(Date.now() - started).toBeLessThan(2_000);
      }
    }, 30_000);

    it('refuses oversized, malformed and wrong-method requests and keeps serving', async () => {
      const topic = randomName('topic');
      const child = await startChild(topic, { MAX_MESSAGE_SIZE: '65536' });
      const path = `/?id=${encodeURIComponent(child.id)}`;
      const big = Buffer.from(
        encodeEnvelope({ header: { 'Micro-Topic': topic }, body: Buffer.alloc(100_000) }),
      );
      expect((await rawRequest(child.address, { path, body: big })).status).toBe(413);
      expect((await rawRequest(child.address, { path, body: '{"Header":' })).status).toBe(400);
      expect((await rawRequest(child.address, { path, method: 'GET' })).status).toBe(405);
      expect((await rawRequest(child.address, { path: '/?id=nobody', body: '{}' })).status).toBe(
        400,
      );
      const good = Buffer.from(
        encodeEnvelope({ header: { 'Micro-Topic': topic }, body: body('after garbage') }),
      );
      expect((await rawRequest(child.address, { path, body: good })).status).toBe(202);
      const broker = await publisher();
      await broker.publish(topic, { header: {}, body: body('published') });
      await waitFor('both messages', () => child.received.length === 2);
      expect(child.received).toEqual(['after garbage', 'published']);
      expect(child.process.exitCode).toBeNull();
    }, 30_000);

    it('deregisters on SIGTERM, after which publishing has nobody to deliver to', async () => {
      const topic = randomName('topic');
      const child = await startChild(topic);
      const broker = await publisher();
      const registry = mdns();
      await visible(registry, child);
      child.process.kill('SIGTERM');
      expect(await within(child.exited, 10_000, 'the subscriber to stop')).toBe(0);
      await waitFor(
        'publish to find no subscriber',
        async () => {
          await broker.publish(topic, { header: {}, body: body('x') });
          return true;
        },
        { timeout: 10_000, interval: 100 },
      );
    }, 30_000);
  });
});
