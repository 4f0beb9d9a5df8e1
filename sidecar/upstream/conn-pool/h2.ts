// HTTP/2 upstream connection pools (h2c with prior knowledge): multiplexed sessions per endpoint and priority.
//
// Semantics follow Envoy's HTTP/2 pool (ConnPoolImplBase): a request takes a free stream slot on a ready
// session, else waits as a pending request (a `pendingRequests` circuit-breaker slot) while a new connection
// is made, as long as `connections` allows; with no room it waits for a busy session's slot. Pending requests
// are served in arrival order. Deliberate differences, each for a reason:
// - A session is ready when the peer's first SETTINGS frame arrived, not at TCP connect (as gRPC transports
//   do): the stream limit is then known, so no request is queued inside nghttp2 out of sight of the circuit
//   breakers, and the connect timeout also covers a peer that accepts TCP but never speaks HTTP/2. It costs
//   one round trip on each new connection only.
// - When EDS removes an endpoint, its pending requests fail at once (ConnectFailure) so the router retries
//   them elsewhere; Envoy would leave them queued on the remaining connections of the removed host.
// - Informational 1xx responses are passed to the router (onUpstreamHeaders with endStream false), as the
//   HTTP/1.1 pool does; HTTP/2 has no 101, so an upgrade request is refused (ProtocolError).
// - Http2ProtocolConfig's outbound-frame and flood limits have no node:http2 equivalent and are not applied;
//   node:http2's own flood protection (maxSessionInvalidFrames, maxSessionRejectedStreams) stays in force.
// - Streams above a received GOAWAY's last stream id are closed by nghttp2 with REFUSED_STREAM; node reports
//   them as an 'error' (ERR_HTTP2_STREAM_ERROR) then 'close' with rstCode 7. They, and streams a GOAWAY'd
//   session can no longer open, become RefusedStream (not processed: safe to retry).
// - nghttp2 answers some connection errors in received frames (e.g. DATA on stream 0) by sending GOAWAY without
//   telling node's JavaScript layer; such a session ends when the peer closes it, or by the router's timeouts.
import {
  connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type ClientSessionOptions,
  type IncomingHttpHeaders, type OutgoingHttpHeaders, type Settings,
} from 'node:http2';
import { isIPv6, type Socket } from 'node:net';
import { openUpstream } from '../transport.js';
import { sharedTimerWheel, WheelTimer, type TimerTarget, type TimerWheel } from '../../../src/core/timer-wheel.js';
import type {
  ClusterManager, ClusterStats, ResourceLimit, UpstreamCluster, UpstreamEndpoint,
} from '../../contracts.js';
import { HeaderMap } from '../../http/header-map.js';
import { copyToH2Headers, headerMapFromRaw } from '../../http/h2/h2-headers.js';
import {
  PoolFailure, UpstreamReset, type ConnPool, type UpstreamCallbacks, type UpstreamRequest,
} from './pool.js';

const {
  NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_FLAG_END_STREAM,
} = constants;
/** Marks a stream this side reset because of what it was asked to send (not node's own error code). */
const LOCAL_PROTOCOL_ERROR = 'TESSERA_LOCAL_PROTOCOL_ERROR';

/** The default HTTP/2 connection window (RFC 9113 §6.9.2); a larger configured one is announced with WINDOW_UPDATE. */
const DEFAULT_WINDOW = 65_535;
const MIB = 1024 * 1024;
/** Per-stream share of node's session memory budget: one writable high-water mark plus bookkeeping. */
const STREAM_MEMORY = 32 * 1024;
/** Streams counted into the memory budget; beyond this the budget stops growing. */
const MEMORY_STREAMS_CAP = 1000;

// Session timer kinds.
const T_CONNECT = 0;
const T_IDLE = 1;

// Session states.
const S_CONNECTING = 0;
const S_READY = 1;
/** No new streams (GOAWAY received, max_requests_per_connection reached, endpoint removed); closes when idle. */
const S_DRAINING = 2;
const S_CLOSED = 3;

