// H2Stream: one request/response exchange on a downstream HTTP/2 connection (node:http2 stream ↔ ActiveStream).
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import { WheelTimer } from '../../../src/core/timer-wheel.js';
import { ActiveStream, stripRequestHopByHop } from '../active-stream.js';
import { isGrpcContentType } from '../grpc.js';
import { HeaderMap } from '../header-map.js';
import { copyToH2Headers, headerMapFromRaw } from './h2-headers.js';
import { LocalReplies, parseErrorReply, type LocalReply } from '../local-reply.js';
import { PREMATURE_RESET_MS, type H2Connection } from './h2-connection.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL } = http2.constants;
const END_STREAM = 0x1;

/** The H2Stream that owns a node stream (listeners are static functions; `this` is the node stream). */
const kStream = Symbol('tessera.h2.stream');
type TaggedStream = http2.ServerHttp2Stream & { [kStream]: H2Stream };

/** Base class timer kind 0 is max_stream_duration. */
const T_STREAM_IDLE = 1;
const T_REQUEST = 2;

/** Owns the HTTP/2 side of one stream: header conversion, response headers/data/trailers, flow control, stream timers. */
export class H2Stream extends ActiveStream {
  readonly #conn: H2Connection;
  readonly #stream: http2.ServerHttp2Stream;
  #idleMs: number;
  readonly #idleTimer: WheelTimer;
  readonly #requestTimer: WheelTimer | null;
  #requestTrailers: HeaderMap | null;
  /** Response trailers to send once node asks for them (waitForTrailers). */
  #responseTrailers: Record<string, string | string[]> | null;
  #waitForTrailers: boolean;
  #drainListened: boolean;
  #closed: boolean;
  /** Decoded request header list size; checked against max_request_headers_kb (nghttp2 only enforces it once SETTINGS are acked). */
  readonly #headerBytes: number;
  readonly #opened: number;
  /** The proxy reset this stream itself (upstream reset, timeout): not the client's doing. */
  #resetByUs: boolean;

  constructor(conn: H2Connection, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) {
    const h = new HeaderMap();
    let headerBytes = 0;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const n = raw[i]!;
      const v = raw[i + 1]!;
      headerBytes += n.length + v.length + 32; // RFC 9113 §6.5.2 size accounting
      if (n.charCodeAt(0) !== 58 /* : */) h.add(n, v);
    }
    const authority = String(headers[':authority'] ?? headers.host ?? '').toLowerCase();
    if (!h.has('host') && authority !== '') h.add('host', authority);
    super(
      conn.shared,
      {
        method: String(headers[':method'] ?? ''),
        path: String(headers[':path'] ?? ''),
        authority,
        headers: h,
        protocol: 'HTTP/2',
        bodyless: (flags & END_STREAM) !== 0 || stream.endAfterHeaders,
        expectContinue: (h.get('expect') ?? '').toLowerCase() === '100-continue',
      },
      conn.connection,
    );
    this.#conn = conn;
    this.#stream = stream;
    this.#headerBytes = headerBytes;
    this.#opened = performance.now();
    this.#resetByUs = false;
    const cfg = conn.shared.config;
    this.#idleMs = cfg.streamIdleTimeoutMs;
    this.#idleTimer = new WheelTimer(this, T_STREAM_IDLE);
    this.#requestTimer = cfg.requestTimeoutMs > 0 && !this.requestComplete ? new WheelTimer(this, T_REQUEST) : null;
    this.#requestTrailers = null;
    this.#responseTrailers = null;
    this.#waitForTrailers = false;
    this.#drainListened = false;
    this.#closed = false;
    const tagged = stream as TaggedStream;
    tagged[kStream] = this;
    // A request that ended with its headers (GET) needs no body listeners: node then skips reading the
    // stream's readable side (attaching 'data' there costs an error object per stream in Node 20).
    if (!this.requestComplete) {
      stream.on('data', H2Stream.#onData);
      stream.on('trailers', H2Stream.#onTrailers);
      stream.on('end', H2Stream.#onEnd);
    }
    // 'drain' is listened for once a write is refused, 'wantTrailers' once a response announces trailers.
    stream.on('close', H2Stream.#onClose);
    stream.on('error', noop);
  }

  // node stream listeners (`this` is the node stream)

  static #onData(this: TaggedStream, b: Buffer): void {
    const s = this[kStream];
    s.#touch();
    s.#conn.onBodyBytes(b.length);
    s.decodeData(b, false);
  }

  static #onTrailers(this: TaggedStream, _h: http2.IncomingHttpHeaders, _f: number, r: string[]): void {
    this[kStream].#requestTrailers = headerMapFromRaw(r);
  }

  static #onEnd(this: TaggedStream): void {
    const s = this[kStream];
    if (s.#requestTimer !== null) s.shared.wheel.cancel(s.#requestTimer);
    if (!s.requestComplete || s.#requestTrailers !== null) s.endRequest(s.#requestTrailers);
    s.#requestTrailers = null;
  }

  static #onClose(this: TaggedStream): void {
    this[kStream].#closedEvent();
  }

  static #onDrain(this: TaggedStream): void {
    this[kStream].onDownstreamDrain();
  }

