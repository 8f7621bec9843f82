/**
 * Idle conversations kept per address for the next call, as go-micro's client
 * pool does (size 100, TTL 1 min). A conversation goes back to the pool only after
 * a clean reply; anything else closes it. Over gRPC this saves an HTTP/2 stream
 * per call, over the memory transport a dial.
 */
import type { Socket } from '../transport/transport.js';

interface Idle {
  socket: Socket;
  since: number;
}

/** go-micro's `DefaultPoolSize`. */
export const DEFAULT_POOL_SIZE = 100;
/** go-micro's `DefaultPoolTTL`: 1 min. */
export const DEFAULT_POOL_TTL = 60_000;

export class SocketPool {
  readonly #idle = new Map<string, Idle[]>();
  #sweeper: NodeJS.Timeout | undefined;

  /**
   * @param size idle conversations kept per address; 0 turns pooling off
   * @param ttl how long an idle conversation is kept, in milliseconds
   */
  constructor(
    readonly size: number,
    readonly ttl: number,
  ) {}

  /** A pooled conversation to `address`, or undefined: dial one then. */
  take(address: string): Socket | undefined {
    const idle = this.#idle.get(address);
    if (!idle) return undefined;
    const now = Date.now();
    for (let entry = idle.pop(); entry; entry = idle.pop()) {
      if (now - entry.since < this.ttl) return entry.socket;
      void entry.socket.close();
    }
    return undefined;
  }

  /** Keeps a conversation that ended a call cleanly, or closes it when the pool is full. */
  give(address: string, socket: Socket): void {
    let idle = this.#idle.get(address);
    if (!idle) {
      idle = [];
      this.#idle.set(address, idle);
    }
    if (idle.length >= this.size) {
      void socket.close();
      return;
    }
    idle.push({ socket, since: Date.now() });
    if (!this.#sweeper) {
      // Closes conversations idle past the TTL, to nodes nobody calls any more too.
      this.#sweeper = setInterval(() => this.#sweep(), Math.max(1_000, this.ttl / 2));
      this.#sweeper.unref();
    }
  }

  /** Closes every idle conversation. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    const sockets = [...this.#idle.values()].flat().map((entry) => entry.socket);
    this.#idle.clear();
    await Promise.all(sockets.map((socket) => socket.close().catch(() => {})));
  }

  #sweep(): void {
    const now = Date.now();
    for (const [address, idle] of this.#idle) {
      const kept = idle.filter((entry) => {
        if (now - entry.since < this.ttl) return true;
        void entry.socket.close();
        return false;
      });
      if (kept.length > 0) this.#idle.set(address, kept);
      else this.#idle.delete(address);
    }
    if (this.#idle.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}
