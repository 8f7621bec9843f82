// Kafka: @micro/broker-kafka against kafkajs doing the same work. go-micro's record
// value is the JSON envelope (no key, no Kafka headers), so the raw side writes and
// reads it too. Both: one record per produce request with acks=-1 and the same
// producer settings; a consumer in its own group on a fresh one-partition topic with
// @micro's consumer timings, offsets committed by kafkajs after the handler.
import { randomBytes } from 'node:crypto';
import { createKafkaBroker } from '@micro/broker-kafka';
import kafkajs from 'kafkajs';
import { readEnvelope, silent, writeEnvelope } from './common.mjs';

const { Kafka, logLevel, Partitioners } = kafkajs;

export const variable = 'MICRO_TEST_KAFKA_ADDRESS';

// @micro's defaults (broker-kafka options.ts), given to the raw consumer as well.
const CONSUMER = {
  sessionTimeout: 30_000,
  heartbeatInterval: 3_000,
  rebalanceTimeout: 60_000,
  maxWaitTimeInMs: 500,
};
const COMMIT_INTERVAL = 5_000;

function client(address) {
  return new Kafka({ brokers: [address], clientId: 'micro', logLevel: logLevel.NOTHING });
}

export async function serverVersion(address) {
  const admin = client(address).admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    return `Kafka ${process.env.MICRO_KAFKA_VERSION ?? '3.9.1'} (KRaft, ${brokers.length} broker)`;
  } finally {
    await admin.disconnect();
  }
}

export function clientVersion(read) {
  return `kafkajs ${read('kafkajs')}`;
}

/** Each measurement uses a topic of its own: a consumer group never sees old records. */
export function topicName(contender) {
  return `bench-${contender}-${randomBytes(4).toString('hex')}`;
}

export async function micro({ address }) {
  return { broker: createKafkaBroker({ addresses: [address], logger: silent }) };
}

export const raw = {
  async subscribe({ address, topic, queue }, onMessage) {
    const kafka = client(address);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId: queue, ...CONSUMER });
    await consumer.connect();
    // A fresh topic read from its start: nothing published after ready is missed.
    await consumer.subscribe({ topic, fromBeginning: true });
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    await consumer.run({
      autoCommit: true,
      autoCommitInterval: COMMIT_INTERVAL,
      eachMessage: async ({ topic: from, message }) => {
        const { header, body } = readEnvelope(message.value);
        onMessage(from, header, body);
      },
    });
    await joined;
    return { info: undefined, close: () => consumer.disconnect() };
  },

  async publisher({ address, topic }) {
    const producer = client(address).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    return {
      send(header, body) {
        return producer.send({
          topic,
          acks: -1,
          messages: [{ value: writeEnvelope(header, body) }],
        });
      },
      close: () => producer.disconnect(),
    };
  },
};
