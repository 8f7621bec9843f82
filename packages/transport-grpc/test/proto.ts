// The shipped proto/transport.proto loaded with @grpc/proto-loader, as a client in
// another language would load go-micro's: the reference the hand-written codec and
// the listener are checked against.
import * as path from 'node:path';
import type { MethodDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** A decoded `go.micro.transport.grpc.Message`, as protobuf.js builds it. */
export interface ProtoMessage {
  header: Record<string, string>;
  body: Buffer;
}

export const PROTO_FILE = path.join(__dirname, '../proto/transport.proto');

export const packageDefinition = loadSync(PROTO_FILE, {
  keepCase: true,
  defaults: true,
});

/** The `Stream` method as proto-loader defines it (path, serializers). */
export const streamMethod = (
  packageDefinition['go.micro.transport.grpc.Transport'] as unknown as Record<
    string,
    MethodDefinition<ProtoMessage, ProtoMessage>
  >
).Stream!;

/** Encodes with protobuf.js. */
export const protoEncode = (message: Partial<ProtoMessage>): Buffer =>
  streamMethod.requestSerialize(message as ProtoMessage);

/** Decodes with protobuf.js. */
export const protoDecode = (buffer: Buffer): ProtoMessage =>
  streamMethod.responseDeserialize(buffer);
