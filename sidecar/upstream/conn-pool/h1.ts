// HTTP/1.1 upstream connection pools: one keep-alive pool per endpoint, shared by every connection manager.
import { connect, type Socket } from 'node:net';
import type { ErrorCode } from '../../../src/core/errors.js';
import { sharedTimerWheel, WheelTimer, type TimerTarget, type TimerWheel } from '../../../src/core/timer-wheel.js';
import type { ClusterManager, UpstreamCluster, UpstreamEndpoint } from '../../contracts.js';
import type { HeaderMap } from '../../http/header-map.js';
import { H1Parser, ParserKind, type H1Message, type H1ParserHandler } from '../../http/h1/parser.js';
import {
  chunkHeader, CRLF, frameChunk, LAST_CHUNK, lastChunkWithTrailers, serializeRequestHead, SMALL_CHUNK,
} from '../../http/h1/serializer.js';

export const PoolFailure = { ConnectFailure: 0, ConnectTimeout: 1 } as const;
export type PoolFailure = (typeof PoolFailure)[keyof typeof PoolFailure];

export const UpstreamReset = { ConnectionTermination: 0, ProtocolError: 1 } as const;
export type UpstreamReset = (typeof UpstreamReset)[keyof typeof UpstreamReset];

/** The upstream half of one stream (the router); bound to a connection for one request/response. */
export interface UpstreamCallbacks {
  onPoolReady(conn: H1UpstreamConnection): void;
  onPoolFailure(reason: PoolFailure): void;
  /** Response head (1xx included; a 101 is followed by onUpstreamUpgraded). */
  onUpstreamHeaders(msg: H1Message): void;
  onUpstreamData(chunk: Buffer): void;
  onUpstreamComplete(trailers: HeaderMap | null): void;
  onUpstreamReset(reason: UpstreamReset): void;
  /** The upstream socket drained after a write returned false. */
  onUpstreamDrain(): void;
  /** After a 101: the socket is no longer HTTP and now belongs to the callee. */
  onUpstreamUpgraded(socket: Socket, pending: Buffer | null): void;
}

const T_CONNECT = 0;
const T_IDLE = 1;

/** One upstream TCP connection with its response parser; pooled between requests when keep-alive allows. */
export class H1UpstreamConnection implements H1ParserHandler, TimerTarget {
  readonly endpoint: UpstreamEndpoint;
  readonly pool: H1EndpointPool;
  connected: boolean;
  readonly #socket: Socket;
  readonly #parser: H1Parser;
  readonly #timer: WheelTimer;
  #client: UpstreamCallbacks | null;
  #requests: number;
  #requestDone: boolean;
  #responseKeepAlive: boolean;
  #closed: boolean;
  #corked: boolean;
  #timedOut: boolean;
  readonly #uncork: () => void;
  readonly #onConnect: () => void;
  readonly #onData: (b: Buffer) => void;
  readonly #onEnd: () => void;
  readonly #onClose: () => void;
  readonly #onDrain: () => void;

  constructor(pool: H1EndpointPool) {
    this.pool = pool;
    this.endpoint = pool.endpoint;
    this.connected = false;
    this.#parser = new H1Parser(ParserKind.Response, this);
    this.#timer = new WheelTimer(this, T_CONNECT);
    this.#client = null;
    this.#requests = 0;
    this.#requestDone = false;
    this.#responseKeepAlive = false;
    this.#closed = false;
    this.#corked = false;
    this.#timedOut = false;
    this.#uncork = () => {
      this.#corked = false;
      this.#socket.uncork();
    };
    this.#onConnect = () => this.#connected();
    this.#onData = (b: Buffer) => this.#data(b);
    this.#onEnd = () => this.#ended();
    this.#onClose = () => this.#closedEvent();
    this.#onDrain = () => this.#client?.onUpstreamDrain();
    const a = this.endpoint.address;
    this.#socket = connect({ host: a.address, port: a.port });
    this.#socket.setNoDelay(true);
    this.#socket.on('connect', this.#onConnect);
    this.#socket.on('data', this.#onData);
    this.#socket.on('end', this.#onEnd);
    this.#socket.on('close', this.#onClose);
    this.#socket.on('drain', this.#onDrain);
    this.#socket.on('error', noop);
    const stats = pool.cluster.stats;
    stats.upstream_cx_total.inc();
    pool.wheel.schedule(this.#timer, pool.cluster.config.connectTimeoutMs);
  }

  /** Usable for a new request (open, idle, not to a removed endpoint). */
  get reusable(): boolean {
    return !this.#closed && this.#client === null && !this.endpoint.removed && !this.#socket.readableEnded;
  }

