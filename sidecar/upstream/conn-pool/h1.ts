// HTTP/1.1 upstream connection pools: one keep-alive pool per endpoint, under the cluster's circuit breakers.
import type { Socket } from 'node:net';
import { openUpstream } from '../transport.js';
import type { ErrorCode } from '../../../src/core/errors.js';
import { sharedTimerWheel, WheelTimer, type TimerTarget, type TimerWheel } from '../../../src/core/timer-wheel.js';
import type { ClusterManager, ClusterResources, ResourceLimit, UpstreamCluster, UpstreamEndpoint } from '../../contracts.js';
import type { HeaderMap } from '../../http/header-map.js';
import { H1Parser, ParserKind, type H1Message, type H1ParserHandler } from '../../http/h1/parser.js';
import {
  CHUNKED_LINE, chunkHeader, CRLF, frameChunk, LAST_CHUNK, lastChunkWithTrailers, serializeRequestHead, SMALL_CHUNK,
} from '../../http/h1/serializer.js';
import { PoolFailure, UpstreamReset, type ConnPool, type UpstreamCallbacks, type UpstreamRequest } from './pool.js';

const UPGRADE_LINE = 'connection: upgrade\r\n';

const T_CONNECT = 0;
const T_IDLE = 1;

/** One upstream TCP connection with its response parser; pooled between requests when keep-alive allows. */
export class H1UpstreamConnection implements UpstreamRequest, H1ParserHandler, TimerTarget {
  readonly endpoint: UpstreamEndpoint;
  readonly pool: H1EndpointPool;
  connected: boolean;
  /** The circuit-breaker connection slot this connection holds (released on close). */
  readonly #slot: ResourceLimit;
  #slotHeld: boolean;
  /** The current request's body is chunk-framed. */
  #chunked: boolean;
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
  /** A request head waiting for the first body chunk (see writeHead). */
  #heldHead: string | null;
  readonly #flushHead: () => void;
  readonly #onConnect: () => void;
  readonly #onData: (b: Buffer) => void;
  readonly #onEnd: () => void;
  readonly #onClose: () => void;
  readonly #onDrain: () => void;

