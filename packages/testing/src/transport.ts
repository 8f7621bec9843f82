import { afterAll, describe, expect, it } from '@jest/globals';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  type Header,
  isMicroError,
  type Listener,
  type Message,
  type Socket,
  setHeaderEntry,
  type Transport,
} from '@micro/core';
import { rejection, waitFor, within } from './helpers.js';

/** How a transport is exercised. */
export interface TransportCapabilities {
  /**
   * The address listeners bind.
   * @default '127.0.0.1:0'
   */
  listenAddress?: string;
  /**
   * The transport's configured maximum body size, in bytes.
   * @default 4 MiB
   */
  maxMessageSize?: number;
}

const text = (message: Message) => Buffer.from(message.body).toString('utf8');
const msg = (body: string, header: Record<string, string> = {}): Message => ({
  header,
  body: Buffer.from(body),
});

function expectCode(error: unknown, code: number): void {
  expect(isMicroError(error) ? error.code : error).toBe(code);
}

/**
 * The contract of a {@link Transport}: conversations are independent and ordered,
 * large bodies pass, closing from either side is seen by the other, and failures
 * are prompt 503s (413 for an oversized body).
 *
 * @param name shown in the suite title
 * @param factory creates a transport; the suite uses one for listening and one for dialing
 * @param capabilities listen address and maximum message size
 */
