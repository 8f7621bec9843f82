import { describe, expect, it } from '@jest/globals';
import { isMicroError, silentLogger } from '@micro/core';
import { createKafkaBroker, DEFAULT_KAFKA_ADDRESS } from '../src/index.js';
import { resolveOptions, retryWithin, validateTopic } from '../src/options.js';

function codeOf(action: () => unknown): number | undefined {
  try {
    action();
  } catch (error) {
    return isMicroError(error) ? error.code : -1;
  }
  return undefined;
}

const quiet = { logger: silentLogger };

describe('resolveOptions', () => {
  it("defaults to go-micro's 127.0.0.1:9092 and safe producer and consumer settings", () => {
    const o = resolveOptions(quiet, {});
    expect(o.addresses).toEqual([DEFAULT_KAFKA_ADDRESS]);
    expect(DEFAULT_KAFKA_ADDRESS).toBe('127.0.0.1:9092');
    expect(o).toMatchObject({
      clientId: 'micro',
      acks: -1,
      createTopics: true,
      numPartitions: -1,
      replicationFactor: -1,
      timeout: 10_000,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      rebalanceTimeout: 60_000,
      maxWaitTime: 500,
      commitInterval: 5_000,
      partitionsConsumedConcurrently: 1,
      redeliveryBackoff: { base: 100, max: 2_000 },
      maxRedeliveries: 10,
      deadLetterTopic: undefined,
    });
  });

  it('scales kafkajs retries to timeout, so kafkajs gives up before the bound passes', () => {
    const retry = resolveOptions(quiet, {}).retry;
    expect(retry).toEqual(retryWithin(10_000));
    expect(retry).toMatchObject({ retries: 5, initialRetryTime: 250, multiplier: 2, factor: 0.2 });
    for (const timeout of [1_000, 3_000, 10_000, 60_000]) {
      const r = retryWithin(timeout);
      // The longest kafkajs can wait between its attempts: every delay at +20% jitter.
      let total = 0;
      for (let i = 0; i < r.retries!; i++) total += r.initialRetryTime! * 2 ** i * 1.2;
      expect(total).toBeLessThan(timeout);
    }
  });

  it('accepts a dead-letter topic name or function', () => {
    expect(resolveOptions({ ...quiet, deadLetterTopic: 'dlq' }, {}).deadLetterTopic?.('x')).toBe(
      'dlq',
    );
    const named = resolveOptions({ ...quiet, deadLetterTopic: (t) => `${t}.dead` }, {});
    expect(named.deadLetterTopic?.('orders')).toBe('orders.dead');
  });

  it('takes MICRO_BROKER_ADDRESS (comma-separated) when MICRO_BROKER is unset or kafka', () => {
    const env = { MICRO_BROKER_ADDRESS: 'k1:9092, k2:9093,' };
    expect(resolveOptions(quiet, env).addresses).toEqual(['k1:9092', 'k2:9093']);
    expect(resolveOptions(quiet, { ...env, MICRO_BROKER: 'kafka' }).addresses).toEqual([
      'k1:9092',
      'k2:9093',
    ]);
  });

  it('ignores MICRO_BROKER_ADDRESS meant for another broker', () => {
    const env = { MICRO_BROKER: 'nats', MICRO_BROKER_ADDRESS: 'nats://n:4222' };
    expect(resolveOptions(quiet, env).addresses).toEqual([DEFAULT_KAFKA_ADDRESS]);
  });

  it('prefers addresses in code, dropping empty ones as go-micro does', () => {
    const env = { MICRO_BROKER_ADDRESS: 'env:9092' };
    expect(resolveOptions({ ...quiet, addresses: ['', ' a:1 '] }, env).addresses).toEqual(['a:1']);
    expect(resolveOptions({ ...quiet, addresses: [''] }, env).addresses).toEqual(['env:9092']);
  });

  it('passes TLS, SASL and retry settings through unchanged', () => {
    const sasl = { mechanism: 'plain' as const, username: 'u', password: 'p' };
    const ssl = { rejectUnauthorized: true, servername: 'kafka.internal' };
    const retry = { retries: 2, initialRetryTime: 50 };
    const o = resolveOptions({ ...quiet, ssl, sasl, retry, clientId: 'orders' }, {});
    expect(o.ssl).toBe(ssl);
    expect(o.sasl).toBe(sasl);
    expect(o.retry).toBe(retry);
    expect(o.clientId).toBe('orders');
  });

  it('keeps explicit topic, producer and consumer settings', () => {
    const o = resolveOptions(
      {
        ...quiet,
        numPartitions: 6,
        replicationFactor: 3,
        acks: 1,
        sessionTimeout: 6_000,
        heartbeatInterval: 500,
        redeliveryBackoff: { base: 10 },
        maxRedeliveries: 0,
      },
      {},
    );
    expect(o).toMatchObject({
      numPartitions: 6,
      replicationFactor: 3,
      acks: 1,
      sessionTimeout: 6_000,
      heartbeatInterval: 500,
      redeliveryBackoff: { base: 10, max: 2_000 },
      maxRedeliveries: 0,
    });
  });

  it.each([
    ['an address without a port', { addresses: ['kafka'] }],
    ['an address with a scheme', { addresses: ['kafka://k:9092'] }],
    ['acks of 2', { acks: 2 as never }],
    ['a heartbeat not below the session timeout', { heartbeatInterval: 30_000 }],
    ['a negative timeout', { timeout: -1 }],
    ['zero partitions', { numPartitions: 0 }],
    ['a fractional replication factor', { replicationFactor: 1.5 }],
    ['negative redeliveries', { maxRedeliveries: -1 }],
    ['zero partitions consumed concurrently', { partitionsConsumedConcurrently: 0 }],
    ['an empty client id', { clientId: '' }],
    ['a dead-letter topic Kafka does not allow', { deadLetterTopic: 'dead letters' }],
  ])('rejects %s with a 400', (_, options) => {
    expect(codeOf(() => resolveOptions({ ...quiet, ...options }, {}))).toBe(400);
  });

  it('makes the factory reject bad options at once', () => {
    expect(codeOf(() => createKafkaBroker({ ...quiet, acks: 5 as never }))).toBe(400);
  });
});

describe('the broker before connect', () => {
  it("is named kafka with go-micro's address", () => {
    const broker = createKafkaBroker({ ...quiet, addresses: ['k1:9092', 'k2:9092'] });
    expect(broker.name).toBe('kafka');
    expect(broker.address).toBe('k1:9092');
  });

  it('rejects publish and subscribe with a 503 until connected', async () => {
    const broker = createKafkaBroker(quiet);
    await expect(broker.publish('t', { header: {}, body: new Uint8Array() })).rejects.toMatchObject(
      { code: 503 },
    );
    await expect(broker.subscribe('t', () => {})).rejects.toMatchObject({ code: 503 });
    await broker.disconnect();
  });
});

describe('validateTopic', () => {
  it.each(['orders', 'a.b_c-D9', 'x'.repeat(249)])('accepts %s', (topic) => {
    expect(codeOf(() => validateTopic(topic))).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['.', '.'],
    ['..', '..'],
    ['with a space', 'my topic'],
    ['with a slash', 'a/b'],
    ['too long', 'x'.repeat(250)],
  ])('rejects a topic %s with a 400', (_, topic) => {
    expect(codeOf(() => validateTopic(topic))).toBe(400);
  });
});
