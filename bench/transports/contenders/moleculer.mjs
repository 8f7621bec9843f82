// moleculer-tcp: Moleculer's TCP transporter between two brokers. Discovery is static:
// UDP discovery (multicast by default) is turned off and both nodes get the same list
// of loopback URLs, as Moleculer documents for networks without multicast. Logger
// off; every other broker option at its default (JSON serializer, no metrics, no tracing).
import * as net from 'node:net';
import moleculer from 'moleculer';

const { ServiceBroker } = moleculer;
const SERVER = 'bench-server';
const CLIENT = 'bench-client';

/**
 * The TCP transporter's listener binds every interface and has no host option: bind
 * it to loopback instead, so nothing here is reachable from outside the machine.
 * Only listen calls without a host are changed; the benchmark checks the result.
 */
function listenOnLoopbackOnly() {
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (options, ...rest) {
    if (options !== null && typeof options === 'object' && options.host === undefined) {
      return listen.call(this, { ...options, host: '127.0.0.1' }, ...rest);
    }
    return listen.call(this, options, ...rest);
  };
}

/** A free loopback port (the TCP transporter needs its port before it starts). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function createBroker(nodeID, urls) {
  return new ServiceBroker({
    nodeID,
    logger: false,
    transporter: {
      type: 'TCP',
      options: { udpDiscovery: false, urls },
    },
  });
}

export async function serve() {
  listenOnLoopbackOnly();
  const urls = [
    `127.0.0.1:${await freePort()}/${SERVER}`,
    `127.0.0.1:${await freePort()}/${CLIENT}`,
  ];
  const broker = createBroker(SERVER, urls);
  broker.createService({
    name: 'greeter',
    actions: {
      async hello(ctx) {
        return { msg: `Hello ${ctx.params.name}` };
      },
    },
  });
  await broker.start();
  return { address: urls.join(','), close: () => broker.stop() };
}

export async function connect(address) {
  listenOnLoopbackOnly();
  const broker = createBroker(CLIENT, address.split(','));
  await broker.start();
  await broker.waitForServices('greeter', 10_000);
  return {
    call: (request) => broker.call('greeter.hello', request),
    close: () => broker.stop(),
  };
}
