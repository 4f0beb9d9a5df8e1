// envoy.filters.network.http_connection_manager: picks the codec per connection (codec_type, AUTO by preface);
// HttpConnection here is the HTTP/1.1 side (one H1Stream at a time), H2Connection (h2/) the HTTP/2 side.
import { connectionInfo, type DownstreamConnectionInfo } from './connection-info.js';
import type { Socket } from 'node:net';
import type { ErrorCode } from '../../src/core/errors.js';
import { sharedTimerWheel, WheelTimer, type TimerTarget, type TimerWheel } from '../../src/core/timer-wheel.js';
import { accessLogSinkOf } from '../../src/observability/logger.js';
import type { HcmConfig } from '../../src/xds/resources/types.js';
import type { ConnectionHandler, NetworkFilterChain, SidecarContext } from '../contracts.js';
import { createRouterShared } from '../router/router-filter.js';
import { writeAccessLog } from './access-log.js';
import { countStatus, type HcmShared, type HcmStats, type HttpFilterInstance } from './active-stream.js';
import { H1Stream, type H1StreamOwner } from './h1/h1-stream.js';
import { createH2Codec, type H2Codec } from './h2/h2-connection.js';
import { httpFilterFactories } from '../filters/index.js';
import { H1Parser, ParserKind, type H1Message, type H1ParserHandler, type H1ParserLimits } from './h1/parser.js';
import { CLOSE_LINE, joinHeadAndBody } from './h1/serializer.js';
import type { HeaderMap } from './header-map.js';
import { LocalReplies, parseErrorReply, serializeLocalReply, type LocalReply } from './local-reply.js';

export interface HcmOptions {
  /** Listener per_connection_buffer_limit_bytes (default 1 MiB): bytes buffered per direction before reads pause. */
  readonly bufferLimitBytes?: number;
  /** Request-target limit (414 beyond); default 8 KiB. */
  readonly maxRequestTargetBytes?: number;
  readonly wheel?: TimerWheel;
}

const DEFAULT_BUFFER_LIMIT = 1024 * 1024;
/** Envoy's delayed_close_timeout: after our FIN, wait this long for the peer before destroying. */
const DELAYED_CLOSE_MS = 1000;

/** Builds the HTTP connection manager network filter for one filter chain. */
export function createHttpConnectionManager(config: HcmConfig, ctx: SidecarContext, opts: HcmOptions = {}): NetworkFilterChain {
  const p = `http.${config.statPrefix}.`;
  const s = ctx.stats;
  const stats: HcmStats = Object.freeze({
    downstream_cx_total: s.counter(`${p}downstream_cx_total`),
    downstream_cx_active: s.gauge(`${p}downstream_cx_active`),
    downstream_rq_total: s.counter(`${p}downstream_rq_total`),
    downstream_rq_active: s.gauge(`${p}downstream_rq_active`),
    downstream_rq_rejected: s.counter(`${p}downstream_rq_rejected`),
    downstream_rq_1xx: s.counter(`${p}downstream_rq_1xx`),
    downstream_rq_2xx: s.counter(`${p}downstream_rq_2xx`),
    downstream_rq_3xx: s.counter(`${p}downstream_rq_3xx`),
    downstream_rq_4xx: s.counter(`${p}downstream_rq_4xx`),
    downstream_rq_5xx: s.counter(`${p}downstream_rq_5xx`),
    downstream_rq_idle_timeout: s.counter(`${p}downstream_rq_idle_timeout`),
    downstream_rq_timeout: s.counter(`${p}downstream_rq_timeout`),
    downstream_rq_max_duration_reached: s.counter(`${p}downstream_rq_max_duration_reached`),
    downstream_rq_too_many_premature_resets: s.counter(`${p}downstream_rq_too_many_premature_resets`),
    downstream_cx_flood: s.counter(`${p}downstream_cx_flood`),
  });
  const bufferLimitBytes = opts.bufferLimitBytes ?? DEFAULT_BUFFER_LIMIT;
  const wheel = opts.wheel ?? sharedTimerWheel;
  const shared: HcmShared = Object.freeze({
    config,
    ctx,
    stats,
    router: createRouterShared(ctx, bufferLimitBytes, wheel),
    staticRoutes: config.routeConfig !== null ? ctx.compileRouteTable(config.routeConfig) : null,
    bufferLimitBytes,
    accessLog: accessLogSinkOf(ctx.accessLogger),
    httpFilters: filterInstances(config, ctx),
    wheel,
  });
  const limits: H1ParserLimits = Object.freeze({
    maxRequestTargetBytes: opts.maxRequestTargetBytes ?? 8192,
    maxHeaderBytes: config.maxRequestHeadersKb * 1024,
    maxHeadersCount: config.maxHeadersCount,
  });
  const codec = config.codecType;
  const h2: H2Codec | null = codec === 'HTTP1' ? null : createH2Codec(shared);
  return {
    onConnection(socket: Socket): ConnectionHandler {
      if (h2 !== null && codec === 'HTTP2') return h2.onConnection(socket, false);
      return new HttpConnection(shared, limits, wheel, socket, h2);
    },
  };
}

