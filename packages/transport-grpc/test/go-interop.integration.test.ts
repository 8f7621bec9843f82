// Interop with Go: test/go-peer is a Go peer of go-micro's gRPC transport built
// with grpc-go and protobuf-go. It needs the Go toolchain, named by MICRO_TEST_GO
// (`npm test` sets it when Go is installed, as Consul's build needs Go too), and
// the Go module proxy to fetch grpc-go the first time.
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { logVerbosity, setLogVerbosity } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  isMicroError,
  type Message,
  type Socket,
  silentLogger,
} from '@micro/core';
import { describeWithServer, rejection, waitFor, within } from '@micro/testing';
import { createGrpcTransport, type GrpcTransport } from '../src/index.js';

const code = (error: unknown) => (isMicroError(error) ? error.code : error);

const HEADER = {
  'Content-Type': 'application/json',
  'Micro-Id': '1',
  'Micro-Service': 'helloworld',
  'Micro-Endpoint': 'Greeter.Hello',
  'X-Unicode': 'héllo 你好',
  Empty: '',
};
const BODY = Buffer.from([0, 1, 2, 127, 128, 255]);

describeWithServer('interop with a Go peer (grpc-go, protobuf-go)', ['MICRO_TEST_GO'], (env) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'micro-go-peer-'));
  const binary = path.join(dir, 'go-peer');
  const children: ChildProcessWithoutNullStreams[] = [];
  const transports: GrpcTransport[] = [];
  const make = () => {
    const transport = createGrpcTransport({ logger: silentLogger });
    transports.push(transport);
    return transport;
  };

  beforeAll(async () => {
    await new Promise<void>((resolve, reject) =>
      execFile(
        env.MICRO_TEST_GO,
        ['build', '-o', binary, '.'],
        { cwd: path.join(__dirname, 'go-peer'), timeout: 240_000 },
        (error, _stdout, stderr) => (error ? reject(new Error(`go build: ${stderr}`)) : resolve()),
      ),
    );
  }, 250_000);

  afterAll(async () => {
    for (const child of children) child.kill();
    for (const transport of transports) await transport.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(...args: string[]): {
    child: ChildProcessWithoutNullStreams;
    lines: AsyncIterator<string>;
  } {
    const child = spawn(binary, args);
    children.push(child);
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    return { child, lines };
  }

  async function line(lines: AsyncIterator<string>): Promise<string> {
    const next = await within(lines.next(), 10_000, 'a line from the Go peer');
    if (next.done) throw new Error('the Go peer exited');
    return next.value;
  }

  describe('a Go listener, this transport dialing', () => {
    let address: string;
    beforeAll(async () => {
      const peer = start('serve');
      address = await line(peer.lines);
    });

    it('exchanges header maps and bytes exactly, several messages per conversation', async () => {
      const socket = await make().dial(address);
      for (let i = 0; i < 3; i++) {
        await socket.send({ header: { ...HEADER, Seq: String(i) }, body: BODY });
        const reply = await within(socket.recv(), 5_000, 'the Go echo');
        expect(reply.header).toEqual({ ...HEADER, Seq: String(i), Go: 'yes' });
        expect([...reply.body]).toEqual([...BODY]);
      }
      await socket.close();
    });

    it("sees the Go handler's return as the end of the conversation after close", async () => {
      const socket = await make().dial(address);
      await socket.send({ header: {}, body: BODY });
      await socket.recv();
      await socket.close();
      // A new conversation on the same channel still works: the half-close ended only that one.
      const next = await make().dial(address);
      await next.send({ header: { again: '1' }, body: new Uint8Array(0) });
      expect((await within(next.recv(), 5_000, 'echo')).header).toEqual({ again: '1', Go: 'yes' });
      await next.close();
    });

    it("is refused with 413 above grpc-go's 4 MiB default, headers included", async () => {
      const socket = await make().dial(address);
      const fits = new Uint8Array(DEFAULT_MAX_MESSAGE_SIZE - 1024);
      await socket.send({ header: { a: 'b' }, body: fits });
      expect((await within(socket.recv(), 10_000, 'a large echo')).body.byteLength).toBe(
        fits.length,
      );
      await socket.close();
      const over = await make().dial(address);
      // grpc-go refuses from the length prefix: the send itself may already fail.
      const refused = over
        .send({ header: { a: 'b' }, body: new Uint8Array(DEFAULT_MAX_MESSAGE_SIZE) })
        .then(() => over.recv());
      expect(code(await rejection(within(refused, 10_000, 'the refusal')))).toBe(413);
    });
  });

  it('is dropped by a Go server when it pings more often than every 5 minutes: why keepalive.time defaults to 5 min', async () => {
    const peer = start('serve');
    const address = await line(peer.lines);
    const eager = createGrpcTransport({
      logger: silentLogger,
      keepalive: { time: 500, timeout: 1000 },
    });
    transports.push(eager);
    const socket = await eager.dial(address);
    await socket.send({ header: {}, body: BODY });
    await socket.recv();
    // grpc-go answers the third early ping with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"),
    // which grpc-js also reports on its own logger: keep that quiet here.
    setLogVerbosity(logVerbosity.NONE);
    try {
      expect(code(await rejection(within(socket.recv(), 10_000, 'the Go server to drop us')))).toBe(
        503,
      );
    } finally {
      setLogVerbosity(logVerbosity.ERROR);
    }
  }, 15_000);

  describe('this listener, a Go client dialing as go-micro does', () => {
    it('exchanges header maps and bytes exactly; the Go Close fails the socket with 503', async () => {
      const listener = await make().listen('127.0.0.1:0');
      const accepted: Socket[] = [];
      const ends: unknown[] = [];
      listener.accept((socket) => {
        accepted.push(socket);
        void (async () => {
          while (true) {
            let message: Message;
            try {
              message = await socket.recv();
            } catch (error) {
              ends.push(error);
              return;
            }
            await socket.send({ header: { ...message.header, Ts: 'yes' }, body: message.body });
          }
        })();
      });
      const peer = start('dial', listener.address);
      const big = Buffer.alloc(1024 * 1024, 7);
      for (const message of [
        { header: HEADER, body: BODY },
        { header: {}, body: Buffer.alloc(0) },
        { header: { size: 'big' }, body: big },
      ]) {
        peer.child.stdin.write(
          `${JSON.stringify({ header: message.header, body: message.body.toString('base64') })}\n`,
        );
        const reply = JSON.parse(await line(peer.lines)) as {
          header?: Record<string, string>;
          body?: string | null;
          error?: string;
        };
        expect(reply.error).toBeUndefined();
        expect(reply.header).toEqual({ ...message.header, Ts: 'yes' });
        expect(Buffer.from(reply.body ?? '', 'base64').equals(message.body)).toBe(true);
      }
      await waitFor('the Go client to close each conversation', () => ends.length === 3);
      expect(ends.map(code)).toEqual([503, 503, 503]);
      expect(accepted).toHaveLength(3);
      peer.child.stdin.end();
    });
  });
});