// Request phases.
const R_PENDING = 0;
/** Holds a stream slot on a session; the node stream is opened by writeHead. */
const R_ASSIGNED = 1;
const R_OPEN = 2;
/** The slot is released (stream closed, failed or aborted). */
const R_CLOSED = 3;

/** Back-pointer from a node stream to its request, so stream listeners are shared static functions. */
const kRequest = Symbol('tessera.h2.request');
type TaggedStream = ClientHttp2Stream & { [kRequest]: H2UpstreamRequest };

const OPTS_END: Readonly<{ endStream: boolean }> = Object.freeze({ endStream: true });
const OPTS_BODY: Readonly<{ endStream: boolean; waitForTrailers: boolean }> = Object.freeze({ endStream: false, waitForTrailers: true });
const NO_TRAILERS: OutgoingHttpHeaders = Object.freeze(Object.create(null) as OutgoingHttpHeaders);

/** Request headers in node:http2's form: pseudo headers first, `host` as :authority, connection-specific ones dropped. */
function toH2Headers(method: string, path: string, scheme: string, headers: HeaderMap, fallbackAuthority: string): OutgoingHttpHeaders {
  const out = Object.create(null) as Record<string, string | string[]>;
  out[':method'] = method;
  const connect = method === 'CONNECT';
  if (!connect) {
    out[':scheme'] = scheme;
    out[':path'] = path;
  }
  out[':authority'] = headers.get('host') ?? fallbackAuthority;
  copyToH2Headers(headers, out, false);
  return out;
}

function toTrailerObject(trailers: HeaderMap): OutgoingHttpHeaders {
  const out = Object.create(null) as Record<string, string | string[]>;
  copyToH2Headers(trailers, out, true);
  return out;
}

function statusOf(headers: IncomingHttpHeaders): number {
  const s = headers[':status'];
  return typeof s === 'number' ? s : Number(s);
}

/**
 * One request on an HTTP/2 session: owns its stream slot, its node stream and its router callbacks.
 * node:http2 delivers stream events through EventEmitter listeners, so each request registers one set of
 * listeners; these are static functions shared by every request (no closure per request), finding the
 * request through a symbol on the node stream. Errors found while writing the head are reported on the next
 * tick (process.nextTick with arguments, again no closure), so no router callback runs inside a router call.
 */
export class H2UpstreamRequest implements UpstreamRequest {
  connected: boolean;
  /** Pool-internal: links of the pending queue. */
  prev: H2UpstreamRequest | null;
  next: H2UpstreamRequest | null;
  readonly #pool: H2EndpointPool;
  #client: UpstreamCallbacks | null;
  #session: H2Session | null;
  #stream: TaggedStream | null;
  #phase: number;
  /** The pending-requests limit this request counts against while pending (null when not pending). */
  #pendingLimit: ResourceLimit | null;
  #requestTrailers: HeaderMap | null;
  #responseTrailers: HeaderMap | null;
  /** The node error code seen on the stream ('error' precedes 'close'), or null. */
  #errorCode: string | null;

  constructor(pool: H2EndpointPool, client: UpstreamCallbacks) {
    this.connected = false;
    this.prev = null;
    this.next = null;
    this.#pool = pool;
    this.#client = client;
    this.#session = null;
    this.#stream = null;
    this.#phase = R_PENDING;
    this.#pendingLimit = null;
    this.#requestTrailers = null;
    this.#responseTrailers = null;
    this.#errorCode = null;
  }