/** The HCM's http_filters (router excluded) as factories with their per-chain shared state. */
function filterInstances(config: HcmConfig, ctx: SidecarContext): HttpFilterInstance[] {
  if (config.httpFilters.length === 0) return [];
  const factories = httpFilterFactories();
  return config.httpFilters.map((f) => {
    const factory = factories.get(f.typeUrl);
    // The xDS validator only accepts filters with a registered config validator; each has a factory.
    if (factory === undefined) throw new Error(`HTTP filter ${f.name} (${f.typeUrl}) has no factory`);
    return { factory, shared: factory.createShared(f.config, ctx.stats, config.statPrefix) };
  });
}

/** The HTTP/2 connection preface (RFC 9113 §3.4): codec_type AUTO switches a connection that starts with it to HTTP/2. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const T_IDLE = 0;
const T_HEADERS = 1;
const T_CLOSE = 2;
/** stream_idle_timeout of the current stream (the connection timer is free while a stream runs). */
const T_STREAM_IDLE = 3;
const T_REQUEST = 4;

/** A response head and the first body chunk are joined into one write up to this size. */
const COMBINE_MAX = 4 * 1024;

/** One downstream connection: socket, request parser, the current stream, timers, drain and tunnel state. */
class HttpConnection implements ConnectionHandler, H1StreamOwner, H1ParserHandler, TimerTarget {
  readonly shared: HcmShared;
  draining: boolean;
  readonly connection: DownstreamConnectionInfo;
  readonly #socket: Socket;
  readonly #parser: H1Parser;
  readonly #wheel: TimerWheel;
  readonly #timer: WheelTimer;
  /** request_timeout; null when the HCM has none. */
  readonly #requestTimer: WheelTimer | null;
  /** stream_idle_timeout of the current stream (route idle_timeout applied); 0 = none. */
  #streamIdleMs: number;
  /** A response head held back so the first body chunk goes out in the same write. */
  #pendingHead: string | null;
  #flushScheduled: boolean;
  readonly #flushTick: () => void;
  #stream: H1Stream | null;
  #closing: boolean;
  #closed: boolean;
  #streamReadDisabled: boolean;
  #backlogPaused: boolean;
  #socketPaused: boolean;
  #corked: boolean;
  readonly #onData: (b: Buffer) => void;
  readonly #onDrain: () => void;
  readonly #onEnd: () => void;
  readonly #onClose: () => void;
  /** codec_type AUTO: the HTTP/2 codec to hand the socket to if it starts with the preface; null once decided. */
  #h2: H2Codec | null;
  #sniffed: Buffer | null;
  /** The HTTP/2 connection this one became (drain/close go there). */
  #becameH2: ConnectionHandler | null;

  constructor(shared: HcmShared, limits: H1ParserLimits, wheel: TimerWheel, socket: Socket, h2: H2Codec | null) {
    this.shared = shared;
    this.draining = false;
    this.connection = connectionInfo(socket);
    this.#socket = socket;
    this.#parser = new H1Parser(ParserKind.Request, this, limits);
    this.#wheel = wheel;
    this.#timer = new WheelTimer(this, T_IDLE);
    this.#requestTimer = shared.config.requestTimeoutMs > 0 ? new WheelTimer(this, T_REQUEST) : null;
    this.#streamIdleMs = 0;
    this.#pendingHead = null;
    this.#flushScheduled = false;
    this.#stream = null;
    this.#closing = false;
    this.#closed = false;
    this.#streamReadDisabled = false;
    this.#backlogPaused = false;
    this.#socketPaused = false;
    this.#corked = false;
    this.#flushTick = () => this.#endOfTick();
    this.#onData = (b: Buffer) => this.#data(b);
    this.#onDrain = () => this.#stream?.onDownstreamDrain();
    this.#onEnd = () => this.#peerEnded();
    this.#onClose = () => this.#closedEvent();
    this.#h2 = h2;
    this.#sniffed = null;
    this.#becameH2 = null;
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('error', noop);
    shared.stats.downstream_cx_total.inc();
    shared.stats.downstream_cx_active.inc();
    this.#armIdle();
  }

