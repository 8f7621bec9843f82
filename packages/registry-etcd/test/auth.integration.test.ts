import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { isMicroError, type Registry, type Service, silentLogger } from '@micro/core';
import { describeWithServer, randomName, rejection, within } from '@micro/testing';
import { Etcd3, Range } from 'etcd3';
import { createEtcdRegistry, type EtcdRegistryOptions } from '../src/index.js';

const ROOT_PASSWORD = 'root-secret';
const PASSWORD = 'micro-secret';

async function codeOf(promise: Promise<unknown>): Promise<number | string> {
  const error = await rejection(promise);
  return isMicroError(error) ? error.code : String(error);
}

// Turns password authentication on in the test etcd for the duration of this file
// (Jest runs integration files one at a time) and off again afterwards.
describeWithServer('EtcdRegistry with etcd authentication', ['MICRO_TEST_ETCD_ADDRESS'], (env) => {
  const address = env.MICRO_TEST_ETCD_ADDRESS;
  const registries: Registry[] = [];
  const open = (options: EtcdRegistryOptions = {}) => {
    const registry = createEtcdRegistry({ addresses: [address], logger: silentLogger, ...options });
    registries.push(registry);
    return registry;
  };
  const prefix = Range.prefix('/micro/registry/');

  beforeAll(async () => {
    const admin = new Etcd3({ hosts: address });
    try {
      await admin
        .role('root')
        .create()
        .catch(() => {});
      await admin.user('root').create(ROOT_PASSWORD);
      await admin.user('root').addRole('root');
      await admin.role('micro-rw').create();
      await admin.role('micro-rw').grant({ permission: 'Readwrite', range: prefix });
      await admin.user('micro').create(PASSWORD);
      await admin.user('micro').addRole('micro-rw');
      await admin.role('micro-ro').create();
      await admin.role('micro-ro').grant({ permission: 'Read', range: prefix });
      await admin.user('micro-ro').create(PASSWORD);
      await admin.user('micro-ro').addRole('micro-ro');
      await admin.auth.authEnable();
    } finally {
      admin.close();
    }
  }, 30_000);

  afterAll(async () => {
    for (const registry of registries) await registry.close();
    const root = new Etcd3({ hosts: address, auth: { username: 'root', password: ROOT_PASSWORD } });
    try {
      await root.auth.authDisable();
    } finally {
      root.close();
    }
    const admin = new Etcd3({ hosts: address });
    try {
      for (const user of ['micro', 'micro-ro', 'root'])
        await admin
          .user(user)
          .delete()
          .catch(() => {});
      for (const role of ['micro-rw', 'micro-ro', 'root'])
        await admin
          .role(role)
          .delete()
          .catch(() => {});
    } finally {
      admin.close();
    }
  }, 30_000);

  const service = (name: string): Service => ({
    name,
    version: 'v1',
    nodes: [{ id: `${name}-1`, address: '127.0.0.1:1' }],
  });

  it('registers, reads and watches with a username and password', async () => {
    const registry = open({ username: 'micro', password: PASSWORD });
    const name = randomName('auth');
    const watcher = await registry.watch({ service: name });
    try {
      await registry.register(service(name), { ttl: 10_000 });
      expect((await within(watcher.next(), 5_000, 'the create')).action).toBe('create');
      expect((await registry.getService(name))[0]!.nodes).toHaveLength(1);
      await registry.register(service(name), { ttl: 10_000 });
      await registry.deregister(service(name));
      expect((await within(watcher.next(), 5_000, 'the delete')).action).toBe('delete');
    } finally {
      watcher.stop();
    }
  });

  it('takes the credentials from ETCD_USERNAME and ETCD_PASSWORD, as go-micro does', async () => {
    const saved = { user: process.env.ETCD_USERNAME, password: process.env.ETCD_PASSWORD };
    process.env.ETCD_USERNAME = 'micro';
    process.env.ETCD_PASSWORD = PASSWORD;
    let registry: Registry;
    try {
      registry = open();
    } finally {
      if (saved.user === undefined) delete process.env.ETCD_USERNAME;
      else process.env.ETCD_USERNAME = saved.user;
      if (saved.password === undefined) delete process.env.ETCD_PASSWORD;
      else process.env.ETCD_PASSWORD = saved.password;
    }
    expect(await codeOf(registry.getService(randomName('missing')))).toBe(404);
  });

  it('answers 401 without credentials or with a wrong password', async () => {
    expect(await codeOf(open().getService('helloworld'))).toBe(401);
    const wrong = open({ username: 'micro', password: 'nope' });
    expect(await codeOf(wrong.getService('helloworld'))).toBe(401);
    expect(await codeOf(wrong.register(service(randomName('auth')), { ttl: 10_000 }))).toBe(401);
  });

  it('answers 403 to a user who may only read', async () => {
    const registry = open({ username: 'micro-ro', password: PASSWORD });
    const name = randomName('readonly');
    expect(await codeOf(registry.register(service(name), { ttl: 10_000 }))).toBe(403);
    expect(await codeOf(registry.getService(name))).toBe(404);
  });
});
