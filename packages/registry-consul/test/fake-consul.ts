/**
 * A small stand-in for a Consul agent's HTTP API, for unit tests of request
 * shapes, error mapping and watch diffing. It implements only what the registry
 * calls: agent service register/deregister, check pass, health service and
 * catalog services, with blocking queries (index + wait). The real server is
 * tested in the integration suite.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

interface AgentService {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
  Check?: Record<string, unknown>;
  status: 'passing' | 'critical' | undefined;
}

/** Answers a request instead of the fake's own routes when it returns a response. */
export type Override = (
  request: RecordedRequest,
) => { status: number; body?: string; contentType?: string } | 'hang' | undefined;

export class FakeConsul {
  readonly requests: RecordedRequest[] = [];
  readonly services = new Map<string, AgentService>();
  override: Override | undefined;
  nodeAddress = '10.0.0.9';
  #index = 100n;
  #waiters = new Set<() => void>();
  readonly #server: http.Server;

  /** @param tls serve HTTPS with these options (key, cert, and ca + requestCert for mutual TLS) */
  constructor(tls?: https.ServerOptions) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.#handle(req, res);
    this.#server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  }

  /** @returns the `host:port` it listens on */
  async start(host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, host, resolve));
    const { port } = this.#server.address() as AddressInfo;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }

  async stop(): Promise<void> {
    for (const wake of this.#waiters) wake();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Forgets everything and drops connections, like a restarted dev-mode agent. */
  restart(): void {
    this.services.clear();
    this.#index = 5n;
    this.#server.closeAllConnections();
    this.#bump();
  }

  /** Drops every connection, as a crashed agent or a network cut would. */
  disconnect(): void {
    this.#server.closeAllConnections();
  }

  /** Sets a service's check status, as Consul's TTL timer or a check run would. */
  setStatus(id: string, status: 'passing' | 'critical'): void {
    const service = this.services.get(id);
    if (!service) throw new Error(`no service ${id}`);
    service.status = status;
    this.#bump();
  }

  /** Registers a service as another client (a Go service, say) would. */
  put(service: Omit<AgentService, 'status'>, status?: 'passing' | 'critical'): void {
    this.services.set(service.ID, { ...service, status });
    this.#bump();
  }

  /** The requests made so far, as `METHOD path` lines. */
  calls(filter?: (r: RecordedRequest) => boolean): string[] {
    return this.requests.filter(filter ?? (() => true)).map((r) => `${r.method} ${r.path}`);
  }

  /** Open blocking queries. */
  get blocked(): number {
    return this.#waiters.size;
  }

  #bump(): void {
    this.#index++;
    for (const wake of [...this.#waiters]) wake();
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const text = Buffer.concat(chunks).toString('utf8');
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    this.requests.push(request);
    const overridden = this.override?.(request);
    if (overridden === 'hang') return;
    if (overridden) {
      res.writeHead(overridden.status, { 'content-type': overridden.contentType ?? 'text/plain' });
      res.end(overridden.body ?? '');
      return;
    }
    const send = (status: number, body: unknown) => {
      const json = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
        'x-consul-index': this.#index.toString(),
      });
      res.end(json);
    };
    const path = request.path;
    const deregister = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(path);
    const pass = /^\/v1\/agent\/check\/pass\/service:(.+)$/.exec(path);
    const health = /^\/v1\/health\/service\/(.+)$/.exec(path);
    if (req.method === 'PUT' && path === '/v1/agent/service/register') {
      const body = request.body as Record<string, unknown>;
      const id = String(body.ID ?? body.Name);
      const previous = this.services.get(id);
      const check = body.Check as Record<string, unknown> | undefined;
      this.services.set(id, {
        ID: id,
        Service: String(body.Name),
        Tags: (body.Tags as string[]) ?? [],
        Address: String(body.Address ?? ''),
        Port: Number(body.Port ?? 0),
        Meta: (body.Meta as Record<string, string>) ?? {},
        Check: check,
        // Consul keeps a re-registered check's status; a new check starts critical.
        status: check ? (previous?.status ?? 'critical') : undefined,
      });
      this.#bump();
      return send(200, '');
    }
    if (req.method === 'PUT' && deregister) {
      if (!this.services.delete(deregister[1]!)) {
        return send(404, `Unknown service ID "${deregister[1]}"`);
      }
      this.#bump();
      return send(200, '');
    }
    if (req.method === 'PUT' && pass) {
      const service = this.services.get(pass[1]!);
      if (!service?.Check?.TTL) return send(404, `Unknown check ID "service:${pass[1]}"`);
      if (service.status !== 'passing') {
        service.status = 'passing';
        this.#bump();
      }
      return send(200, '');
    }
    if (req.method === 'GET' && health) {
      await this.#block(request, res);
      const name = health[1]!;
      const entries = [...this.services.values()]
        .filter((s) => s.Service === name)
        .map((s) => ({
          Node: { Node: 'fake', Address: this.nodeAddress },
          Service: {
            ID: s.ID,
            Service: s.Service,
            Tags: s.Tags,
            Address: s.Address,
            Port: s.Port,
            Meta: s.Meta,
          },
          Checks: [
            { CheckID: 'serfHealth', ServiceID: '', Status: 'passing' },
            ...(s.status
              ? [{ CheckID: `service:${s.ID}`, ServiceID: s.ID, Status: s.status }]
              : []),
          ],
        }));
      return send(200, entries);
    }
    if (req.method === 'GET' && path === '/v1/catalog/services') {
      await this.#block(request, res);
      const out: Record<string, string[]> = { consul: [] };
      for (const s of this.services.values()) {
        out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...s.Tags])];
      }
      return send(200, out);
    }
    send(404, `no route ${req.method} ${path}`);
  }

  /**
   * A blocking query as Consul answers it: hold the request while the client's
   * index is not below the current one, until `wait` runs out.
   */
  async #block(request: RecordedRequest, res: http.ServerResponse): Promise<void> {
    const index = request.query.get('index');
    if (!index) return;
    const until = Date.now() + parseWait(request.query.get('wait') ?? '5m');
    while (BigInt(index) >= this.#index && Date.now() < until && !res.closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          res.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, until - Date.now());
        this.#waiters.add(done);
        res.on('close', done);
      });
    }
  }
}

/** The `wait` parameter, a Go duration such as `2s`, `1m0s` or `1.5s`. */
function parseWait(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const [, value, unit] of text.matchAll(/([\d.]+)(ms|h|m|s)/g)) {
    total += Number(value) * units[unit!]!;
  }
  return total;
}
