// One Greeter instance: `node dist/greeter-service.js`. It registers in mDNS,
// serves Greeter.Hello and Greeter.Chat over TCP, and deregisters and drains on
// SIGTERM or SIGINT.
import { createConsoleLogger, createService } from '@micro/core';
import { components } from './components.js';
import { Greeter, type UserCreated } from './greeter.js';

const instance = process.env.GREETER_INSTANCE ?? 'greeter';
const logger = createConsoleLogger({ name: instance });

const service = await createService({
  name: 'helloworld',
  version: '1.0.0',
  metadata: { instance },
  logger,
  ...components(logger),
  hooks: {
    // The demo runner waits for this line before it starts the client.
    afterStart: () => console.log(`ready ${service.server.address}`),
  },
});
service.handle(new Greeter(instance));
service.subscribe<UserCreated>(
  'user.created',
  (user, context) => {
    console.log(`${context.topic}: welcome ${user.name} (#${user.id})`);
  },
  { queue: 'greeters' },
);
await service.run();
