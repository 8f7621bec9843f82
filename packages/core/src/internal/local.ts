/**
 * The servers running in this process, by the address they registered, so a
 * client with the `local` option can call them without transport or codec
 * (go-micro v6's client.Local idea).
 */
import type { LocalRequest } from '../server/rpc-server.js';

/** What a local call needs from a server. */
export interface LocalServer {
  invokeLocal(request: LocalRequest): Promise<unknown>;
}

const servers = new Map<string, LocalServer>();

/** The process-wide directory of local servers. */
export const localServers = {
  add(address: string, server: LocalServer): void {
    servers.set(address, server);
  },
  /** Removes the entry if it is still this server's. */
  remove(address: string, server: LocalServer): void {
    if (servers.get(address) === server) servers.delete(address);
  },
  get(address: string): LocalServer | undefined {
    return servers.get(address);
  },
};