  // ConnectionHandler

  drain(): void {
    if (this.#becameH2 !== null) {
      this.#becameH2.drain();
      return;
    }
    if (this.draining) return;
    this.draining = true;
    const s = this.#stream;
    if (s === null) this.#closeGracefully();
    else s.closeAfter = true;
  }

  close(): void {
    if (this.#becameH2 !== null) this.#becameH2.close();
    else this.abort();
  }

  // H1StreamOwner

  write(data: Buffer | string, cork: boolean): boolean {
    if (this.#closed) return false;
    const s = this.#socket;
    const head = this.#pendingHead;
    if (head !== null) {
      if (typeof data === 'string') {
        this.#pendingHead = head + data;
        return true;
      }
      this.#pendingHead = null;
      if (!cork && data.length <= COMBINE_MAX) return s.write(joinHeadAndBody(head, data));
      this.#cork();
      s.write(head, 'latin1');
      return s.write(data);
    }
    if (cork) {
      if (typeof data === 'string' && !this.#corked) {
        // Usually a response head: held until the body's first chunk (same tick) so both go in one write.
        this.#pendingHead = data;
        this.#scheduleFlush();
        return true;
      }
      this.#cork();
    }
    return typeof data === 'string' ? s.write(data, 'latin1') : s.write(data);
  }

  touch(): void {
    if (this.#streamIdleMs > 0 && this.#stream !== null) this.#wheel.touch(this.#timer, this.#streamIdleMs);
  }

  setStreamIdleTimeout(ms: number): void {
    if (this.#stream === null || ms === this.#streamIdleMs) return;
    this.#streamIdleMs = ms;
    if (ms > 0) this.#wheel.schedule(this.#timer, ms);
    else this.#wheel.cancel(this.#timer);
  }

  readDisable(disable: boolean): void {
    this.#streamReadDisabled = disable;
    this.#applyReadState();
  }

  onStreamDone(stream: H1Stream): void {
    if (this.#stream !== stream) return;
    this.#stream = null;
    if (this.#requestTimer !== null) this.#wheel.cancel(this.#requestTimer);
    stream.finish();
    if (this.#closed) return;
    if (stream.closeAfter || this.draining) {
      this.#closeGracefully();
      return;
    }
    this.#streamReadDisabled = false;
    this.#armIdle();
    this.#parser.resume();
    this.#applyReadState();
  }

  enterTunnel(stream: H1Stream, upstream: Socket, upstreamPending: Buffer | null): void {
    const down = this.#socket;
    this.#flushPending();
    this.#wheel.cancel(this.#timer);
    if (this.#requestTimer !== null) this.#wheel.cancel(this.#requestTimer);
    const pending = this.#parser.takePending();
    this.#parser.kill();
    down.removeListener('data', this.#onData);
    down.removeListener('drain', this.#onDrain);
    down.removeListener('end', this.#onEnd);
    if (upstreamPending !== null && upstreamPending.length > 0) down.write(upstreamPending);
    if (pending !== null && pending.length > 0) upstream.write(pending);
    upstream.on('error', noop);
    upstream.on('close', (hadError: boolean) => {
      if (down.destroyed) return;
      if (hadError) {
        // An upstream reset is passed on as a reset, not a clean FIN (as tcp_proxy does).
        stream.addResponseFlag('UC');
        down.resetAndDestroy();
      } else down.end();
    });
    down.on('close', () => upstream.destroy());
    // stream_idle_timeout keeps applying to the tunnel: no bytes either way for that long closes both sides.
    const idleMs = this.#streamIdleMs;
    if (idleMs > 0) {
      this.#timer.kind = T_STREAM_IDLE;
      this.#wheel.schedule(this.#timer, idleMs);
    }
    upstream.on('data', (b: Buffer) => {
      stream.bytesSent += b.length;
      if (idleMs > 0) this.#wheel.touch(this.#timer, idleMs);
    });
    down.on('data', (b: Buffer) => {
      stream.bytesReceived += b.length;
      if (idleMs > 0) this.#wheel.touch(this.#timer, idleMs);
    });
    upstream.pipe(down);
    down.pipe(upstream);
    this.#streamReadDisabled = false;
    this.#backlogPaused = false;
    this.#socketPaused = false;
    upstream.resume();
    down.resume();
  }

  abort(): void {
    if (this.#closed) return;
    this.#parser.kill();
    this.#socket.destroy();
  }

  // H1ParserHandler

  onHeaders(msg: H1Message): void {
    const sh = this.shared;
    const cfg = sh.config;
    // The connection timer becomes the stream idle timer (a route may change it in start()).
    const idleMs = cfg.streamIdleTimeoutMs;
    this.#streamIdleMs = idleMs;
    this.#timer.kind = T_STREAM_IDLE;
    if (idleMs > 0) this.#wheel.schedule(this.#timer, idleMs);
    else this.#wheel.cancel(this.#timer);
    if (this.#requestTimer !== null && !msg.bodyless) this.#wheel.schedule(this.#requestTimer, cfg.requestTimeoutMs);
    sh.stats.downstream_rq_total.inc();
    sh.stats.downstream_rq_active.inc();
    const s = new H1Stream(this, msg);
    this.#stream = s;
    s.start(msg);
  }

  onBody(chunk: Buffer): void {
    this.#stream?.decodeData(chunk, false);
  }

  onMessageComplete(trailers: HeaderMap | null): void {
    const s = this.#stream;
    if (s === null) return;
    if (this.#requestTimer !== null) this.#wheel.cancel(this.#requestTimer);
    if (!s.requestComplete) s.endRequest(trailers);
    // One request at a time: pipelined bytes stay buffered until this response is done.
    if (this.#stream !== null) this.#parser.pause();
  }

  onParseError(code: ErrorCode, reason: string): void {
    const sh = this.shared;
    sh.stats.downstream_rq_rejected.inc();
    const reply = parseErrorReply(code, reason);
    const s = this.#stream;
    if (s !== null) {
      s.closeAfter = true;
      s.sendLocalReply(reply, null);
      return;
    }
    this.#replyWithoutStream(reply, '');
  }

  // TimerTarget

  onTimer(t: WheelTimer): void {
    if (this.#closed) return;
    switch (t.kind) {
      case T_HEADERS:
        if (this.#stream === null) {
          this.#parser.kill();
          this.#replyWithoutStream(LocalReplies.requestHeadersTimeout, '');
        }
        break;
      case T_IDLE:
        if (this.#stream === null) this.#closeGracefully();
        break;
      case T_STREAM_IDLE:
        this.#streamIdleTimeout();
        break;
      case T_REQUEST: {
        const s = this.#stream;
        if (s === null || s.requestComplete || s.responseStarted) break;
        this.shared.stats.downstream_rq_timeout.inc();
        s.closeAfter = true;
        s.sendLocalReply(LocalReplies.requestTimeout, null);
        break;
      }
      default:
        this.#socket.destroy();
        break;
    }
  }

  // ---- internals ----

  #streamIdleTimeout(): void {
    const s = this.#stream;
    if (s === null) return;
    this.shared.stats.downstream_rq_idle_timeout.inc();
    if (s.tunnel) {
      s.addResponseFlag('SI');
      this.#socket.destroy();
    } else if (!s.responseStarted) {
      s.closeAfter = true;
      s.sendLocalReply(LocalReplies.streamIdleTimeout, null);
    } else {
      s.resetStream('SI');
    }
  }

  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    process.nextTick(this.#flushTick);
  }

  /** End of the tick that held a head back or corked: write what is pending. */
  #endOfTick(): void {
    this.#flushScheduled = false;
    this.#flushPending();
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
  }

  #flushPending(): void {
    const head = this.#pendingHead;
    if (head === null) return;
    this.#pendingHead = null;
    if (!this.#closed) this.#socket.write(head, 'latin1');
  }

  #data(b: Buffer): void {
    if (this.#h2 !== null && this.#sniff(b)) return;
    if (this.#stream !== null) {
      if (this.#streamIdleMs > 0) this.#wheel.touch(this.#timer, this.#streamIdleMs);
    } else if (this.#timer.kind !== T_HEADERS && !this.#closing) {
      const ms = this.shared.config.requestHeadersTimeoutMs;
      // With request_headers_timeout 0 the idle timer stays armed, so partial headers cannot hold the socket forever.
      if (ms > 0) {
        this.#timer.kind = T_HEADERS;
        this.#wheel.schedule(this.#timer, ms);
      }
    }
    this.#parser.execute(b);
    if (this.#parser.paused && !this.#backlogPaused && this.#parser.pendingBytes > this.shared.bufferLimitBytes) {
      this.#backlogPaused = true;
      this.#applyReadState();
    }
  }

  /** AUTO: true while the bytes so far may still be the HTTP/2 preface (held) or once the socket went to HTTP/2. */
  #sniff(b: Buffer): boolean {
    const buf = this.#sniffed === null ? b : Buffer.concat([this.#sniffed, b]);
    const n = Math.min(buf.length, H2_PREFACE.length);
    if (buf.compare(H2_PREFACE, 0, n, 0, n) !== 0) {
      // HTTP/1.1: parse what was held back, then carry on without sniffing.
      this.#h2 = null;
      if (this.#sniffed !== null) {
        this.#sniffed = null;
        this.#data(buf.subarray(0, buf.length - b.length));
      }
      return false;
    }
    if (buf.length < H2_PREFACE.length) {
      this.#sniffed = buf;
      return true;
    }
    const h2 = this.#h2!;
    this.#h2 = null;
    this.#sniffed = null;
    const s = this.#socket;
    this.#wheel.cancel(this.#timer);
    if (this.#requestTimer !== null) this.#wheel.cancel(this.#requestTimer);
    this.#parser.kill();
    s.removeListener('data', this.#onData);
    s.removeListener('drain', this.#onDrain);
    s.removeListener('end', this.#onEnd);
    s.removeListener('close', this.#onClose);
    this.#closed = true;
    this.shared.stats.downstream_cx_active.dec();
    s.pause();
    s.unshift(buf);
    this.#becameH2 = h2.onConnection(s, true);
    return true;
  }

  #applyReadState(): void {
    if (this.#closed) return;
    if (this.#backlogPaused && !this.#parser.paused) this.#backlogPaused = false;
    const pause = this.#streamReadDisabled || this.#backlogPaused;
    if (pause === this.#socketPaused) return;
    this.#socketPaused = pause;
    if (pause) this.#socket.pause();
    else this.#socket.resume();
  }

  #armIdle(): void {
    this.#timer.kind = T_IDLE;
    this.#wheel.schedule(this.#timer, this.shared.config.idleTimeoutMs);
  }

  /** A response for a request that never became a stream (malformed, header timeout); always closes. */
  #replyWithoutStream(reply: LocalReply, method: string): void {
    const sh = this.shared;
    this.write(serializeLocalReply(reply, sh.config.serverName, null, CLOSE_LINE, false), false);
    countStatus(sh.stats, reply.status);
    const now = performance.now();
    writeAccessLog(sh.accessLog, {
      method,
      path: '',
      authority: '',
      protocol: 'HTTP/1.1',
      status: reply.status,
      startMs: now,
      endMs: now,
      upstreamServiceTimeMs: -1,
      upstreamHost: '',
      upstreamCluster: '',
      attemptCount: 0,
      bytesReceived: 0,
      bytesSent: reply.body.length,
      requestId: '',
      responseFlags: reply.flag,
      errCode: reply.code,
      downstreamRemoteAddress: this.connection.directRemoteAddress,
      userAgent: '',
    });
    this.#closeGracefully();
  }

  /** FIN after pending writes, then destroy if the peer does not close within the delayed-close timeout. */
  #closeGracefully(): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#parser.kill();
    // Keep reading (and discarding) until the peer closes, so unread input does not turn our close into a RST.
    this.#streamReadDisabled = false;
    this.#backlogPaused = false;
    this.#applyReadState();
    this.#flushPending();
    this.#socket.end();
    this.#timer.kind = T_CLOSE;
    this.#wheel.schedule(this.#timer, DELAYED_CLOSE_MS);
  }

  #peerEnded(): void {
    // The client half-closed: finish nothing new; a request in flight is abandoned (downstream disconnect).
    if (this.#stream !== null && !this.#stream.requestComplete) {
      this.abort();
      return;
    }
    if (this.#stream === null) this.#closeGracefully();
    // A complete request still gets its response, then the connection closes (no keep-alive on a half-closed socket).
    else this.#stream.closeAfter = true;
  }

  #closedEvent(): void {
    this.#closed = true;
    this.#wheel.cancel(this.#timer);
    if (this.#requestTimer !== null) this.#wheel.cancel(this.#requestTimer);
    this.#parser.kill();
    const s = this.#stream;
    this.#stream = null;
    s?.finish();
    this.shared.stats.downstream_cx_active.dec();
  }
}

function noop(): void {}
