import { silentLogger } from '@micro/core';
import { transportConformance } from '@micro/testing';
import { createGrpcTransport } from '../src/index.js';

transportConformance('grpc', () => createGrpcTransport({ logger: silentLogger }));
