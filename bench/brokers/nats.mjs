// NATS: @micro/broker-nats against the nats client (nats.js) doing the same work.
// go-micro's NATS payload is the JSON envelope, so the raw side writes and reads it
// too; subject = topic, queue group = queue, separate connections per side.
import { createNatsBroker } from '@micro/broker-nats';
import { connect } from 'nats';
import { readEnvelope, silent, writeEnvelope } from './common.mjs';

export const variable = 'MICRO_TEST_NATS_ADDRESS';

export async function serverVersion(address) {
  const probe = await connect({ servers: address });
  const version = probe.info?.version;
  await probe.close();
  return `nats-server ${version}`;
}

export function clientVersion(read) {
  return `nats ${read('nats')}`;
}

/** @micro's broker for one side. */
export async function micro({ address }) {
  return { broker: createNatsBroker({ addresses: [address], logger: silent }) };
}

export const raw = {
  async subscribe({ address, topic, queue }, onMessage) {
    const connection = await connect({ servers: address });
    connection.subscribe(topic, {
      queue,
      callback: (error, msg) => {
        if (error) throw error;
        const { header, body } = readEnvelope(msg.data);
        onMessage(msg.subject, header, body);
      },
    });
    await connection.flush();
    return { info: undefined, close: () => connection.drain() };
  },

  async publisher({ address, topic }) {
    const connection = await connect({ servers: address });
    return {
      send(header, body) {
        connection.publish(topic, writeEnvelope(header, body));
      },
      close: () => connection.drain(),
    };
  },
};
