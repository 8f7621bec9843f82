import type { ServiceDefinition } from '@grpc/grpc-js';

/** The gRPC service of go-micro's transport (proto/transport.proto). */
export const TRANSPORT_SERVICE_NAME = 'go.micro.transport.grpc.Transport';

/** The one method: a bidirectional stream per conversation. */
export const STREAM_PATH = `/${TRANSPORT_SERVICE_NAME}/Stream`;

const identity = (buffer: Buffer): Buffer => buffer;

/**
 * The service definition a listener registers. Messages pass through grpc-js as
 * the encoded bytes; the sockets encode and decode them (message-codec.ts).
 */
export const transportServiceDefinition: ServiceDefinition = {
  Stream: {
    path: STREAM_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: 'stream',
  },
};
