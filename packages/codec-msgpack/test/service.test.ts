import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createService,
  isMicroError,
  type Message,
  type MicroService,
  parseError,
  silentLogger,
} from '@micro/core';
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

  /** Sends one raw message to the server and returns its reply. */
  async function exchange(header: Record<string, string>, body: Uint8Array): Promise<Message> {
    const socket = await service.transport.dial(service.server.address);
    try {
      await socket.send({
        header: {
          'Micro-Id': '1',
          'Micro-Service': name,
          'Micro-Endpoint': 'Files.Put',
          ...header,
        },
        body,
      });
      return await socket.recv();
    } finally {
      await socket.close();
    }
  }

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

  it('answers in the content type of the request, alias included', async () => {
    for (const contentType of ['application/msgpack', 'application/x-msgpack']) {
      const reply = await exchange(
        { 'Content-Type': contentType },
        msgpackCodec.marshal({ name: 'b.bin', data: new Uint8Array([9, 8, 7]), when }),
      );
      expect(reply.header['Micro-Error']).toBeUndefined();
      expect(reply.header['Content-Type']).toBe(contentType);
      const body = msgpackCodec.unmarshal(reply.body) as { data: Uint8Array; size: number };
      expect(body.size).toBe(3);
      expect([...body.data]).toEqual([9, 8, 7]);
    }
  });

  it('answers 400 to an undecodable msgpack body, and keeps serving', async () => {
    const valid = msgpackCodec.marshal({ name: 'c.bin', data, when });
    for (const body of [
      Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x00, 0x13, 0x37, 0xc1, 0x80, 0x22]),
      valid.subarray(0, valid.byteLength - 10),
      Buffer.concat([valid, Buffer.from([0xc0])]),
    ]) {
      const reply = await exchange({ 'Content-Type': 'application/msgpack' }, body);
      const error = parseError(reply.header['Micro-Error'] ?? '');
      expect(error.code).toBe(400);
      expect(error.detail).toMatch(/cannot decode application\/msgpack body: msgpack: malformed/);
    }
    const after = await service.client.call(
      name,
      'Files.Put',
      { name: 'd.bin', data, when },
      { contentType: 'application/msgpack' },
    );
    expect((after as { size: number }).size).toBe(1024);
  });

  it('answers 415 to an unsupported content type, naming the supported ones', async () => {
    const reply = await exchange({ 'Content-Type': 'application/xml' }, Buffer.from('<a/>'));
    const error = parseError(reply.header['Micro-Error'] ?? '');
    expect(error.code).toBe(415);
    expect(error.detail).toContain('application/msgpack');
    expect(error.detail).toContain('application/x-msgpack');
    expect(error.detail).toContain('application/json');
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
