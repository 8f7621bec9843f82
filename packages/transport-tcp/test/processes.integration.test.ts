// The runtime end to end across two real processes over TCP.
import { join } from 'node:path';
import { silentLogger } from '@micro/core';
import { rpcConformance } from '@micro/testing';
import { createTcpTransport } from '../src/index.js';

rpcConformance('tcp', {
  server: { module: join(__dirname, '../dist/index.js'), factory: 'createTcpTransport' },
  client: () => createTcpTransport({ logger: silentLogger }),
});
