import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createService, isMicroError, type MicroService, silentLogger } from '@micro/core';
import { randomName } from '@micro/testing';
import { msgpackCodec } from '../src/index.js';

interface Upload {
  name: string;
  data: Uint8Array;
  when: Date;
}

class Files {
  async Put(request: Upload) {
    return {
      name: request.name,
      size: request.data.byteLength,
      binary: request.data instanceof Uint8Array,
      data: request.data,
      when: request.when,
    };
  }

  async Huge() {
    return { id: 2n ** 64n };
  }
}

describe('msgpack through a Service (in-process transport and registry)', () => {
  let service: MicroService;
  const name = randomName('files');
  const data = new Uint8Array(1024).map((_, i) => (i * 7) % 256);
  const when = new Date('2026-11-21T10:20:30.456Z');

  beforeAll(async () => {
    service = await createService({ name, codecs: [msgpackCodec], logger: silentLogger });
    service.handle(new Files());
    await service.start();
  });

  afterAll(async () => {
    await service.stop();
  });

  it('round-trips binary values and dates through a call made in application/msgpack', async () => {
    const reply = await service.client.call<Awaited<ReturnType<Files['Put']>>>(
      name,
      'Files.Put',
      { name: 'a.bin', data, when },
      { contentType: 'application/msgpack' },
    );
    expect(reply.binary).toBe(true);
    expect(reply.size).toBe(1024);
    expect(reply.data).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(reply.data).equals(Buffer.from(data))).toBe(true);
    expect(reply.when).toBeInstanceOf(Date);
    expect(reply.when.getTime()).toBe(when.getTime());
  });

  it('answers 500 when the handler returns what msgpack cannot encode, and keeps serving', async () => {
    let caught: unknown;
    try {
      await service.client.call(name, 'Files.Huge', {}, { contentType: 'application/msgpack' });
    } catch (error) {
      caught = error;
    }
    expect(isMicroError(caught) && caught.code).toBe(500);
    expect(isMicroError(caught) && caught.detail).toMatch(/msgpack: cannot encode value/);
    const reply = await service.client.call(name, 'Files.Put', {
      name: 'json.bin',
      data: [],
      when,
    });
    expect((reply as { name: string }).name).toBe('json.bin');
  });
});
