// nest-tcp: @nestjs/microservices' TCP transport, written as the Nest docs write it:
// a controller with a @MessagePattern({ cmd }) handler in a module started by
// NestFactory.createMicroservice, and a ClientProxy whose send() is awaited. (An object
// pattern, as in the docs: Nest tries JSON.parse on every incoming pattern, and a plain
// string pattern makes that throw, and capture a stack, on every message.)
//
// Node runs this file without a TypeScript step, so the decorators are applied with
// Reflect.decorate, which is what tsc emits (experimentalDecorators and
// emitDecoratorMetadata, as Nest projects are configured) for:
//
//   @Controller()
//   class GreeterController {
//     @MessagePattern({ cmd: 'hello' })
//     async hello(data: { name: string }) { return { msg: `Hello ${data.name}` }; }
//   }
//   @Module({ controllers: [GreeterController] })
//   class AppModule {}
import 'reflect-metadata';
import * as net from 'node:net';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, MessagePattern, Transport } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';

const PATTERN = { cmd: 'hello' };

let GreeterController = class GreeterController {
  async hello(data) {
    return { msg: `Hello ${data.name}` };
  }
};
Object.defineProperty(
  GreeterController.prototype,
  'hello',
  Reflect.decorate(
    [
      MessagePattern(PATTERN),
      Reflect.metadata('design:type', Function),
      Reflect.metadata('design:paramtypes', [Object]),
      Reflect.metadata('design:returntype', Promise),
    ],
    GreeterController.prototype,
    'hello',
    Object.getOwnPropertyDescriptor(GreeterController.prototype, 'hello'),
  ),
);
GreeterController = Reflect.decorate([Controller()], GreeterController);

let AppModule = class AppModule {};
AppModule = Reflect.decorate([Module({ controllers: [GreeterController] })], AppModule);

/** A free loopback port: Nest's TCP server reports no port it picked itself. */
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

export async function serve() {
  const port = await freePort();
  const app = await NestFactory.createMicroservice(AppModule, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port },
    logger: false,
  });
  await app.listen();
  return { address: `127.0.0.1:${port}`, close: () => app.close() };
}

export async function connect(address) {
  const [host, port] = address.split(':');
  const client = ClientProxyFactory.create({
    transport: Transport.TCP,
    options: { host, port: Number(port) },
  });
  await client.connect();
  return {
    call: (request) => firstValueFrom(client.send(PATTERN, request)),
    close: () => client.close(),
  };
}
