import { Etcd3, type IOptions, type KVClient } from 'etcd3';
import type { ResolvedEtcdOptions } from './options.js';

/** gRPC per-call options, as etcd3 takes them. */
export type CallOptions = NonNullable<Parameters<KVClient['range']>[1]>;

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Policy = NonNullable<FaultHandling['global']>;
type Backoff = NonNullable<FaultHandling['watchBackoff']>;

/** The longest pause between two attempts to reopen etcd's watch stream. */
export const MAX_RECONNECT_DELAY = 1_000;

const noEvent = () => ({ dispose: () => {} });

/**
 * A fault-handling policy that runs the call once per attempt, moving on to the
 * next host only on a transient failure. etcd3's default (three retries, then a
 * circuit breaker that refuses every call for 5 s) would keep failing for
 * seconds after etcd is back; the registry retries on its own schedule instead.
 */
function attempts(count: number, isTransient: (error: unknown) => boolean): Policy {
  const policy = {
    onSuccess: noEvent,
    onFailure: noEvent,
    async execute<T>(
      fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T,
      signal?: AbortSignal,
    ): Promise<T> {
      const context = { signal: signal ?? new AbortController().signal };
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn(context);
        } catch (error) {
          if (attempt >= count || !isTransient(error) || context.signal.aborted) throw error;
        }
      }
    },
  };
  // `_altReturn` is a type-only member of cockatiel's IPolicy
  return policy as unknown as Policy;
}

/** Reconnect delays for the watch stream: 100 ms doubling to {@link MAX_RECONNECT_DELAY}, jittered. */
function reconnectBackoff(attempt: number): Backoff {
  const ceiling = Math.min(MAX_RECONNECT_DELAY, 100 * 2 ** attempt);
  return {
    duration: ceiling / 2 + Math.random() * (ceiling / 2),
    next: () => reconnectBackoff(attempt + 1),
  };
}

/**
 * Builds the etcd3 client with bounded calls: every unary call carries a gRPC
 * deadline of the registry timeout (etcd3 sets none by default, so a silent
 * server would hang a caller), streams none.
 * @param options resolved registry options
 * @param isTransient which failures may be retried on another host
 */
export function createEtcdClient(
  options: ResolvedEtcdOptions,
  isTransient: (error: unknown) => boolean,
): Etcd3 {
  const { tls, auth, timeout } = options;
  const config: IOptions = {
    // etcd3 turns TLS with the system's roots on for https:// hosts
    hosts: options.hosts.map((host) => (tls && !tls.ca && !tls.cert ? `https://${host}` : host)),
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    faultHandling: {
      host: () => attempts(1, isTransient),
      global: attempts(options.hosts.length, isTransient),
      watchBackoff: {
        duration: 0,
        next: () => reconnectBackoff(0),
      },
    },
    grpcOptions: {
      // reconnect to a restarted etcd within a second, not after gRPC's 2-minute backoff ceiling
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_DELAY,
      // notice a dead connection under an open watch (etcd permits pings every 5 s or more)
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': timeout,
      // as go's clientv3: responses (a large ListServices) are not capped at gRPC's 4 MiB
      'grpc.max_receive_message_length': -1,
    },
  };
  if (auth) config.auth = { username: auth.username, password: auth.password };
  if (tls && (tls.ca || tls.cert)) {
    config.credentials = {
      // grpc-js uses its default roots when this is undefined (mutual TLS against a public CA)
      rootCertificate: tls.ca as Buffer,
      ...(tls.key ? { privateKey: tls.key } : {}),
      ...(tls.cert ? { certChain: tls.cert } : {}),
    };
  }
  return new Etcd3(config);
}
