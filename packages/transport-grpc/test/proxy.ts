// A TCP proxy for fault tests: it forwards bytes to a target and can cut every
// connection (a broken connection) or stall them (a peer that stops answering).
import * as net from 'node:net';

export interface TcpProxy {
  /** `127.0.0.1:<port>` to dial instead of the target. */
  address: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection, both sides, at once. */
  cut(): void;
  /** Stops forwarding in both directions and drops what arrives, keeping the connections open. */
  stall(): void;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<TcpProxy> {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon);
  const port = Number(target.slice(colon + 1));
  const pairs = new Set<[net.Socket, net.Socket]>();
  let accepted = 0;
  let stalled = false;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(port, host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (!stalled) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const cut = () => {
    for (const [client, upstream] of pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    pairs.clear();
  };
  return {
    address,
    get accepted() {
      return accepted;
    },
    cut,
    stall() {
      stalled = true;
    },
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
