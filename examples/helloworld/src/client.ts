// The caller: finds helloworld through mDNS, spreads calls over its instances,
// opens a stream and publishes an event. `node dist/client.js`.
import { createConsoleLogger, createService, isMicroError } from '@micro/core';
import { components } from './components.js';
import type { Greeter, UserCreated } from './greeter.js';

const logger = createConsoleLogger({ name: 'client', level: 'warn' });
const parts = components(logger);
const caller = await createService({ name: 'caller', logger, ...parts });
await caller.start();

// Wait (bounded) until both instances have answered mDNS.
const expected = Number(process.env.GREETER_INSTANCES ?? 2);
const deadline = Date.now() + 10_000;
let instances = 0;
while (Date.now() < deadline) {
  const found = await parts.registry.getService('helloworld').catch(() => []);
  instances = found.reduce((sum, service) => sum + service.nodes.length, 0);
  if (instances >= expected) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
console.log(`found ${instances} helloworld instance(s) through mDNS`);

const helloworld = caller.client.service<{ Greeter: Greeter }>('helloworld');
const answeredBy = new Map<string, number>();
for (let i = 1; i <= 10; i++) {
  const reply = await helloworld.Greeter.Hello(
    { name: `John ${i}` },
    { metadata: { 'X-Caller': 'demo' } },
  );
  answeredBy.set(reply.from, (answeredBy.get(reply.from) ?? 0) + 1);
  console.log(`Greeter.Hello -> ${reply.msg} [${reply.from}]`);
}
console.log(
  `answers per instance: ${[...answeredBy].map(([from, n]) => `${from}=${n}`).join(', ')}`,
);

const chat = await helloworld.Greeter.Chat.stream();
for (const text of ['hi', 'how are you?']) await chat.send({ text });
await chat.closeSend();
for await (const message of chat) console.log(`Greeter.Chat -> ${message.text}`);

try {
  await caller.client.call('helloworld', 'Greeter.Goodbye', {});
} catch (error) {
  if (isMicroError(error))
    console.log(`Greeter.Goodbye -> ${error.code} ${error.status}: ${error.detail}`);
}

// Each greeter subscribes in the queue "greeters": exactly one of them gets it.
await caller.client.publish('user.created', { id: 1, name: 'Ada' } satisfies UserCreated);
console.log('published user.created');
await caller.stop();
// stop() disconnected the broker; the registry and transport were passed in, so
// they are ours to close.
await parts.transport.close();
await parts.registry.close();