export function transportConformance(
  name: string,
  factory: () => Transport | Promise<Transport>,
  capabilities: TransportCapabilities = {},
): void {
  const listenAddress = capabilities.listenAddress ?? '127.0.0.1:0';
  const maxMessageSize = capabilities.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;

  describe(`Transport conformance: ${name}`, () => {
    const transports: Transport[] = [];
    const listeners: Listener[] = [];
    const make = async () => {
      const transport = await factory();
      transports.push(transport);
      return transport;
    };

    afterAll(async () => {
      for (const listener of listeners) await listener.close();
      for (const transport of transports) await transport.close();
    });

    /** A listener that answers every message with `handle`, on a fresh server transport. */
    async function server(
      handle: (message: Message, socket: Socket) => Promise<void> | void = (m, s) => s.send(m),
    ): Promise<{ listener: Listener; sockets: Socket[] }> {
      const listener = await (await make()).listen(listenAddress);
      listeners.push(listener);
      const sockets: Socket[] = [];
      listener.accept((socket) => {
        sockets.push(socket);
        void (async () => {
          while (true) {
            let message: Message;
            try {
              message = await socket.recv();
            } catch {
              return;
            }
            await handle(message, socket);
          }
        })();
      });
      return { listener, sockets };
    }

    it('names itself and binds a real address', async () => {
      const transport = await make();
      expect(transport.name).toMatch(/\S/);
      const { listener } = await server();
      expect(listener.address).toMatch(/:\d+$/);
      expect(listener.address.endsWith(':0')).toBe(false);
    });

    it('carries headers and body both ways, in order', async () => {
      const { listener } = await server((m, s) =>
        s.send({ header: { ...m.header, Echo: 'yes' }, body: m.body }),
      );
      const socket = await (await make()).dial(listener.address);
      expect(socket.remote).toMatch(/\S/);
      expect(socket.local).toMatch(/\S/);
      const header = {
        'Content-Type': 'application/json',
        'Micro-Endpoint': 'Greeter.Hello',
        'X-Unicode': 'héllo 你好',
        Empty: '',
      };
      for (let i = 0; i < 50; i++)
        await socket.send(msg(`message ${i}`, { ...header, Seq: String(i) }));
      for (let i = 0; i < 50; i++) {
        const reply = await socket.recv();
        expect(text(reply)).toBe(`message ${i}`);
        expect(reply.header).toEqual({ ...header, Seq: String(i), Echo: 'yes' });
      }
      await socket.close();
    });

    it('carries a header named __proto__ as a plain entry, both ways', async () => {
      const { listener } = await server();
      const socket = await (await make()).dial(listener.address);
      const header: Header = {};
      setHeaderEntry(header, '__proto__', 'from a peer');
      header.Other = 'o';
      await socket.send({ header, body: new Uint8Array(0) });
      const reply = await socket.recv();
      expect(Object.getPrototypeOf(reply.header)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(reply.header, '__proto__')?.value).toBe('from a peer');
      expect(reply.header.Other).toBe('o');
      await socket.close();
    });

    it('carries an empty body and binary bytes unchanged', async () => {
      const { listener } = await server();
      const socket = await (await make()).dial(listener.address);
      await socket.send({ header: {}, body: new Uint8Array(0) });
      expect((await socket.recv()).body.byteLength).toBe(0);
      const bytes = new Uint8Array(256).map((_, i) => i);
      await socket.send({ header: {}, body: bytes });
      expect([...(await socket.recv()).body]).toEqual([...bytes]);
      await socket.close();
    });

    it('keeps hundreds of concurrent conversations apart', async () => {
      const { listener } = await server();
      const client = await make();
      const conversations = Array.from({ length: 300 }, async (_, i) => {
        const socket = await client.dial(listener.address);
        for (let j = 0; j < 3; j++) {
          await socket.send(msg(`${i}/${j}`));
          expect(text(await socket.recv())).toBe(`${i}/${j}`);
        }
        await socket.close();
      });
      await within(Promise.all(conversations), 20_000, '300 concurrent conversations');
    }, 30_000);

    it('carries a body of the maximum message size', async () => {
      const { listener } = await server();
      const socket = await (await make()).dial(listener.address);
      const body = new Uint8Array(maxMessageSize).map((_, i) => i % 251);
      await socket.send({ header: { Big: 'yes' }, body });
      const reply = await within(socket.recv(), 20_000, `a ${maxMessageSize}-byte echo`);
      expect(reply.body.byteLength).toBe(maxMessageSize);
      expect(Buffer.compare(Buffer.from(reply.body), Buffer.from(body))).toBe(0);
      await socket.close();
    }, 30_000);

    it('refuses a body over the maximum with 413, and keeps serving', async () => {
      const { listener } = await server();
      const client = await make();
      const socket = await client.dial(listener.address);
      const error = await rejection(
        socket.send({ header: {}, body: new Uint8Array(maxMessageSize + 1) }),
      );
      expectCode(error, 413);
      const next = await client.dial(listener.address);
      await next.send(msg('still here'));
      expect(text(await within(next.recv(), 5_000, 'an echo after the oversized send'))).toBe(
        'still here',
      );
      await next.close();
      await socket.close();
    }, 30_000);

    it('delivers what the server sent before it closed, then fails recv with 503', async () => {
      const { listener } = await server(async (m, s) => {
        await s.send(msg(`${text(m)}-1`));
        await s.send(msg(`${text(m)}-2`));
        await s.close();
      });
      const socket = await (await make()).dial(listener.address);
      await socket.send(msg('bye'));
      expect(text(await socket.recv())).toBe('bye-1');
      expect(text(await socket.recv())).toBe('bye-2');
      expectCode(await rejection(within(socket.recv(), 5_000, 'recv after close')), 503);
      expectCode(await rejection(socket.send(msg('late'))), 503);
    });

    it('tells the server when the client closes', async () => {
      const closed: string[] = [];
      const listener = await (await make()).listen(listenAddress);
      listeners.push(listener);
      listener.accept((socket) => {
        void socket
          .recv()
          .then(
            () => socket.recv(),
            () => undefined,
          )
          .then(
            () => undefined,
            (error: unknown) => closed.push(isMicroError(error) ? String(error.code) : 'other'),
          );
      });
      const socket = await (await make()).dial(listener.address);
      await socket.send(msg('hello'));
      await socket.close();
      await waitFor('the server to see the close', () => closed.length === 1);
      expect(closed).toEqual(['503']);
    });

    it('rejects a pending recv when its own side closes, and send after close', async () => {
      const { listener } = await server(() => {});
      const socket = await (await make()).dial(listener.address);
      const pending = socket.recv();
      await socket.close();
      expectCode(await rejection(within(pending, 5_000, 'a pending recv')), 503);
      expectCode(await rejection(socket.send(msg('after close'))), 503);
      await socket.close();
    });

    it('fails a dial to a closed port promptly with 503', async () => {
      const transport = await make();
      const listener = await transport.listen(listenAddress);
      const address = listener.address;
      await listener.close();
      const started = Date.now();
      const error = await rejection(
        within((await make()).dial(address), 10_000, 'a dial to a closed port'),
      );
      expectCode(error, 503);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('closes conversations when the listener closes, and refuses new dials', async () => {
      const transport = await make();
      const listener = await transport.listen(listenAddress);
      listener.accept(() => {});
      const client = await make();
      const socket = await client.dial(listener.address);
      await socket.send(msg('ping'));
      const pending = socket.recv();
      await listener.close();
      expectCode(await rejection(within(pending, 5_000, 'recv on a closed listener')), 503);
      expectCode(
        await rejection(
          within(client.dial(listener.address), 10_000, 'a dial to a closed listener'),
        ),
        503,
      );
    });
  });
}
