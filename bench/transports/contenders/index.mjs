// The contenders, by name. Each one has `serve()` -> { address, close() } for the
// server process and `connect(address)` -> { call(request), close() } for the client.
// Loaded lazily: a process imports only the framework it runs.

export const CONTENDERS = {
  raw: () => import('./raw.mjs'),
  'micro-tcp': async () => (await import('./micro.mjs')).microContender('tcp'),
  'micro-grpc': async () => (await import('./micro.mjs')).microContender('grpc'),
  grpc: () => import('./grpc.mjs'),
  'moleculer-tcp': () => import('./moleculer.mjs'),
  'nest-tcp': () => import('./nest.mjs'),
};
