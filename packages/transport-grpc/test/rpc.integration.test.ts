import * as path from 'node:path';
import { silentLogger } from '@micro/core';
import { rpcConformance } from '@micro/testing';
import { createGrpcTransport } from '../src/index.js';

// The child process loads the built package, so run `pnpm run build` first
// (turbo's test:integration task depends on the build).
rpcConformance('grpc', {
  server: { module: path.join(__dirname, '../dist/index.js'), factory: 'createGrpcTransport' },
  client: () => createGrpcTransport({ logger: silentLogger }),
});
