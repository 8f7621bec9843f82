/**
 * ConsulRegistry against a real Consul agent (`scripts/services up consul`): the
 * registry conformance suite, the exact agent-service layout go-micro writes, and
 * reading records in the bytes a Go service writes.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { decodeZlibHex, type Service, silentLogger } from '@micro/core';
import { describeWithServer, randomName, registryConformance, waitFor } from '@micro/testing';
import Consul from 'consul';
import { createConsulRegistry } from '../src/index.js';

interface AgentService {
  ID: string;
  Service: string;
  Tags: string[];
  Meta: Record<string, string>;
  Address: string;
  Port: number;
}

interface AgentCheck {
  CheckID: string;
  ServiceID: string;
  Type: string;
  Status: string;
}

/** A pass-through proxy in front of Consul that records the JSON bodies it forwards. */
async function recordingProxy(target: string) {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    target.slice(target.lastIndexOf(':') + 1),
  ];
  const bodies: { path: string; body: unknown }[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (body.length > 0) bodies.push({ path: req.url ?? '', body: JSON.parse(body.toString()) });
    const upstream = http.request(
      { host, port: Number(port), path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const goFixtures = JSON.parse(
  readFileSync(join(__dirname, 'fixtures/go-encoding.json'), 'utf8'),
) as Record<'versions' | 'metadata' | 'endpoints', { input: string; json?: string; tag: string }[]>;

describeWithServer(
  'ConsulRegistry against a real Consul agent',
  ['MICRO_TEST_CONSUL_ADDRESS'],
  ({ MICRO_TEST_CONSUL_ADDRESS: address }) => {
    const [host, port] = [
      address.slice(0, address.lastIndexOf(':')),
      Number(address.slice(address.lastIndexOf(':') + 1)),
    ];
    const plain = new Consul({ host, port });

    afterAll(() => plain.destroy());

    // Consul runs TTL checks on Go timers to the millisecond; 1 s is the shortest
    // this suite relies on.
    registryConformance(
      'consul',
      () => createConsulRegistry({ address, logger: silentLogger, watchWait: 10_000 }),
      {
        ttl: true,
        minTtl: 1_000,
        serviceMetadata: false,
        process: {
          module: join(__dirname, '../dist/index.js'),
          factory: 'createConsulRegistry',
          options: { address, watchWait: 10_000 },
        },
      },
    );

    describe("go-micro's layout in the agent", () => {
      it('registers the agent service and TTL check exactly as go-micro does', async () => {
        const proxy = await recordingProxy(address);
        const registry = createConsulRegistry({ address: proxy.address, logger: silentLogger });
        const name = randomName('layout');
        const svc: Service = {
          name,
          version: '1.0.0',
          metadata: { ignored: 'service-level metadata is not stored, as in go-micro' },
          endpoints: [
            {
              name: 'Greeter.Hello',
              request: {
                name: 'Request',
                type: 'Request',
                values: [{ name: 'name', type: 'string' }],
              },
              response: {
                name: 'Response',
                type: 'Response',
                values: [{ name: 'msg', type: 'string' }],
              },
              metadata: { stream: 'false', description: 'says <hello>' },
            },
          ],
          nodes: [
            {
              id: `${name}-1`,
              address: '10.1.2.3:41234',
              metadata: { protocol: 'mucp', registry: 'consul', 'not.a.meta.key': 'kept in tags' },
            },
          ],
        };
        try {
          await registry.register(svc, { ttl: 90_000 });

          const services = (await plain.agent.service.list()) as Record<string, AgentService>;
          const agentService = services[`${name}-1`]!;
          expect(agentService).toMatchObject({
            ID: `${name}-1`,
            Service: name,
            Address: '10.1.2.3',
            Port: 41234,
            Meta: { protocol: 'mucp', registry: 'consul' },
          });
          // Tags: one t- per metadata key, e- per endpoint, then v-; the JSON inside
          // each is byte for byte what Go's encoding/json writes.
          const tags = agentService.Tags;
          expect(tags.map((t) => t.slice(0, 2))).toEqual(['t-', 't-', 't-', 'e-', 'v-']);
          expect(tags.map((t) => decodeZlibHex(t.slice(2)))).toEqual([
            '{"not.a.meta.key":"kept in tags"}',
            '{"protocol":"mucp"}',
            '{"registry":"consul"}',
            goFixtures.endpoints[0]!.json,
            '1.0.0',
          ]);

          const checks = (await plain.agent.check.list()) as Record<string, AgentCheck>;
          expect(checks[`service:${name}-1`]).toMatchObject({
            CheckID: `service:${name}-1`,
            ServiceID: `${name}-1`,
            Type: 'ttl',
            Status: 'passing',
          });
          // Consul does not report a TTL check's settings back, so check what it accepted.
          const registration = proxy.bodies.find((b) =>
            b.path.startsWith('/v1/agent/service/register'),
          )!.body as Record<string, unknown>;
          expect(registration.Check).toEqual({
            TTL: '1m30s',
            DeregisterCriticalServiceAfter: '1m35s',
          });
        } finally {
          await registry.deregister(svc);
          await registry.close();
          await proxy.close();
        }
      });

      it('reads a node registered with the exact bytes a Go go-micro service writes', async () => {
        const registry = createConsulRegistry({ address, logger: silentLogger });
        const name = randomName('go');
        const id = `${name}-go-node`;
        try {
          // The plain client's typings want check fields this registration does not use.
          const register = plain.agent.service.register.bind(plain.agent.service) as unknown as (
            options: Record<string, unknown>,
          ) => Promise<unknown>;
          await register({
            id,
            name,
            address: '10.9.8.7',
            port: 9090,
            tags: [
              ...goFixtures.metadata.slice(0, 2).map((m) => m.tag),
              ...goFixtures.endpoints.map((e) => e.tag),
              goFixtures.versions[1]!.tag,
            ],
            meta: { protocol: 'mucp', registry: 'consul' },
            check: { ttl: '1m0s', deregistercriticalserviceafter: '1m5s', status: 'passing' },
          });
          const [found] = await waitFor('the Go node', () =>
            registry.getService(name).catch(() => undefined),
          );
          expect(found!.version).toBe('latest');
          expect(found!.nodes).toEqual([
            {
              id,
              address: '10.9.8.7:9090',
              metadata: { protocol: 'mucp', registry: 'consul' },
            },
          ]);
          expect(found!.endpoints!.map((e) => e.name)).toEqual([
            'Greeter.Hello',
            'Greeter.Stream',
            'Greeter.Empty',
          ]);
          expect(found!.endpoints![0]!.metadata).toEqual({
            description: 'says <hello>',
            stream: 'false',
          });
        } finally {
          await plain.agent.service.deregister(id).catch(() => {});
          await registry.close();
        }
      });

      it('lists the versions of a service from its tags', async () => {
        const registry = createConsulRegistry({ address, logger: silentLogger });
        const name = randomName('versions');
        const svc = (version: string, id: string): Service => ({
          name,
          version,
          nodes: [{ id: `${name}-${id}`, address: '127.0.0.1:1', metadata: {} }],
        });
        try {
          await registry.register(svc('v1', 'a'), { ttl: 0 });
          await registry.register(svc('v2', 'b'), { ttl: 0 });
          const listed = (await registry.listServices()).filter((s) => s.name === name);
          expect(listed.map((s) => s.version).sort()).toEqual(['v1', 'v2']);
        } finally {
          await registry.deregister({
            ...svc('v1', 'a'),
            nodes: [...svc('v1', 'a').nodes, ...svc('v2', 'b').nodes],
          });
          await registry.close();
        }
      });
    });
  },
);
