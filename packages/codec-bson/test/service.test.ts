import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createService, isMicroError, type MicroService, silentLogger } from '@micro/core';
import { randomName } from '@micro/testing';
import { Decimal128, Long, ObjectId } from 'bson';
import { bsonCodec } from '../src/index.js';

interface Order {
  id: ObjectId;
  total: Decimal128;
  sequence: Long;
  receipt: Uint8Array;
  placed: Date;
}

class Orders {
  async Store(order: Order) {
    return {
      ...order,
      types: {
        id: order.id instanceof ObjectId,
        total: order.total instanceof Decimal128,
        sequence: order.sequence instanceof Long,
        receipt: order.receipt instanceof Uint8Array,
        placed: order.placed instanceof Date,
      },
    };
  }

  async Ids(request: { count: number }) {
    return Array.from({ length: request.count }, (_, i) => `order-${i}`);
  }

  async Overflow() {
    return { id: 2n ** 64n };
  }
}

describe('bson through a Service (in-process transport and registry)', () => {
  let service: MicroService;
  const name = randomName('orders');
  const order: Order = {
    id: new ObjectId('65537100aabbccddeeff0011'),
    total: Decimal128.fromString('19.99'),
    sequence: Long.fromString('9007199254740993'),
    receipt: new Uint8Array(512).map((_, i) => (i * 13) % 256),
    placed: new Date('2026-11-21T10:20:30.456Z'),
  };

  beforeAll(async () => {
    service = await createService({ name, codecs: [bsonCodec], logger: silentLogger });
    service.handle(new Orders());
    await service.start();
  });

  afterAll(async () => {
    await service.stop();
  });

  it('round-trips BSON types and binary values through a call made in application/bson', async () => {
    const reply = await service.client.call<Order & { types: Record<string, boolean> }>(
      name,
      'Orders.Store',
      order,
      { contentType: 'application/bson' },
    );
    // The handler saw BSON types, and so does the caller.
    expect(reply.types).toEqual({
      id: true,
      total: true,
      sequence: true,
      receipt: true,
      placed: true,
    });
    expect(reply.id.toHexString()).toBe('65537100aabbccddeeff0011');
    expect(reply.total.toString()).toBe('19.99');
    expect(reply.sequence.toString()).toBe('9007199254740993');
    expect(reply.receipt).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(reply.receipt).equals(Buffer.from(order.receipt))).toBe(true);
    expect(reply.placed.getTime()).toBe(order.placed.getTime());
  });

  it('carries a handler result that is not a document (an array)', async () => {
    const ids = await service.client.call(
      name,
      'Orders.Ids',
      { count: 3 },
      {
        contentType: 'application/bson',
      },
    );
    expect(ids).toEqual(['order-0', 'order-1', 'order-2']);
  });

  it('answers 500 when the handler returns what BSON cannot encode, and keeps serving', async () => {
    let caught: unknown;
    try {
      await service.client.call(name, 'Orders.Overflow', {}, { contentType: 'application/bson' });
    } catch (error) {
      caught = error;
    }
    expect(isMicroError(caught) && caught.code).toBe(500);
    expect(isMicroError(caught) && caught.detail).toMatch(/outside BSON's int64 range/);
    const ids = await service.client.call(name, 'Orders.Ids', { count: 1 });
    expect(ids).toEqual(['order-0']);
  });
});
