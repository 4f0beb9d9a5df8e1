// Raw-socket helpers for HTTP engine tests: proxy listener, byte-recording upstreams, raw clients, a tiny response reader.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ConnectionHandler, NetworkFilterChain } from '../../sidecar/contracts.js';

export interface Listening {
  readonly port: number;
  close(): Promise<void>;
}

export interface ProxyHandle extends Listening {
  readonly handlers: ConnectionHandler[];
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closer(server: Server | HttpServer, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** A node:net listener handing each connection to `chain` (as the sidecar's listener does). */
export async function startProxy(chain: NetworkFilterChain): Promise<ProxyHandle> {
  const sockets = new Set<Socket>();
  const handlers: ConnectionHandler[] = [];
  // As the real listeners: allowHalfOpen, so the connection manager decides what a client FIN means.
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    handlers.push(chain.onConnection(s));
  });
  const port = await listen(server);
  return { port, handlers, close: closer(server, sockets) };
}

export interface RecordingUpstream extends Listening {
  /** Every byte received on every connection, concatenated. */
  received(): Buffer;
  connections: number;
}

/**
 * A raw TCP upstream that records every byte; when `reply` is set it writes it once per `\r\n\r\n`
 * seen (enough for body-less requests).
 */
export async function startRecordingUpstream(reply: string | null = null): Promise<RecordingUpstream> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server = createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let seen = '';
    s.on('data', (b: Buffer) => {
      chunks.push(b);
      if (reply === null) return;
      seen += b.toString('latin1');
      let i: number;
      while ((i = seen.indexOf('\r\n\r\n')) !== -1) {
        seen = seen.slice(i + 4);
        s.write(reply);
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    received: () => Buffer.concat(chunks),
    get connections() {
      return state.connections;
    },
    close: closer(server, sockets),
  };
}

export interface HttpUpstream extends Listening {
  readonly server: HttpServer;
  /** Distinct upstream connections seen. */
  connections(): number;
}

/** A node:http upstream (allowed in tests as the peer). */
export async function startHttpUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<HttpUpstream> {
  const sockets = new Set<Socket>();
  let seen = 0;
  const server = createHttpServer(handler);
  server.keepAliveTimeout = 10_000;
  server.on('connection', (s: Socket) => {
    seen++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  return { port, server, connections: () => seen, close: closer(server, sockets) };
}

export interface ExchangeResult {
  readonly data: Buffer;
  readonly text: string;
  /** The proxy closed the connection (vs. our timeout). */
  readonly closed: boolean;
}

/** Writes `payload` and collects everything until the peer closes or `timeoutMs` passes. */
export function exchange(port: number, payload: string | Buffer, timeoutMs = 2000): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1');
    let closed = false;
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('end', () => {
      closed = true;
    });
    s.on('error', () => {
      closed = true;
    });
    s.on('close', () => {
      clearTimeout(timer);
      const data = Buffer.concat(chunks);
      resolve({ data, text: data.toString('latin1'), closed });
    });
    s.write(payload);
  });
}

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  rawHead: string;
  body: Buffer;
}

/** Parses a run of HTTP/1.1 responses (Content-Length, chunked or, for the last one, close-delimited). */
export function parseResponses(buf: Buffer, headRequests = 0): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let off = 0;
  while (off < buf.length) {
    const he = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (he === -1) break;
    const rawHead = buf.toString('latin1', off, he);
    const lines = rawHead.split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      const k = l.slice(0, c).toLowerCase();
      const v = l.slice(c + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    off = he + 4;
    let body: Buffer = Buffer.alloc(0);
    const noBody = status < 200 || status === 204 || status === 304 || out.length < headRequests;
    if (noBody) {
      // no body
    } else if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const le = buf.indexOf('\r\n', off, 'latin1');
        if (le === -1) return out;
        const size = parseInt(buf.toString('latin1', off, le), 16);
        off = le + 2;
        if (size === 0) {
          const te = buf.indexOf('\r\n\r\n', off - 2, 'latin1');
          if (te === -1) return out;
          off = te + 4;
          break;
        }
        if (off + size + 2 > buf.length) return out;
        parts.push(buf.subarray(off, off + size));
        off += size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (off + n > buf.length) break;
      body = buf.subarray(off, off + n);
      off += n;
    } else {
      body = buf.subarray(off);
      off = buf.length;
    }
    out.push({ status, headers, rawHead, body });
  }
  return out;
}

/** A raw client connection that accumulates what it reads; `waitFor` resolves once a predicate holds. */
export class RawClient {
  readonly socket: Socket;
  data: Buffer;
  closed: boolean;
  #waiters: { pred: (c: RawClient) => boolean; resolve: () => void }[];

  private constructor(socket: Socket) {
    this.socket = socket;
    this.data = Buffer.alloc(0);
    this.closed = false;
    this.#waiters = [];
    socket.on('data', (b: Buffer) => {
      this.data = Buffer.concat([this.data, b]);
      this.#check();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#check();
    });
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  get text(): string {
    return this.data.toString('latin1');
  }

  write(d: string | Buffer): void {
    this.socket.write(d);
  }

  /** Resolves when `pred` holds; rejects after `timeoutMs`. */
  waitFor(pred: (c: RawClient) => boolean, timeoutMs = 3000): Promise<void> {
    if (pred(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out; got: ${JSON.stringify(this.text.slice(0, 500))}`)), timeoutMs);
      this.#waiters.push({
        pred,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }

  /** Waits for `n` complete responses. */
  responses(n: number, headRequests = 0, timeoutMs = 3000): Promise<ParsedResponse[]> {
    return this.waitFor((c) => parseResponses(c.data, headRequests).length >= n || c.closed, timeoutMs).then(() =>
      parseResponses(this.data, headRequests),
    );
  }

  close(): void {
    this.socket.destroy();
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (w.pred(this)) {
        w.resolve();
        return false;
      }
      return true;
    });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