  // UpstreamRequest
  writeHead(method: string, path: string, scheme: string, headers: HeaderMap, endStream: boolean, upgrade: boolean): boolean {
    const s = this.#session;
    if (this.#phase !== R_ASSIGNED || s === null || this.#client === null) return true;
    if (upgrade) {
      this.#failLater(UpstreamReset.ProtocolError);
      return true;
    }
    if (!s.open) {
      this.#failLater(s.goawayLastStreamId >= 0 ? UpstreamReset.RefusedStream : UpstreamReset.ConnectionTermination);
      return true;
    }
    let stream: TaggedStream;
    try {
      const h = toH2Headers(method, path, scheme, headers, s.pool.hostPort);
      stream = s.node.request(h, endStream ? OPTS_END : OPTS_BODY) as TaggedStream;
    } catch (err) {
      // Invalid header names or values, or a session that just stopped taking streams.
      const code = (err as { code?: unknown }).code;
      this.#failLater(code === 'ERR_HTTP2_GOAWAY_SESSION' ? UpstreamReset.RefusedStream
        : code === 'ERR_HTTP2_INVALID_SESSION' ? UpstreamReset.ConnectionTermination : UpstreamReset.ProtocolError);
      return true;
    }
    stream[kRequest] = this;
    this.#stream = stream;
    this.#phase = R_OPEN;
    stream.on('response', H2UpstreamRequest.#onResponse);
    stream.on('headers', H2UpstreamRequest.#onInformational);
    stream.on('data', H2UpstreamRequest.#onData);
    stream.on('trailers', H2UpstreamRequest.#onTrailers);
    stream.on('end', H2UpstreamRequest.#onEnd);
    stream.on('close', H2UpstreamRequest.#onClose);
    stream.on('error', H2UpstreamRequest.#onError);
    if (!endStream) {
      stream.on('drain', H2UpstreamRequest.#onDrain);
      stream.on('wantTrailers', H2UpstreamRequest.#onWantTrailers);
    }
    return true;
  }

  writeBody(chunk: Buffer): boolean {
    const st = this.#stream;
    if (st === null || st.destroyed || st.writableEnded) return true;
    return st.write(chunk);
  }

  endRequest(trailers: HeaderMap | null): void {
    const st = this.#stream;
    if (st === null || st.destroyed || st.writableEnded) return;
    this.#requestTrailers = trailers;
    st.end();
  }

  readDisable(disable: boolean): void {
    const st = this.#stream;
    if (st === null || st.destroyed) return;
    if (disable) st.pause();
    else st.resume();
  }

  abort(): void {
    this.#client = null;
    switch (this.#phase) {
      case R_PENDING:
        this.#phase = R_CLOSED;
        this.#pool.removePending(this);
        break;
      case R_ASSIGNED:
        this.#releaseSlot();
        break;
      case R_OPEN: {
        // The slot is released when node reports the stream closed.
        const st = this.#stream!;
        if (!st.closed && !st.destroyed) st.close(NGHTTP2_CANCEL);
        break;
      }
      default:
        break;
    }
  }

  /** Pool-internal: the pending-requests slot this request holds (or null once it left the queue). */
  get pendingLimit(): ResourceLimit | null {
    return this.#pendingLimit;
  }

  set pendingLimit(l: ResourceLimit | null) {
    this.#pendingLimit = l;
  }

  /** Pool-internal: binds the request to a session slot (already taken); `notify` calls onPoolReady. */
  assign(s: H2Session, notify: boolean): void {
    this.#session = s;
    this.#phase = R_ASSIGNED;
    this.connected = true;
    if (notify) this.#client?.onPoolReady(this);
  }

  /** Pool-internal: a pending request that will not get a connection (it already left the queue). */
  failPending(reason: PoolFailure): void {
    this.#phase = R_CLOSED;
    const c = this.#client;
    this.#client = null;
    c?.onPoolFailure(reason);
  }

  #releaseSlot(): void {
    if (this.#phase === R_CLOSED) return;
    this.#phase = R_CLOSED;
    this.#session?.releaseSlot();
  }

  #failLater(reason: UpstreamReset): void {
    this.#releaseSlot();
    process.nextTick(H2UpstreamRequest.#deliverReset, this, reason);
  }

  static #deliverReset(r: H2UpstreamRequest, reason: UpstreamReset): void {
    const c = r.#client;
    if (c === null) return;
    r.#client = null;
    c.onUpstreamReset(reason);
  }

  /** Why an open stream closed before its response completed. */
  #resetReason(st: ClientHttp2Stream): UpstreamReset {
    const s = this.#session!;
    // Streams above a GOAWAY's last stream id (or never sent) were not processed: safe to retry.
    if (s.goawayLastStreamId >= 0 && (st.id === undefined || st.id > s.goawayLastStreamId)) return UpstreamReset.RefusedStream;
    const code = st.rstCode;
    if (code === NGHTTP2_REFUSED_STREAM) return UpstreamReset.RefusedStream;
    if (this.#errorCode === 'ERR_HTTP2_ERROR' || this.#errorCode === LOCAL_PROTOCOL_ERROR) return UpstreamReset.ProtocolError;
    if (s.node.destroyed) return UpstreamReset.ConnectionTermination;
    if (code === NGHTTP2_PROTOCOL_ERROR) return UpstreamReset.ProtocolError;
    return UpstreamReset.RemoteReset;
  }

  // node stream listeners (`this` is the node stream)
  static #onResponse(this: TaggedStream, headers: IncomingHttpHeaders, flags: number, raw: string[]): void {
    this[kRequest].#client?.onUpstreamHeaders(statusOf(headers), headerMapFromRaw(raw), (flags & NGHTTP2_FLAG_END_STREAM) !== 0);
  }

  static #onInformational(this: TaggedStream, headers: IncomingHttpHeaders, _flags: number, raw: string[]): void {
    const status = statusOf(headers);
    if (status >= 100 && status < 200) this[kRequest].#client?.onUpstreamHeaders(status, headerMapFromRaw(raw), false);
  }

  static #onData(this: TaggedStream, chunk: Buffer): void {
    this[kRequest].#client?.onUpstreamData(chunk);
  }

  static #onTrailers(this: TaggedStream, _headers: IncomingHttpHeaders, _flags: number, raw: string[]): void {
    this[kRequest].#responseTrailers = headerMapFromRaw(raw);
  }

  static #onEnd(this: TaggedStream): void {
    const r = this[kRequest];
    const c = r.#client;
    // node also ends the readable side of a stream it closes for a reset or a dead session; those are
    // reported by the 'close' listener. (A peer RST_STREAM(NO_ERROR) cutting a response short cannot be told
    // from a complete response through node's API; RFC 9113 §8.1 uses it only after a complete response.)
    if (c === null || this.rstCode !== NGHTTP2_NO_ERROR) return;
    r.#client = null;
    c.onUpstreamComplete(r.#responseTrailers);
    // The response is complete while the request is still being sent: nobody needs the rest (as a gRPC
    // client ends a call at the server's trailers). Reset the stream so its slot frees.
    if (!this.writableEnded && !this.closed && !this.destroyed) this.close(NGHTTP2_CANCEL);
  }

  static #onError(this: TaggedStream, err: Error): void {
    const code = (err as { code?: unknown }).code;
    this[kRequest].#errorCode = typeof code === 'string' ? code : 'ERR';
  }

  static #onClose(this: TaggedStream): void {
    const r = this[kRequest];
    r.#releaseSlot();
    const c = r.#client;
    if (c === null) return;
    r.#client = null;
    c.onUpstreamReset(r.#resetReason(this));
  }

  static #onDrain(this: TaggedStream): void {
    this[kRequest].#client?.onUpstreamDrain();
  }

  static #onWantTrailers(this: TaggedStream): void {
    if (this.destroyed || this.closed) return;
    const r = this[kRequest];
    const t = r.#requestTrailers;
    try {
      // Without trailers node sends an empty DATA frame with END_STREAM.
      this.sendTrailers(t === null ? NO_TRAILERS : toTrailerObject(t));
    } catch {
      // Trailers node refuses (invalid name or value): the request cannot be completed as asked.
      r.#errorCode = LOCAL_PROTOCOL_ERROR;
      this.close(NGHTTP2_INTERNAL_ERROR);
    }
  }
}

/** One HTTP/2 client session (connection) to an endpoint: its stream slots, connect/idle timer and stats. */
export class H2Session implements TimerTarget {
  readonly pool: H2EndpointPool;
  readonly node: ClientHttp2Session;
  state: number;
  /** Stream slots in use (requests assigned here whose stream has not closed). */
  active: number;
  /** Streams ever assigned (max_requests_per_connection). */
  total: number;
  /** min(peer SETTINGS_MAX_CONCURRENT_STREAMS, configured max_concurrent_streams); known once ready. */
  limit: number;
  /** The last stream id of a received GOAWAY, or -1. */
  goawayLastStreamId: number;
  readonly #timer: WheelTimer;
  readonly #cxLimit: ResourceLimit;
  readonly #stats: ClusterStats;
  readonly #maxRequests: number;
  readonly #configLimit: number;
  #timedOut: boolean;
  #counted: boolean;

