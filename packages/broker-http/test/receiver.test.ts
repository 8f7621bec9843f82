// The receiving side under bad input: every refusal has go-micro's error JSON and
// the right status, and the broker keeps serving afterwards.
import http from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createMemoryRegistry, encodeEnvelope, MicroError } from '@micro/core';
import { randomName, recordingLogger, waitFor, within } from '@micro/testing';
import { createHttpBroker, type HttpBroker, type HttpSubscription } from '../src/index.js';
import { queryEscape } from '../src/wire.js';
import { inbox, rawRequest } from './helpers.js';

const LIMIT = 4096;

describe('HttpBroker receiving', () => {
  const logger = recordingLogger();
  const registry = createMemoryRegistry();
  let broker: HttpBroker;
  let topic: string;
  let subscription: HttpSubscription;
  const box = inbox();

  const envelope = (header: Record<string, string>, body = 'hello') =>
    Buffer.from(encodeEnvelope({ header, body: Buffer.from(body) }));
  const post = (body: string | Buffer, id = subscription.id, path = '/') =>
    rawRequest(broker.address, {
      path: `${path}?id=${queryEscape(id)}`,
      body,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    });
  const errorJson = (text: string) => JSON.parse(text) as Record<string, unknown>;

  /** A good delivery still gets through: the broker kept serving. */
  const stillServing = async () => {
    const before = box.events.length;
    await broker.publish(topic, { header: {}, body: Buffer.from('still here') });
    await waitFor('a delivery after the bad request', () => box.events.length === before + 1);
  };

  beforeAll(async () => {
    broker = createHttpBroker({ registry, logger, maxMessageSize: LIMIT });
    await broker.connect();
    topic = randomName('topic');
    subscription = await broker.subscribe(topic, box.handler);
  });

  afterAll(() => broker.disconnect());

  it('answers any method but POST with 405, Allow: POST and the error JSON', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const answer = await rawRequest(broker.address, { method, path: `/?id=${subscription.id}` });
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe('POST');
      expect(answer.headers['content-type']).toBe('application/json');
      expect(errorJson(answer.body)).toEqual({
        id: 'go.micro.broker',
        code: 405,
        detail: 'Method not allowed',
        status: 'Method Not Allowed',
      });
    }
    await stillServing();
  });

  it('answers 404 on any path but /', async () => {
    const before = box.events.length;
    const answer = await post(envelope({ 'Micro-Topic': topic }), subscription.id, '/_sub');
    expect(answer.status).toBe(404);
    expect(errorJson(answer.body)).toMatchObject({ id: 'go.micro.broker', code: 404 });
    expect(box.events.length).toBe(before);
  });

  it('answers 413 for a declared length over maxMessageSize without reading it', async () => {
    const body = envelope({ 'Micro-Topic': topic }, 'x'.repeat(LIMIT));
    const answer = await post(body);
    expect(answer.status).toBe(413);
    expect(errorJson(answer.body)).toEqual({
      id: 'go.micro.broker',
      code: 413,
      detail: `message of ${body.length} bytes exceeds the limit of ${LIMIT} bytes`,
      status: 'Payload Too Large',
    });
    expect(logger.find('warn', 'refused a delivery')).not.toHaveLength(0);
    await stillServing();
  });

  it('answers 413 for a chunked body as soon as it passes the limit, while it is still being sent', async () => {
    const sent = await new Promise<{ status: number; bytesBeforeAnswer: number }>(
      (resolve, reject) => {
        let bytes = 0;
        let answered = false;
        const [host, port] = broker.address.split(':') as [string, string];
        const request = http.request({
          host,
          port: Number(port),
          method: 'POST',
          path: `/?id=${subscription.id}`,
          headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
          agent: false,
        });
        request.on('response', (response) => {
          answered = true;
          response.resume();
          resolve({ status: response.statusCode ?? 0, bytesBeforeAnswer: bytes });
          request.destroy();
        });
        request.on('error', (error) => {
          if (!answered) reject(error);
        });
        const chunk = Buffer.alloc(1024, 'x');
        // Keep sending (up to 8 MiB) until the answer comes back.
        const pump = () => {
          while (!answered && bytes < 8 * 1024 * 1024) {
            bytes += chunk.length;
            if (!request.write(chunk)) {
              request.once('drain', pump);
              return;
            }
          }
          if (!answered) request.end();
        };
        pump();
      },
    );
    expect(sent.status).toBe(413);
    expect(sent.bytesBeforeAnswer).toBeLessThan(8 * 1024 * 1024);
    await stillServing();
  });

  it.each([
    ['not JSON', 'this is not json'],
    ['a JSON array', '[1,2,3]'],
    ['a Body that is not base64 text', '{"Header":{},"Body":42}'],
    ['a Header that is not an object', '{"Header":"x","Body":""}'],
  ])('answers 400 to %s', async (_what, body) => {
    const answer = await post(body);
    expect(answer.status).toBe(400);
    const error = errorJson(answer.body);
    expect(error).toMatchObject({ id: 'go.micro.broker', code: 400, status: 'Bad Request' });
    expect(String(error.detail)).toMatch(/^Error parsing request body: /);
    await stillServing();
  });

  it('answers 400 "Topic not found" to an envelope without Micro-Topic', async () => {
    const answer = await post(envelope({ 'Content-Type': 'text/plain' }));
    expect(answer.status).toBe(400);
    expect(errorJson(answer.body)).toEqual({
      id: 'go.micro.broker',
      code: 400,
      detail: 'Topic not found',
      status: 'Bad Request',
    });
  });

  it('answers 404 to an unknown subscriber id, a missing id, or an id of another topic', async () => {
    const before = box.events.length;
    expect((await post(envelope({ 'Micro-Topic': topic }), `${topic}-nobody`)).status).toBe(404);
    const noId = await rawRequest(broker.address, {
      path: '/',
      body: envelope({ 'Micro-Topic': topic }),
    });
    expect(noId.status).toBe(404);
    const wrongTopic = await post(envelope({ 'Micro-Topic': `${topic}-other` }));
    expect(wrongTopic.status).toBe(404);
    expect(errorJson(wrongTopic.body)).toMatchObject({ id: 'go.micro.broker', code: 404 });
    expect(box.events.length).toBe(before);
  });

  it('survives a sender that disconnects mid-body and raw garbage on the socket', async () => {
    const [host, port] = broker.address.split(':') as [string, string];
    await new Promise<void>((resolve) => {
      const request = http.request({
        host,
        port: Number(port),
        method: 'POST',
        path: `/?id=${subscription.id}`,
        headers: { 'Content-Length': '1000' },
        agent: false,
      });
      request.on('error', () => resolve());
      request.write('{"Header":', () => setImmediate(() => request.destroy()));
      request.on('close', () => resolve());
    });
    const garbage = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), host, () => socket.write('\x00\x01 nonsense\r\n\r\n'));
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk.toString();
      });
      socket.on('close', () => resolve(received));
      socket.on('error', () => resolve(received));
    });
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    await stillServing();
  });

  describe('a queue subscription', () => {
    it("answers a handler error with 500 and go-micro's error JSON", async () => {
      const queued = await broker.subscribe(
        topic,
        () => {
          throw new Error('boom');
        },
        { queue: randomName('queue') },
      );
      try {
        const answer = await post(envelope({ 'Micro-Topic': topic }), queued.id);
        expect(answer.status).toBe(500);
        expect(errorJson(answer.body)).toEqual({
          id: 'go.micro.broker',
          code: 500,
          detail: 'subscriber error: boom',
          status: 'Internal Server Error',
        });
        expect(logger.find('error', 'subscriber failed')).not.toHaveLength(0);
      } finally {
        await queued.unsubscribe();
      }
    });

    it("keeps a MicroError's id and detail, with code 500", async () => {
      const queued = await broker.subscribe(
        topic,
        () => {
          throw new MicroError('orders', 'order 42 is unknown', 404);
        },
        { queue: randomName('queue') },
      );
      try {
        const answer = await post(envelope({ 'Micro-Topic': topic }), queued.id);
        expect(answer.status).toBe(500);
        expect(errorJson(answer.body)).toEqual({
          id: 'orders',
          code: 500,
          detail: 'order 42 is unknown',
          status: 'Internal Server Error',
        });
      } finally {
        await queued.unsubscribe();
      }
    });

    it('answers after a manual ack (200), a nack (500) and a nack without requeue (400)', async () => {
      const outcomes = ['ack', 'nack', 'reject'];
      const queued = await broker.subscribe(
        topic,
        async (event) => {
          const what = Buffer.from(event.message.body).toString('utf8');
          if (what === 'ack') await event.ack();
          else if (what === 'nack') await event.nack();
          else await event.nack({ requeue: false });
        },
        { queue: randomName('queue'), autoAck: false },
      );
      try {
        const statuses = [];
        for (const what of outcomes) {
          statuses.push((await post(envelope({ 'Micro-Topic': topic }, what), queued.id)).status);
        }
        expect(statuses).toEqual([200, 500, 400]);
      } finally {
        await queued.unsubscribe();
      }
    });

    it('answers 503 when it unsubscribes before a manual-ack handler acknowledged', async () => {
      let handled = false;
      const queued = await broker.subscribe(
        topic,
        () => {
          handled = true; // returns without ack or nack
        },
        { queue: randomName('queue'), autoAck: false },
      );
      const answering = post(envelope({ 'Micro-Topic': topic }), queued.id);
      await waitFor('the handler', () => handled);
      await queued.unsubscribe();
      const answer = await within(answering, 5_000, 'the answer');
      expect(answer.status).toBe(503);
    });
  });
});
