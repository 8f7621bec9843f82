// RabbitMQ: @micro/broker-rabbitmq against amqplib doing the same work. go-micro
// sends the raw body with the headers as an AMQP table (no envelope). Both: topic
// exchange `micro`, routing key = topic, a confirm channel (each publish waits for
// its confirm), a non-durable queue bound to the topic, the same prefetch, each
// message acked after its handler; connections with TCP_NODELAY and a 10 s heartbeat.
import { createRabbitMQBroker } from '@micro/broker-rabbitmq';
import * as amqp from 'amqplib';
import { silent } from './common.mjs';

export const variable = 'MICRO_TEST_RABBITMQ_ADDRESS';

/** Unacked deliveries per consumer, on both sides. */
export const PREFETCH = 100;

export async function serverVersion(address) {
  const probe = await amqp.connect(address);
  const { product, version } = probe.connection.serverProperties;
  await probe.close();
  return `${product} ${version}`;
}

export function clientVersion(read) {
  return `amqplib ${read('amqplib')}`;
}

export async function micro({ address }) {
  return { broker: createRabbitMQBroker({ url: address, prefetch: PREFETCH, logger: silent }) };
}

function open(address) {
  const url = new URL(address);
  url.searchParams.set('heartbeat', '10');
  return amqp.connect(url.toString(), { noDelay: true });
}

/** AMQP table values as strings, as @micro (and go-micro's `%v`) read them. */
function headersOf(table, routingKey) {
  const header = {};
  for (const key of Object.keys(table ?? {})) header[key] = String(table[key]);
  if (!header['Micro-Topic']) header['Micro-Topic'] = routingKey;
  return header;
}

export const raw = {
  async subscribe({ address, topic, queue }, onMessage) {
    const connection = await open(address);
    const channel = await connection.createChannel();
    await channel.assertExchange('micro', 'topic', { durable: false });
    await channel.prefetch(PREFETCH);
    await channel.assertQueue(queue, { durable: false, autoDelete: true, exclusive: false });
    await channel.bindQueue(queue, 'micro', topic);
    await channel.consume(
      queue,
      (message) => {
        if (message === null) return;
        const { routingKey } = message.fields;
        onMessage(routingKey, headersOf(message.properties.headers, routingKey), message.content);
        channel.ack(message);
      },
      { noAck: false },
    );
    return { info: undefined, close: () => connection.close() };
  },

  async publisher({ address, topic }) {
    const connection = await open(address);
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange('micro', 'topic', { durable: false });
    return {
      send(header, body) {
        return new Promise((resolve, reject) => {
          channel.publish('micro', topic, body, { headers: header }, (error) =>
            error ? reject(error) : resolve(),
          );
        });
      },
      close: () => connection.close(),
    };
  },
};