  constructor(pool: H2EndpointPool, cxLimit: ResourceLimit) {
    this.pool = pool;
    const cfg = pool.cluster.config;
    const h2 = cfg.http2;
    this.state = S_CONNECTING;
    this.active = 0;
    this.total = 0;
    this.#configLimit = Math.max(1, h2.maxConcurrentStreams);
    this.limit = this.#configLimit;
    this.goawayLastStreamId = -1;
    this.#timer = new WheelTimer(this, T_CONNECT);
    this.#cxLimit = cxLimit;
    this.#stats = pool.cluster.stats;
    this.#maxRequests = cfg.maxRequestsPerConnection;
    this.#timedOut = false;
    this.#counted = false;
    const a = pool.endpoint.address;
    const opts: ClientSessionOptions = {
      createConnection: () => {
        const sock: Socket = openUpstream(pool.cluster, a.address, a.port).socket;
        sock.setNoDelay(true);
        return sock;
      },
      settings: { enablePush: false, initialWindowSize: h2.initialStreamWindowSize },
      maxSessionMemory: sessionMemoryMb(h2.maxConcurrentStreams),
    };
    cxLimit.inc();
    this.#stats.upstream_cx_total.inc();
    this.node = h2connect(pool.authority, opts);
    this.node.on('connect', () => this.#connected());
    this.node.on('remoteSettings', (s: Settings) => this.#remoteSettings(s));
    this.node.on('goaway', (_code: number, lastStreamId: number) => this.#goaway(lastStreamId));
    this.node.on('error', (err: Error) => this.#error(err));
    this.node.on('close', () => this.#nodeClosed());
    pool.wheel.schedule(this.#timer, pool.cluster.config.connectTimeoutMs);
  }

  /** Can take a stream now. */
  get available(): boolean {
    return this.state === S_READY && this.active < this.limit;
  }

  /** Still able to open the stream of an assigned request. */
  get open(): boolean {
    return (this.state === S_READY || this.state === S_DRAINING) && !this.node.closed && !this.node.destroyed;
  }

  /** Streams this session is expected to carry while it connects (for deciding whether to connect more). */
  get expectedCapacity(): number {
    return this.#maxRequests > 0 ? Math.min(this.#configLimit, this.#maxRequests) : this.#configLimit;
  }

  /** Pool-internal: a request takes a slot. */
  takeSlot(): void {
    this.active++;
    this.total++;
    if (this.#timer.armed) this.pool.wheel.cancel(this.#timer);
    if (this.#maxRequests > 0 && this.total >= this.#maxRequests) this.state = S_DRAINING;
  }

  /** Pool-internal: a request's stream closed (or it gave up its slot before opening one). */
  releaseSlot(): void {
    this.active--;
    if (this.state === S_CLOSED) return;
    if (this.state === S_DRAINING) {
      if (this.active === 0) this.close();
      return;
    }
    this.pool.onSlotFree();
    this.#maybeIdle();
  }

  /** No new streams; closes once the active ones finish. Connecting sessions close now. */
  drain(): void {
    if (this.state === S_CLOSED) return;
    if (this.state === S_CONNECTING) {
      this.destroy();
      return;
    }
    if (this.active === 0) {
      this.close();
      return;
    }
    this.state = S_DRAINING;
  }

  /** Closes gracefully (GOAWAY, then the socket once node's streams are done); the slot accounting ends now. */
  close(): void {
    if (this.#detach(null)) this.node.close();
  }

  /** Closes now: open streams are reset (ConnectionTermination). */
  destroy(): void {
    if (this.#detach(null)) this.node.destroy();
  }

  // TimerTarget
  onTimer(t: WheelTimer): void {
    if (t.kind === T_IDLE) {
      if (this.state === S_READY && this.active === 0) this.close();
      return;
    }
    if (this.state !== S_CONNECTING) return;
    this.#timedOut = true;
    this.#stats.upstream_cx_connect_timeout.inc();
    if (this.#detach(PoolFailure.ConnectTimeout)) this.node.destroy();
  }

  /**
   * Leaves the pool and releases the connection's resources, once; false when already closed. `failure`: the
   * session failed to connect, so the pool fails its pending requests.
   */
  #detach(failure: PoolFailure | null): boolean {
    if (this.state === S_CLOSED) return false;
    this.state = S_CLOSED;
    this.pool.wheel.cancel(this.#timer);
    this.#cxLimit.dec();
    if (this.#counted) {
      this.#counted = false;
      this.#stats.upstream_cx_active.dec();
      this.pool.endpoint.cxActive--;
    }
    this.pool.onSessionClosed(this, failure);
    return true;
  }

  #maybeIdle(): void {
    if (this.state !== S_READY || this.active !== 0) return;
    if (this.pool.endpoint.removed) {
      this.close();
      return;
    }
    this.#timer.kind = T_IDLE;
    this.pool.wheel.schedule(this.#timer, this.pool.cluster.config.upstreamIdleTimeoutMs);
  }

  #connected(): void {
    if (this.state === S_CLOSED) return;
    this.#counted = true;
    this.#stats.upstream_cx_active.inc();
    this.pool.endpoint.cxActive++;
    const w = this.pool.cluster.config.http2.initialConnectionWindowSize;
    if (w > DEFAULT_WINDOW) this.node.setLocalWindowSize(w);
  }

  #remoteSettings(s: Settings): void {
    if (this.state === S_CLOSED) return;
    const peer = s.maxConcurrentStreams ?? Number.MAX_SAFE_INTEGER;
    this.limit = Math.min(peer, this.#configLimit);
    if (this.state === S_CONNECTING) {
      this.pool.wheel.cancel(this.#timer);
      this.state = S_READY;
    }
    if (this.state === S_READY) {
      this.pool.onSlotFree();
      this.#maybeIdle();
    }
  }

  #goaway(lastStreamId: number): void {
    this.goawayLastStreamId = lastStreamId;
    if (this.state === S_CLOSED) return;
    // node closes (NO_ERROR) or destroys the session itself; the open streams finish or fail on their own.
    if (this.active === 0 || this.state === S_CONNECTING) this.#detach(null);
    else this.state = S_DRAINING;
    this.pool.onSlotFree();
  }

  #error(err: Error): void {
    if ((err as { code?: unknown }).code === 'ERR_HTTP2_ERROR') this.#stats.upstream_cx_protocol_error.inc();
  }

  #nodeClosed(): void {
    if (this.state === S_CONNECTING && !this.#timedOut) {
      this.#stats.upstream_cx_connect_fail.inc();
      this.#detach(PoolFailure.ConnectFailure);
    } else {
      this.#detach(null);
    }
  }
}

/** node:http2's session memory budget in MB: room for each permitted stream's buffered writes, at least node's 10. */
function sessionMemoryMb(maxConcurrentStreams: number): number {
  const streams = Math.min(Math.max(1, maxConcurrentStreams), MEMORY_STREAMS_CAP);
  return Math.max(10, Math.ceil((streams * STREAM_MEMORY) / MIB));
}

/** The sessions and the pending-request queue for one endpoint and routing priority. */
export class H2EndpointPool {
  readonly endpoint: UpstreamEndpoint;
  readonly priority: 'DEFAULT' | 'HIGH';
  readonly wheel: TimerWheel;
  /** `http://host:port` for node:http2 (IPv6 in brackets). */
  readonly authority: string;
  /** `host:port`: the :authority sent when a request has no `host`. */
  readonly hostPort: string;
  cluster: UpstreamCluster;
  readonly #owner: H2ConnPools;
  readonly #sessions: H2Session[];
  #head: H2UpstreamRequest | null;
  #tail: H2UpstreamRequest | null;
  #pending: number;
  #dispatching: boolean;

  constructor(owner: H2ConnPools, cluster: UpstreamCluster, endpoint: UpstreamEndpoint, priority: 'DEFAULT' | 'HIGH', wheel: TimerWheel) {
    this.endpoint = endpoint;
    this.priority = priority;
    this.wheel = wheel;
    const a = endpoint.address;
    this.hostPort = isIPv6(a.address) ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    this.authority = `http://${this.hostPort}`;
    this.cluster = cluster;
    this.#owner = owner;
    this.#sessions = [];
    this.#head = null;
    this.#tail = null;
    this.#pending = 0;
    this.#dispatching = false;
  }

  get sessionCount(): number {
    return this.#sessions.length;
  }

  get pendingCount(): number {
    return this.#pending;
  }

  /** See ConnPool.newStream. */
  newStream(client: UpstreamCallbacks): H2UpstreamRequest | null {
    // While pending requests exist (being dispatched right now), newcomers queue behind them.
    const s = this.#pending === 0 ? this.#pickReady() : null;
    if (s !== null) {
      const r = new H2UpstreamRequest(this, client);
      s.takeSlot();
      r.assign(s, false);
      return r;
    }
    const cluster = this.cluster;
    const limit = cluster.resources(this.priority).pendingRequests;
    if (!limit.canCreate()) {
      cluster.stats.upstream_rq_pending_overflow.inc();
      return null;
    }
    const r = new H2UpstreamRequest(this, client);
    this.#enqueue(r, limit);
    this.#maybeConnect();
    return r;
  }

  /** Pool-internal: a pending request gave up. */
  removePending(r: H2UpstreamRequest): void {
    const limit = r.pendingLimit;
    if (limit === null) return;
    if (r.prev !== null) r.prev.next = r.next;
    else this.#head = r.next;
    if (r.next !== null) r.next.prev = r.prev;
    else this.#tail = r.prev;
    r.prev = null;
    r.next = null;
    this.#leavePending(r, limit);
    this.#maybeForget();
  }

  /** Pool-internal: a slot freed, a session became ready or one stopped taking streams: serve pending requests, connect more if needed. */
  onSlotFree(): void {
    if (this.#pending === 0 || this.#dispatching) return;
    this.#dispatching = true;
    try {
      while (this.#head !== null) {
        const s = this.#pickReady();
        if (s === null) break;
        const r = this.#head;
        this.removePending(r);
        s.takeSlot();
        r.assign(s, true);
      }
    } finally {
      this.#dispatching = false;
    }
    if (this.#pending > 0) this.#maybeConnect();
  }

  /**
   * Pool-internal: a session left. When it failed to connect (`failure`), every pending request fails (Envoy
   * purges them all); requests submitted again from those callbacks get a new connection.
   */
  onSessionClosed(s: H2Session, failure: PoolFailure | null): void {
    const i = this.#sessions.indexOf(s);
    if (i !== -1) this.#sessions.splice(i, 1);
    if (failure !== null) this.#purge(failure);
    if (this.#pending > 0 && !this.#dispatching) this.#maybeConnect();
    this.#maybeForget();
  }

  /** EDS removed the endpoint: pending requests fail, sessions drain (idle ones close now). */
  onEndpointRemoved(): void {
    this.#purge(PoolFailure.ConnectFailure);
    for (const s of [...this.#sessions]) s.drain();
    this.#maybeForget();
  }

  closeAll(): void {
    this.#purge(PoolFailure.ConnectFailure);
    for (const s of [...this.#sessions]) s.destroy();
  }

  #pickReady(): H2Session | null {
    const ss = this.#sessions;
    for (let i = 0; i < ss.length; i++) if (ss[i]!.available) return ss[i]!;
    return null;
  }

  #enqueue(r: H2UpstreamRequest, limit: ResourceLimit): void {
    limit.inc();
    r.pendingLimit = limit;
    const stats = this.cluster.stats;
    stats.upstream_rq_pending_total.inc();
    stats.upstream_rq_pending_active.inc();
    this.#pending++;
    r.prev = this.#tail;
    r.next = null;
    if (this.#tail !== null) this.#tail.next = r;
    else this.#head = r;
    this.#tail = r;
  }

  #leavePending(r: H2UpstreamRequest, limit: ResourceLimit): void {
    r.pendingLimit = null;
    limit.dec();
    this.cluster.stats.upstream_rq_pending_active.dec();
    this.#pending--;
  }

  /**
   * Opens connections while pending requests exceed what connecting sessions will carry (Envoy). Past the
   * `connections` limit it counts upstream_cx_overflow and the requests wait for a slot, except when this
   * pool has no session at all: then one is opened anyway, or they could never be served (Envoy does the same).
   */
  #maybeConnect(): void {
    for (;;) {
      let connecting = 0;
      const ss = this.#sessions;
      for (let i = 0; i < ss.length; i++) if (ss[i]!.state === S_CONNECTING) connecting += ss[i]!.expectedCapacity;
      if (this.#pending <= connecting) return;
      const cx = this.cluster.resources(this.priority).connections;
      if (!cx.canCreate()) {
        this.cluster.stats.upstream_cx_overflow.inc();
        if (ss.length > 0) return;
      }
      ss.push(new H2Session(this, cx));
    }
  }

  /** Fails every pending request; the queue is detached first so a retry submitted from a callback is not failed too. */
  #purge(reason: PoolFailure): void {
    if (this.#pending === 0) return;
    const failed: H2UpstreamRequest[] = [];
    while (this.#head !== null) {
      const r = this.#head;
      this.removePending(r);
      failed.push(r);
    }
    for (const r of failed) r.failPending(reason);
  }

  #maybeForget(): void {
    if (this.endpoint.removed && this.#sessions.length === 0 && this.#pending === 0) this.#owner.forget(this);
  }
}

/** All HTTP/2 endpoint pools of one ClusterManager, by endpoint and priority; drains pools of endpoints EDS removed. */
export class H2ConnPools implements ConnPool {
  readonly #pools: Map<UpstreamEndpoint, [H2EndpointPool | null, H2EndpointPool | null]>;
  readonly #wheel: TimerWheel;

  constructor(clusters: ClusterManager, wheel: TimerWheel = sharedTimerWheel) {
    this.#pools = new Map();
    this.#wheel = wheel;
    clusters.onEndpointRemoved((ep) => {
      const pair = this.#pools.get(ep);
      if (pair === undefined) return;
      this.#pools.delete(ep);
      pair[0]?.onEndpointRemoved();
      pair[1]?.onEndpointRemoved();
    });
  }

  /** The pool for an endpoint and priority (created on first use; follows the latest cluster object). */
  pool(cluster: UpstreamCluster, endpoint: UpstreamEndpoint, priority: 'DEFAULT' | 'HIGH'): H2EndpointPool {
    let pair = this.#pools.get(endpoint);
    if (pair === undefined) {
      pair = [null, null];
      this.#pools.set(endpoint, pair);
    }
    const i = priority === 'HIGH' ? 1 : 0;
    let p = pair[i];
    if (p === null) {
      p = new H2EndpointPool(this, cluster, endpoint, priority, this.#wheel);
      pair[i] = p;
    } else if (p.cluster !== cluster) {
      p.cluster = cluster;
    }
    return p;
  }

  // ConnPool
  newStream(cluster: UpstreamCluster, endpoint: UpstreamEndpoint, priority: 'DEFAULT' | 'HIGH', client: UpstreamCallbacks): UpstreamRequest | null {
    return this.pool(cluster, endpoint, priority).newStream(client);
  }

  closeAll(): void {
    const pairs = [...this.#pools.values()];
    this.#pools.clear();
    for (const [d, h] of pairs) {
      d?.closeAll();
      h?.closeAll();
    }
  }

  /** Pool-internal: an empty pool of a removed endpoint. */
  forget(p: H2EndpointPool): void {
    const pair = this.#pools.get(p.endpoint);
    if (pair === undefined) return;
    const i = p.priority === 'HIGH' ? 1 : 0;
    if (pair[i] === p) pair[i] = null;
    if (pair[0] === null && pair[1] === null) this.#pools.delete(p.endpoint);
  }
}