  static #onWantTrailers(this: TaggedStream): void {
    this[kStream].#sendTrailers();
  }


  start(): void {
    const sh = this.shared;
    if (this.#idleMs > 0) sh.wheel.schedule(this.#idleTimer, this.#idleMs);
    if (this.#requestTimer !== null) sh.wheel.schedule(this.#requestTimer, sh.config.requestTimeoutMs);
    if (this.#headerBytes > sh.config.maxRequestHeadersKb * 1024) {
      sh.stats.downstream_rq_rejected.inc();
      this.sendLocalReply(parseErrorReply('TESSERA_ERR_HTTP_HEADERS_TOO_LARGE', 'request headers too large'), null);
      return;
    }
    if (this.method === 'CONNECT') {
      sh.stats.downstream_rq_rejected.inc();
      this.sendLocalReply(parseErrorReply('TESSERA_ERR_HTTP_NOT_IMPLEMENTED', 'CONNECT is not supported'), null);
      return;
    }
    // nghttp2 already rejected connection-specific fields and malformed pseudo-headers; te: trailers stays.
    stripRequestHopByHop(this.headers);
    if (this.expectContinue) this.headers.remove('expect');
    this.startStream('');
  }

  protected setStreamIdleTimeout(ms: number): void {
    if (ms === this.#idleMs) return;
    this.#idleMs = ms;
    if (ms > 0) this.shared.wheel.schedule(this.#idleTimer, ms);
    else this.shared.wheel.cancel(this.#idleTimer);
  }

  // StreamCallbacks

  encodeHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    if (this.#closed) return;
    this.startResponse(status, headers, endStream);
    const end = endStream || this.method === 'HEAD';
    this.#waitForTrailers = !end && (isGrpcContentType(headers.get('content-type')) || headers.has('trailer'));
    this.#touch();
    if (this.#waitForTrailers) this.#stream.on('wantTrailers', H2Stream.#onWantTrailers);
    try {
      this.#stream.respond(toH2Headers(status, headers), { endStream: end, waitForTrailers: this.#waitForTrailers });
    } catch {
      this.resetStream('DPE');
      return;
    }
    if (end) this.#responseDone();
  }

  encodeData(chunk: Buffer, endStream: boolean): boolean {
    if (this.#closed) return false;
    const s = this.#stream;
    let ok = true;
    if (this.method !== 'HEAD') {
      this.bytesSent += chunk.length;
      this.#touch();
      if (endStream) s.end(chunk.length > 0 ? chunk : undefined);
      else if (chunk.length > 0) {
        ok = s.write(chunk);
        if (!ok && !this.#drainListened) {
          this.#drainListened = true;
          s.on('drain', H2Stream.#onDrain);
        }
      }
    } else if (endStream) s.end();
    if (endStream) this.#responseDone();
    return ok;
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (this.#closed) return;
    if (this.#waitForTrailers) {
      const t: Record<string, string | string[]> = {};
      copyToH2Headers(trailers, t, true);
      this.#responseTrailers = t;
    }
    // Trailers on a response that announced none (no grpc content-type, no Trailer field) are dropped.
    this.#stream.end();
    this.#responseDone();
  }

  protected encodeLocalReply(reply: LocalReply, headers: HeaderMap | null): void {
    if (this.#closed) return;
    this.responseStarted = true;
    this.status = reply.status;
    const head = this.method === 'HEAD';
    const h: Record<string, string | string[]> = { ':status': String(reply.status) };
    if (headers !== null) copyToH2Headers(headers, h, false);
    h['content-length'] = String(reply.body.length);
    h['content-type'] = 'text/plain';
    h.server = this.shared.config.serverName;
    this.bytesSent += head ? 0 : reply.body.length;
    try {
      this.#stream.respond(h, { endStream: head || reply.body.length === 0 });
      if (!head && reply.body.length > 0) this.#stream.end(reply.body);
    } catch {
      this.#stream.close(NGHTTP2_INTERNAL_ERROR);
    }
    this.#responseDone();
  }

  continueRequest(): void {
    // HTTP/2 clients rarely send expect: 100-continue; when one does, a 100 goes out once.
    if (!this.expectContinue || this.requestComplete || this.responseStarted || this.#closed) return;
    try {
      this.#stream.additionalHeaders({ ':status': 100 });
    } catch {
      // The stream is gone.
    }
  }

  readDisable(disable: boolean): void {
    if (this.#closed) return;
    if (disable) this.#stream.pause();
    else this.#stream.resume();
  }

  upgradeTo(_status: number, _headers: HeaderMap, upstream: Socket, _pending: Buffer | null): void {
    upstream.destroy();
    this.resetStream('UPE');
  }

  resetStream(flag: string): void {
    this.addResponseFlag(flag);
    this.responseComplete = true;
    this.#resetByUs = true;
    if (!this.#closed) this.#stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  // TimerTarget

  override onTimer(t: WheelTimer): void {
    if (t.kind === T_STREAM_IDLE) {
      if (this.responseComplete) return;
      this.shared.stats.downstream_rq_idle_timeout.inc();
      if (!this.responseStarted) this.sendLocalReply(LocalReplies.streamIdleTimeout, null);
      else this.resetStream('SI');
    } else if (t.kind === T_REQUEST) {
      if (this.requestComplete || this.responseStarted) return;
      this.shared.stats.downstream_rq_timeout.inc();
      this.sendLocalReply(LocalReplies.requestTimeout, null);
    } else super.onTimer(t);
  }

  #touch(): void {
    if (this.#idleMs > 0) this.shared.wheel.touch(this.#idleTimer, this.#idleMs);
  }

  #sendTrailers(): void {
    const t = this.#responseTrailers;
    this.#responseTrailers = null;
    try {
      this.#stream.sendTrailers(t ?? {});
    } catch {
      this.#stream.close(NGHTTP2_NO_ERROR);
    }
  }

  #responseDone(): void {
    if (this.responseComplete) return;
    this.responseComplete = true;
    this.shared.wheel.cancel(this.#idleTimer);
    if (this.#requestTimer !== null) this.shared.wheel.cancel(this.#requestTimer);
    // The response is complete before the request: stop the rest of the request (RFC 9113 §8.1, RST_STREAM NO_ERROR).
    if (!this.requestComplete && !this.#closed) this.#stream.close(NGHTTP2_NO_ERROR);
  }

  #closedEvent(): void {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.shared.wheel;
    w.cancel(this.#idleTimer);
    if (this.#requestTimer !== null) w.cancel(this.#requestTimer);
    let premature = false;
    if (!this.responseComplete) {
      // The client reset the stream (or the connection went away) before the response completed.
      const code = this.#stream.rstCode;
      this.addResponseFlag(code === NGHTTP2_CANCEL ? 'DC' : 'DR');
      premature = true;
    } else if (!this.#resetByUs && (this.#stream.rstCode ?? 0) !== NGHTTP2_NO_ERROR && performance.now() - this.#opened < PREMATURE_RESET_MS) {
      premature = true;
    }
    this.finish();
    this.#conn.onStreamClosed(premature);
  }
}

function toH2Headers(status: number, h: HeaderMap): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = { ':status': String(status) };
  copyToH2Headers(h, o, false);
  return o;
}

function noop(): void {}
