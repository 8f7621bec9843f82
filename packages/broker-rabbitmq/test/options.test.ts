import { describe, expect, it } from '@jest/globals';
import { isMicroError, silentLogger } from '@micro/core';
import { createRabbitMQBroker, DEFAULT_URL } from '../src/index.js';
import { redact, resolveOptions, toAmqpUrl, withHeartbeat } from '../src/options.js';

function code(attempt: () => unknown): number | undefined {
  try {
    attempt();
  } catch (error) {
    return isMicroError(error) ? error.code : -1;
  }
  return undefined;
}

describe('options', () => {
  it("has go-micro's defaults", () => {
    const options = resolveOptions({ logger: silentLogger });
    expect(options).toMatchObject({
      urls: ['amqp://guest:guest@127.0.0.1:5672'],
      exchange: 'micro',
      exchangeType: 'topic',
      durableExchange: false,
      durableQueues: false,
      prefetch: 0,
      requeueOnError: false,
      persistent: false,
      heartbeat: 10,
      // not go-micro's: publish resolves only once RabbitMQ confirms
      confirmPublish: true,
      publishTimeout: 10_000,
      connectTimeout: 5_000,
      drainTimeout: 30_000,
      maxMessageSize: 16 * 1024 * 1024,
      reconnect: { initialDelay: 100, maxDelay: 30_000, maxAttempts: Number.POSITIVE_INFINITY },
    });
    expect(DEFAULT_URL).toBe('amqp://guest:guest@127.0.0.1:5672');
  });

  it('names itself rabbitmq and shows its address with the password hidden (Go url.Redacted)', () => {
    const broker = createRabbitMQBroker({
      url: 'amqp://user:s3cret@rabbit.internal:5673/prod',
      logger: silentLogger,
    });
    expect(broker.name).toBe('rabbitmq');
    expect(broker.address).toBe('amqp://user:xxxxx@rabbit.internal:5673/prod');
    expect(broker.state).toBe('disconnected');
    expect(createRabbitMQBroker({ logger: silentLogger }).address).toBe(
      'amqp://guest:xxxxx@127.0.0.1:5672',
    );
  });

  it('takes the url, else the addresses; host:port gets the default credentials', () => {
    expect(resolveOptions({ url: 'amqps://a:b@h:5671', addresses: ['amqp://x'] }).urls).toEqual([
      'amqps://a:b@h:5671',
    ]);
    expect(resolveOptions({ addresses: ['10.0.0.5:5673', 'amqp://u:p@10.0.0.6'] }).urls).toEqual([
      'amqp://guest:guest@10.0.0.5:5673',
      'amqp://u:p@10.0.0.6',
    ]);
    expect(toAmqpUrl('rabbit')).toBe('amqp://guest:guest@rabbit:5672');
    expect(resolveOptions({ addresses: [] }).urls).toEqual([DEFAULT_URL]);
  });

  it('adds the heartbeat unless the URL names one', () => {
    expect(withHeartbeat('amqp://guest:guest@127.0.0.1:5672', 10)).toBe(
      'amqp://guest:guest@127.0.0.1:5672?heartbeat=10',
    );
    expect(withHeartbeat('amqp://h/vhost?heartbeat=30', 10)).toBe('amqp://h/vhost?heartbeat=30');
    expect(redact('amqp://u:p@h?heartbeat=10')).toBe('amqp://u:xxxxx@h?heartbeat=10');
    expect(redact('amqp://h:5672')).toBe('amqp://h:5672');
  });

  it('turns reconnection off or tunes it', () => {
    expect(resolveOptions({ reconnect: false }).reconnect).toBeUndefined();
    expect(resolveOptions({ reconnect: { maxDelay: 1000, maxAttempts: 3 } }).reconnect).toEqual({
      initialDelay: 100,
      maxDelay: 1000,
      maxAttempts: 3,
    });
  });

  it('rejects invalid options with a clear 400', () => {
    expect(code(() => createRabbitMQBroker({ url: 'http://127.0.0.1:5672' }))).toBe(400);
    expect(code(() => createRabbitMQBroker({ url: 'amqp://' }))).toBe(400);
    expect(code(() => createRabbitMQBroker({ prefetch: -1 }))).toBe(400);
    expect(code(() => createRabbitMQBroker({ prefetch: 1.5 }))).toBe(400);
    expect(code(() => createRabbitMQBroker({ prefetch: 70_000 }))).toBe(400);
    expect(
      code(() => createRabbitMQBroker({ exchangeType: 'x-delayed' as unknown as 'topic' })),
    ).toBe(400);
    expect(code(() => createRabbitMQBroker({ publishTimeout: 0 }))).toBe(400);
    expect(code(() => createRabbitMQBroker({ connectTimeout: Number.NaN }))).toBe(400);
    expect(code(() => createRabbitMQBroker({ heartbeat: 1.5 }))).toBe(400);
    expect(code(() => createRabbitMQBroker({ reconnect: { initialDelay: -5 } }))).toBe(400);
    expect(code(() => createRabbitMQBroker({ logger: silentLogger, prefetch: 100 }))).toBe(
      undefined,
    );
  });
});
