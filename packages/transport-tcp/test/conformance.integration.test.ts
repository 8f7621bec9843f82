import { silentLogger } from '@micro/core';
import { transportConformance } from '@micro/testing';
import { createTcpTransport } from '../src/index.js';
import { mutualTlsOptions, tlsOptions } from './helpers.js';

// The TCP transport needs no external server: these suites run against its own
// listener on loopback, so they never skip.
transportConformance('tcp', () => createTcpTransport({ logger: silentLogger }));

transportConformance('tcp over TLS', () =>
  createTcpTransport({ logger: silentLogger, tls: tlsOptions }),
);

transportConformance('tcp over mutual TLS', () =>
  createTcpTransport({ logger: silentLogger, tls: mutualTlsOptions }),
);

transportConformance(
  'tcp with small limits',
  () =>
    createTcpTransport({
      logger: silentLogger,
      maxMessageSize: 64 * 1024,
      streamWindow: 16 * 1024,
    }),
  { maxMessageSize: 64 * 1024 },
);