  constructor(pool: H1EndpointPool, slot: ResourceLimit) {
    this.pool = pool;
    this.endpoint = pool.endpoint;
    this.connected = false;
    this.#slot = slot;
    slot.inc();
    this.#slotHeld = true;
    this.#chunked = false;
    this.#parser = new H1Parser(ParserKind.Response, this);
    this.#timer = new WheelTimer(this, T_CONNECT);
    this.#client = null;
    this.#requests = 0;
    this.#requestDone = false;
    this.#responseKeepAlive = false;
    this.#closed = false;
    this.#corked = false;
    this.#timedOut = false;
    this.#heldHead = null;
    this.#flushHead = () => {
      const h = this.#heldHead;
      if (h === null) return;
      this.#heldHead = null;
      if (!this.#closed) this.#socket.write(h, 'latin1');
    };
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
    const up = openUpstream(pool.cluster, a.address, a.port);
    this.#socket = up.socket;
    this.#socket.setNoDelay(true);
    this.#socket.on(up.readyEvent, this.#onConnect);
    this.#socket.on('data', this.#onData);
    this.#socket.on('end', this.#onEnd);
    this.#socket.on('close', this.#onClose);
    this.#socket.on('drain', this.#onDrain);
    this.#socket.on('error', noop);
    const stats = pool.cluster.stats;
    stats.upstream_cx_total.inc();
    pool.wheel.schedule(this.#timer, pool.cluster.config.connectTimeoutMs);
  }

  /** Pool-internal: gives the circuit-breaker slot back (once, when the connection is gone). */
  releaseSlot(): void {
    if (!this.#slotHeld) return;
    this.#slotHeld = false;
    this.#slot.dec();
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

  /** Writes the request head; the body is content-length framed when the header is there, else chunked. */
  writeHead(method: string, path: string, _scheme: string, headers: HeaderMap, endStream: boolean, upgrade: boolean): boolean {
    this.#requests++;
    this.#parser.expectBodyless = method === 'HEAD';
    const chunked = !endStream && !upgrade && !headers.has('content-length');
    this.#chunked = chunked;
    const extra = chunked ? CHUNKED_LINE : upgrade ? UPGRADE_LINE : '';
    const head = serializeRequestHead(method, path, headers, extra);
    if (endStream) {
      this.#requestDone = true;
      return this.#socket.write(head, 'latin1');
    }
    if (!chunked && !upgrade) {
      // A sized body usually arrives in the same event-loop turn (HTTP/2 DATA after HEADERS, or the rest of an
      // HTTP/1.1 read): hold the head and write both with one writev; flush the head alone if the turn ends first.
      this.#heldHead = head;
      setImmediate(this.#flushHead);
      return true;
    }
    this.#cork();
    return this.#socket.write(head, 'latin1');
  }

  /** Writes a body chunk (chunk-framed when the request is chunked). */
  writeBody(chunk: Buffer): boolean {
    const held = this.#heldHead;
    if (held !== null) {
      this.#heldHead = null;
      this.#socket.cork();
      this.#socket.write(held, 'latin1');
      const ok = this.#socket.write(chunk);
      this.#socket.uncork();
      return ok;
    }
    if (!this.#chunked) return this.#socket.write(chunk);
    if (chunk.length <= SMALL_CHUNK) return this.#socket.write(frameChunk(chunk));
    this.#cork();
    this.#socket.write(chunkHeader(chunk.length), 'latin1');
    this.#socket.write(chunk);
    return this.#socket.write(CRLF);
  }

  /** Ends the request body (last chunk and trailers when chunked; trailers are dropped otherwise). */
  endRequest(trailers: HeaderMap | null): void {
    this.#requestDone = true;
    this.#flushHead();
    if (!this.#chunked) return;
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
    c.onUpstreamHeaders(msg.status, msg.headers, msg.bodyless);
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

/** A request waiting for a connection while the cluster is at max_connections (holds a pending-request slot). */
class PendingRequest implements UpstreamRequest {
  readonly client: UpstreamCallbacks;
  readonly resources: ClusterResources;
  readonly #pool: H1EndpointPool;
  readonly connected: boolean;
  done: boolean;

  constructor(pool: H1EndpointPool, client: UpstreamCallbacks, resources: ClusterResources) {
    this.#pool = pool;
    this.client = client;
    this.resources = resources;
    this.connected = false;
    this.done = false;
  }

  writeHead(): boolean {
    return false;
  }

  writeBody(): boolean {
    return false;
  }

  endRequest(): void {}

  readDisable(): void {}

  abort(): void {
    this.#pool.cancelPending(this);
  }
}

/** Keep-alive connections to one endpoint (idle ones LIFO, so the warmest is reused first) and requests waiting for one. */
export class H1EndpointPool {
  readonly endpoint: UpstreamEndpoint;
  readonly wheel: TimerWheel;
  cluster: UpstreamCluster;
  readonly #idle: H1UpstreamConnection[];
  readonly #all: Set<H1UpstreamConnection>;
  readonly #pending: PendingRequest[];
  readonly #owner: H1ConnPools;

  constructor(owner: H1ConnPools, cluster: UpstreamCluster, endpoint: UpstreamEndpoint, wheel: TimerWheel) {
    this.#owner = owner;
    this.cluster = cluster;
    this.endpoint = endpoint;
    this.wheel = wheel;
    this.#idle = [];
    this.#all = new Set();
    this.#pending = [];
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  get totalCount(): number {
    return this.#all.size;
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  /** An idle connection (check `connected`), a new one still connecting, a pending request, or null on overflow. */
  newStream(client: UpstreamCallbacks, resources: ClusterResources): UpstreamRequest | null {
    const idle = this.#idle;
    while (idle.length > 0) {
      const c = idle.pop()!;
      if (c.reusable) {
        c.attach(client);
        return c;
      }
      c.destroy();
    }
    const stats = this.cluster.stats;
    if (resources.connections.canCreate()) return this.#connect(client, resources.connections);
    stats.upstream_cx_overflow.inc();
    if (!resources.pendingRequests.canCreate()) {
      stats.upstream_rq_pending_overflow.inc();
      return null;
    }
    resources.pendingRequests.inc();
    stats.upstream_rq_pending_total.inc();
    stats.upstream_rq_pending_active.inc();
    const p = new PendingRequest(this, client, resources);
    this.#pending.push(p);
    return p;
  }

  release(c: H1UpstreamConnection): void {
    if (!c.reusable) {
      c.destroy();
      return;
    }
    const p = this.#takePending();
    if (p !== null) {
      c.attach(p.client);
      p.client.onPoolReady(c);
      return;
    }
    this.#idle.push(c);
    c.idle(this.cluster.config.upstreamIdleTimeoutMs);
  }

  onClosed(c: H1UpstreamConnection): void {
    c.releaseSlot();
    this.#all.delete(c);
    const i = this.#idle.indexOf(c);
    if (i !== -1) this.#idle.splice(i, 1);
    // A freed connection slot goes to the oldest waiting request.
    if (this.#pending.length > 0 && !this.endpoint.removed) {
      const head = this.#pending[0]!;
      if (head.resources.connections.canCreate()) {
        const p = this.#takePending()!;
        const nc = this.#connect(p.client, p.resources.connections);
        if (nc.connected) p.client.onPoolReady(nc);
      }
    }
    if (this.#all.size === 0 && this.#pending.length === 0 && this.endpoint.removed) this.#owner.forget(this);
  }

  /** A waiting request gave up (timeout, downstream reset). */
  cancelPending(p: PendingRequest): void {
    const i = this.#pending.indexOf(p);
    if (i === -1) return;
    this.#pending.splice(i, 1);
    this.#leavePending(p);
  }

  /** Closes idle connections; busy ones close after their response. */
  closeIdle(): void {
    const idle = this.#idle.splice(0);
    for (const c of idle) c.destroy();
  }

  closeAll(): void {
    for (const c of [...this.#all]) c.destroy();
    const pending = this.#pending.splice(0);
    for (const p of pending) {
      this.#leavePending(p);
      p.client.onPoolFailure(PoolFailure.ConnectFailure);
    }
  }

  #connect(client: UpstreamCallbacks, slot: ResourceLimit): H1UpstreamConnection {
    const c = new H1UpstreamConnection(this, slot);
    this.#all.add(c);
    c.attach(client);
    return c;
  }

  #takePending(): PendingRequest | null {
    const p = this.#pending.shift();
    if (p === undefined) return null;
    this.#leavePending(p);
    return p;
  }

  #leavePending(p: PendingRequest): void {
    if (p.done) return;
    p.done = true;
    p.resources.pendingRequests.dec();
    this.cluster.stats.upstream_rq_pending_active.dec();
  }
}

/** All HTTP/1.1 endpoint pools of one sidecar; closes pools of endpoints EDS removed. */
export class H1ConnPools implements ConnPool {
  readonly #pools: Map<UpstreamEndpoint, H1EndpointPool>;
  readonly #wheel: TimerWheel;

  constructor(clusters: ClusterManager, wheel: TimerWheel = sharedTimerWheel) {
    this.#pools = new Map();
    this.#wheel = wheel;
    clusters.onEndpointRemoved((ep) => {
      const p = this.#pools.get(ep);
      if (p === undefined) return;
      p.closeIdle();
      if (p.totalCount === 0 && p.pendingCount === 0) this.#pools.delete(ep);
    });
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

  newStream(cluster: UpstreamCluster, endpoint: UpstreamEndpoint, priority: 'DEFAULT' | 'HIGH', client: UpstreamCallbacks): UpstreamRequest | null {
    return this.pool(cluster, endpoint).newStream(client, cluster.resources(priority));
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
