// npm run demo: a Greeter service and a client in one process, with the
// in-process defaults (memory registry, transport and broker): nothing to install.
import { createService, silentLogger } from '@micro/core';
import { Greeter, type UserCreated } from './greeter.js';

let welcomed!: () => void;
const welcome = new Promise<void>((resolve) => {
  welcomed = resolve;
});

const service = await createService({ name: 'helloworld', version: '1.0.0' });
service.handle(new Greeter(service.id));
service.subscribe<UserCreated>('user.created', async (user, context) => {
  console.log(`[event]  ${context.topic} -> welcome ${user.name} (#${user.id})`);
  welcomed();
});
await service.start();

// A caller is any service (or createClient()); it finds helloworld in the registry.
const caller = await createService({ name: 'caller', logger: silentLogger });
await caller.start();
const helloworld = caller.client.service<{ Greeter: Greeter }>('helloworld');

const reply = await helloworld.Greeter.Hello(
  { name: 'John' },
  { metadata: { 'X-Caller': 'demo' } },
);
console.log(`[call]   Greeter.Hello -> ${reply.msg}`);

const chat = await helloworld.Greeter.Chat.stream();
for (const text of ['hi', 'how are you?']) await chat.send({ text });
await chat.closeSend();
for await (const message of chat) console.log(`[stream] Greeter.Chat -> ${message.text}`);

await caller.client.publish('user.created', { id: 1, name: 'Ada' } satisfies UserCreated);
await welcome;

await caller.stop();
await service.stop();