  /** Binds the connection to a stream. */
  attach(client: UpstreamCallbacks): void {
    this.#client = client;
    this.#requestDone = false;
    this.#responseKeepAlive = false;
    // An idle connection's idle timer stops; a connecting one keeps its connect timer.
    if (this.connected) this.pool.wheel.cancel(this.#timer);
  }

  /** Writes the request head; `endStream` when no body follows. Returns false on backpressure. */
  writeHead(method: string, path: string, headers: HeaderMap, extra: string, endStream: boolean): boolean {
    this.#requests++;
    this.#parser.expectBodyless = method === 'HEAD';
    const head = serializeRequestHead(method, path, headers, extra);
    if (endStream) {
      this.#requestDone = true;
      return this.#socket.write(head, 'latin1');
    }
    this.#cork();
    return this.#socket.write(head, 'latin1');
  }

  /** Writes a body chunk (chunk-framed when `chunked`). */
  writeBody(chunk: Buffer, chunked: boolean): boolean {
    if (!chunked) return this.#socket.write(chunk);
    if (chunk.length <= SMALL_CHUNK) return this.#socket.write(frameChunk(chunk));
    this.#cork();
    this.#socket.write(chunkHeader(chunk.length), 'latin1');
    this.#socket.write(chunk);
    return this.#socket.write(CRLF);
  }

  /** Ends the request body (last chunk and trailers when chunked). */
  endRequest(chunked: boolean, trailers: HeaderMap | null): void {
    this.#requestDone = true;
    if (!chunked) return;
    if (trailers === null) this.#socket.write(LAST_CHUNK);
    else this.#socket.write(lastChunkWithTrailers(trailers), 'latin1');
  }

  readDisable(disable: boolean): void {
    if (this.#closed) return;
    if (disable) this.#socket.pause();
    else this.#socket.resume();
  }

  /** The stream gave up on this connection mid-request (timeout, downstream reset): close it. */
  abort(): void {
    this.#client = null;
    this.destroy();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.pool.wheel.cancel(this.#timer);
    this.#socket.destroy();
    this.pool.onClosed(this);
  }

  // TimerTarget
  onTimer(t: WheelTimer): void {
    if (t.kind === T_CONNECT) {
      this.#timedOut = true;
      this.pool.cluster.stats.upstream_cx_connect_timeout.inc();
      const c = this.#client;
      this.#client = null;
      this.destroy();
      c?.onPoolFailure(PoolFailure.ConnectTimeout);
    } else {
      this.destroy();
    }
  }

  // H1ParserHandler
  onHeaders(msg: H1Message): void {
    const c = this.#client;
    if (c === null) {
      this.destroy();
      return;
    }
    if (msg.status >= 200) this.#responseKeepAlive = msg.keepAlive;
    c.onUpstreamHeaders(msg);
  }

  onBody(chunk: Buffer): void {
    this.#client?.onUpstreamData(chunk);
  }

  onMessageComplete(trailers: HeaderMap | null): void {
    const c = this.#client;
    this.#client = null;
    const max = this.pool.cluster.config.maxRequestsPerConnection;
    const keep = this.#requestDone && this.#responseKeepAlive && !this.endpoint.removed && (max === 0 || this.#requests < max);
    if (keep) this.pool.release(this);
    else this.destroy();
    c?.onUpstreamComplete(trailers);
  }

  onParseError(_code: ErrorCode, _reason: string): void {
    const c = this.#client;
    this.#client = null;
    this.destroy();
    c?.onUpstreamReset(UpstreamReset.ProtocolError);
  }

  /** Pool-internal: back to idle with a fresh parser and the idle timer armed. */
  idle(ms: number): void {
    // A stream may have paused reads for backpressure and completed before the downstream drained:
    // an idle connection always reads, so a close (or stray bytes) from the upstream is seen.
    if (!this.#closed && this.#socket.isPaused()) this.#socket.resume();
    this.#parser.reset();
    this.#timer.kind = T_IDLE;
    this.pool.wheel.schedule(this.#timer, ms);
  }

  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(this.#uncork);
  }

  #connected(): void {
    this.connected = true;
    this.pool.wheel.cancel(this.#timer);
    this.pool.cluster.stats.upstream_cx_active.inc();
    this.endpoint.cxActive++;
    const c = this.#client;
    if (c === null) {
      this.pool.release(this);
      return;
    }
    c.onPoolReady(this);
  }

  #data(b: Buffer): void {
    if (this.#client === null && !this.#parser.upgraded) {
      // Bytes nobody asked for (on an idle connection): the connection is unusable.
      this.destroy();
      return;
    }
    this.#parser.execute(b);
    if (this.#parser.upgraded && this.#client !== null) this.#handOver();
  }

  #handOver(): void {
    const c = this.#client!;
    this.#client = null;
    const s = this.#socket;
    s.removeListener('data', this.#onData);
    s.removeListener('end', this.#onEnd);
    s.removeListener('drain', this.#onDrain);
    s.removeListener('close', this.#onClose);
    this.#closed = true;
    this.pool.onClosed(this);
    this.pool.cluster.stats.upstream_cx_active.dec();
    this.endpoint.cxActive--;
    this.connected = false;
    c.onUpstreamUpgraded(s, this.#parser.takePending());
  }

  #ended(): void {
    // Completes a close-delimited response (which releases the client); anything else in flight is a reset.
    this.#parser.finish();
    const c = this.#client;
    this.#client = null;
    this.destroy();
    c?.onUpstreamReset(UpstreamReset.ConnectionTermination);
  }

  #closedEvent(): void {
    const wasConnected = this.connected;
    if (wasConnected) {
      this.connected = false;
      this.pool.cluster.stats.upstream_cx_active.dec();
      this.endpoint.cxActive--;
    }
    const c = this.#client;
    this.#client = null;
    if (!this.#closed) {
      this.#closed = true;
      this.pool.wheel.cancel(this.#timer);
      this.pool.onClosed(this);
    }
    if (c === null) return;
    if (!wasConnected) {
      if (!this.#timedOut) {
        this.pool.cluster.stats.upstream_cx_connect_fail.inc();
        c.onPoolFailure(PoolFailure.ConnectFailure);
      }
    } else {
      c.onUpstreamReset(UpstreamReset.ConnectionTermination);
    }
  }
}

function noop(): void {}

/** Idle keep-alive connections to one endpoint (LIFO, so the warmest connection is reused first). */
export class H1EndpointPool {
  readonly endpoint: UpstreamEndpoint;
  readonly wheel: TimerWheel;
  cluster: UpstreamCluster;
  readonly #idle: H1UpstreamConnection[];
  readonly #all: Set<H1UpstreamConnection>;
  readonly #owner: H1ConnPools;

  constructor(owner: H1ConnPools, cluster: UpstreamCluster, endpoint: UpstreamEndpoint, wheel: TimerWheel) {
    this.#owner = owner;
    this.cluster = cluster;
    this.endpoint = endpoint;
    this.wheel = wheel;
    this.#idle = [];
    this.#all = new Set();
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  get totalCount(): number {
    return this.#all.size;
  }

  /** A connection bound to `client`: an idle one (check `connected`) or a new one still connecting. */
  newStream(client: UpstreamCallbacks): H1UpstreamConnection {
    const idle = this.#idle;
    while (idle.length > 0) {
      const c = idle.pop()!;
      if (c.reusable) {
        c.attach(client);
        return c;
      }
      c.destroy();
    }
    const c = new H1UpstreamConnection(this);
    this.#all.add(c);
    c.attach(client);
    return c;
  }

  release(c: H1UpstreamConnection): void {
    if (!c.reusable) {
      c.destroy();
      return;
    }
    this.#idle.push(c);
    c.idle(this.cluster.config.upstreamIdleTimeoutMs);
  }

  onClosed(c: H1UpstreamConnection): void {
    this.#all.delete(c);
    const i = this.#idle.indexOf(c);
    if (i !== -1) this.#idle.splice(i, 1);
    if (this.#all.size === 0 && this.endpoint.removed) this.#owner.forget(this);
  }

  /** Closes idle connections; busy ones close after their response. */
  closeIdle(): void {
    const idle = this.#idle.splice(0);
    for (const c of idle) c.destroy();
  }

  closeAll(): void {
    for (const c of [...this.#all]) c.destroy();
  }
}

/** All H1 endpoint pools of one ClusterManager; closes pools of endpoints EDS removed. */
export class H1ConnPools {
  readonly #pools: Map<UpstreamEndpoint, H1EndpointPool>;
  readonly #wheel: TimerWheel;

  constructor(clusters: ClusterManager, wheel: TimerWheel = sharedTimerWheel) {
    this.#pools = new Map();
    this.#wheel = wheel;
    clusters.onEndpointRemoved((ep) => {
      const p = this.#pools.get(ep);
      if (p === undefined) return;
      p.closeIdle();
      if (p.totalCount === 0) this.#pools.delete(ep);
    });
  }

  static #byManager = new WeakMap<ClusterManager, H1ConnPools>();

  /** The pools shared by every connection manager using `clusters`. */
  static for(clusters: ClusterManager): H1ConnPools {
    let p = H1ConnPools.#byManager.get(clusters);
    if (p === undefined) {
      p = new H1ConnPools(clusters);
      H1ConnPools.#byManager.set(clusters, p);
    }
    return p;
  }

  pool(cluster: UpstreamCluster, endpoint: UpstreamEndpoint): H1EndpointPool {
    let p = this.#pools.get(endpoint);
    if (p === undefined) {
      p = new H1EndpointPool(this, cluster, endpoint, this.#wheel);
      this.#pools.set(endpoint, p);
    } else if (p.cluster !== cluster) {
      p.cluster = cluster;
    }
    return p;
  }

  newStream(cluster: UpstreamCluster, endpoint: UpstreamEndpoint, client: UpstreamCallbacks): H1UpstreamConnection {
    return this.pool(cluster, endpoint).newStream(client);
  }

  /** Pool-internal: an empty pool of a removed endpoint. */
  forget(p: H1EndpointPool): void {
    if (this.#pools.get(p.endpoint) === p) this.#pools.delete(p.endpoint);
  }

  closeAll(): void {
    for (const p of this.#pools.values()) p.closeAll();
    this.#pools.clear();
  }
}
