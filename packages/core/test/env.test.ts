import { describe, expect, it } from '@jest/globals';
import { createService, loadPlugin, parseDuration, readEnv, silentLogger } from '../src/index.js';

describe('MICRO_* environment', () => {
  it('reads go-micro variables with their units', () => {
    const config = readEnv({
      MICRO_SERVER_NAME: 'helloworld',
      MICRO_SERVER_ADDRESS: '0.0.0.0:8080',
      MICRO_SERVER_METADATA: 'zone=eu,tier=gold',
      MICRO_REGISTRY: 'etcd',
      MICRO_REGISTRY_ADDRESS: '10.0.0.1:2379, 10.0.0.2:2379',
      MICRO_CLIENT_REQUEST_TIMEOUT: '1m30s',
      MICRO_CLIENT_RETRIES: '5',
      MICRO_CLIENT_POOL_SIZE: '10',
      MICRO_CLIENT_POOL_TTL: '30s',
      MICRO_REGISTER_TTL: '60',
      MICRO_REGISTER_INTERVAL: '15',
    });
    expect(config).toEqual({
      name: 'helloworld',
      address: '0.0.0.0:8080',
      metadata: { zone: 'eu', tier: 'gold' },
      registry: 'etcd',
      registryAddress: ['10.0.0.1:2379', '10.0.0.2:2379'],
      requestTimeout: 90_000,
      retries: 5,
      poolSize: 10,
      poolTtl: 30_000,
      registerTtl: 60_000,
      registerInterval: 15_000,
    });
  });

  it('names the variable when a value is malformed', () => {
    expect(() => readEnv({ MICRO_CLIENT_RETRIES: 'many' })).toThrow(/MICRO_CLIENT_RETRIES/);
    expect(() => readEnv({ MICRO_CLIENT_REQUEST_TIMEOUT: 'soon' })).toThrow(
      /MICRO_CLIENT_REQUEST_TIMEOUT/,
    );
    expect(() => readEnv({ MICRO_REGISTER_TTL: '-1' })).toThrow(/MICRO_REGISTER_TTL/);
    expect(() => readEnv({ MICRO_CLIENT_POOL_SIZE: '2.5' })).toThrow(/MICRO_CLIENT_POOL_SIZE/);
    expect(() => readEnv({ MICRO_CLIENT_POOL_TTL: 'later' })).toThrow(/MICRO_CLIENT_POOL_TTL/);
  });

  it('parses Go durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2h45m')).toBe(9_900_000);
    expect(parseDuration('30')).toBe(30_000);
  });

  it('says which package to install for a plugin that is not installed', async () => {
    await expect(loadPlugin('registry', 'zookeeper', {})).rejects.toThrow(
      'MICRO_REGISTRY=zookeeper needs the @micro/registry-zookeeper package, which is not installed: run `pnpm add @micro/registry-zookeeper`',
    );
  });

  it('applies the environment to a service, code options first', async () => {
    const saved = { ...process.env };
    try {
      process.env.MICRO_SERVER_NAME = 'from-env';
      process.env.MICRO_SERVER_VERSION = '9.9.9';
      const fromEnv = await createService({ logger: silentLogger });
      expect([fromEnv.name, fromEnv.version]).toEqual(['from-env', '9.9.9']);
      const fromCode = await createService({ name: 'from-code', logger: silentLogger });
      expect([fromCode.name, fromCode.version]).toEqual(['from-code', '9.9.9']);
      process.env.MICRO_REGISTRY = 'zookeeper';
      await expect(createService({ logger: silentLogger })).rejects.toThrow(
        /pnpm add @micro\/registry-zookeeper/,
      );
    } finally {
      process.env = saved;
    }
  });
});
