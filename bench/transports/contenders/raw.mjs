// raw: node:net with 4-byte length-prefixed JSON frames on one connection, requests
// pipelined and matched by an id in the JSON, JSON-RPC style. What a careful engineer
// writes by hand: no framework, no headers, no deadlines; each frame leaves in one
// write. The practical limit the other contenders are compared with.
import * as net from 'node:net';

const MAX_FRAME = 4 * 1024 * 1024;

/** Encodes a message as one frame: a u32 big-endian length, then the JSON. */
function frame(message) {
  const json = JSON.stringify(message);
  const length = Buffer.byteLength(json);
  const buffer = Buffer.allocUnsafe(4 + length);
  buffer.writeUInt32BE(length, 0);
  buffer.write(json, 4);
  return buffer;
}

/**
 * Cuts frames out of a byte stream and calls `onFrame` with each frame's parsed JSON.
 * Frames within one chunk are parsed in place; a frame split across chunks is
 * gathered into one buffer of its exact size (each byte copied once).
 */
function frameDecoder(onFrame, onError) {
  let pending = []; // the pieces of an incomplete frame
  let pendingSize = 0;
  let needed = 0; // that frame's size with its prefix; 0 while the prefix itself is incomplete
  const parse = (buffer, start, end) => {
    let message;
    try {
      message = JSON.parse(buffer.toString('utf8', start, end));
    } catch (error) {
      onError(error);
      return false;
    }
    onFrame(message);
    return true;
  };
  const tooLarge = (length) => {
    if (length <= MAX_FRAME) return false;
    onError(new Error(`frame of ${length} bytes is over the ${MAX_FRAME} limit`));
    return true;
  };
  return (chunk) => {
    let offset = 0;
    if (pendingSize > 0) {
      if (needed === 0) {
        // Fewer than 4 bytes were left over: join them to this chunk and start again.
        chunk = Buffer.concat([...pending, chunk]);
        pending = [];
        pendingSize = 0;
      } else {
        const missing = needed - pendingSize;
        if (chunk.length < missing) {
          pending.push(chunk);
          pendingSize += chunk.length;
          return;
        }
        pending.push(chunk.subarray(0, missing));
        const frame = Buffer.concat(pending, needed);
        pending = [];
        pendingSize = 0;
        needed = 0;
        if (!parse(frame, 4, frame.length)) return;
        offset = missing;
      }
    }
    while (chunk.length - offset >= 4) {
      const length = chunk.readUInt32BE(offset);
      if (tooLarge(length)) return;
      const end = offset + 4 + length;
      if (end > chunk.length) break;
      if (!parse(chunk, offset + 4, end)) return;
      offset = end;
    }
    if (offset < chunk.length) {
      const rest = chunk.subarray(offset);
      pending = [rest];
      pendingSize = rest.length;
      needed = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : 0;
    }
  };
}

const handlers = {
  'Greeter.Hello': async (request) => ({ msg: `Hello ${request.name}` }),
};

export async function serve() {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const reply = (message) => {
      if (!socket.destroyed) socket.write(frame(message));
    };
    socket.on(
      'data',
      frameDecoder(
        ({ id, method, params }) => {
          const handler = handlers[method];
          if (handler === undefined) {
            reply({ id, error: `unknown method ${method}` });
            return;
          }
          handler(params).then(
            (result) => reply({ id, result }),
            (error) => reply({ id, error: String(error?.message ?? error) }),
          );
        },
        () => socket.destroy(),
      ),
    );
    socket.on('error', () => {});
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    address: `127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
      }),
  };
}

export async function connect(address) {
  const [host, port] = address.split(':');
  const socket = net.connect(Number(port), host);
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const pending = new Map();
  let nextId = 0;
  const failAll = (error) => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  socket.on(
    'data',
    frameDecoder(
      ({ id, result, error }) => {
        const call = pending.get(id);
        if (call === undefined) return;
        pending.delete(id);
        if (error !== undefined) call.reject(new Error(error));
        else call.resolve(result);
      },
      (error) => {
        failAll(error);
        socket.destroy();
      },
    ),
  );
  socket.on('error', failAll);
  socket.on('close', () => failAll(new Error('connection closed')));
  return {
    call(request) {
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        socket.write(frame({ id, method: 'Greeter.Hello', params: request }));
      });
    },
    close: () =>
      new Promise((resolve) => {
        socket.end(resolve);
      }),
  };
}
