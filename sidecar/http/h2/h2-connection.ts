// HTTP/2 downstream codec on node:http2 (nghttp2): one H2Connection per accepted socket, one H2Stream per request.
// The server object is never listened on: the connection manager hands it sockets (h2c prior knowledge, or AUTO
// after the preface was sniffed). Flood protection comes from nghttp2's limits plus the checks in H2Connection.
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import { WheelTimer, type TimerTarget } from '../../../src/core/timer-wheel.js';
import type { ConnectionHandler } from '../../contracts.js';
import type { HcmShared } from '../active-stream.js';
import { connectionInfo, type DownstreamConnectionInfo } from '../connection-info.js';
import { H2Stream } from './h2-stream.js';

/** Builds sessions for one filter chain (settings from the HCM's http2_protocol_options). */
export interface H2Codec {
  /** `counted`: downstream_cx_total was already counted (an AUTO connection that turned out to be HTTP/2). */
  onConnection(socket: Socket, counted: boolean): ConnectionHandler;
}

const T_IDLE = 0;
const T_DRAIN = 1;
const T_SWEEP = 2;

/** Flood checks run this often per connection (docs/h2-hardening.md). */
const SWEEP_MS = 1000;
/** Envoy's premature-reset rule: after this many streams, more than half reset early closes the connection. */
const PREMATURE_RESET_MIN_STREAMS = 500;
/** A stream reset by the client within this long of opening (or before its response) is premature. */
export const PREMATURE_RESET_MS = 1000;
/** Inbound bytes per sweep above which at least 1/8 must be new streams or request body (else a control-frame flood). */
const INBOUND_BUDGET_BYTES = 1 << 20;
/** Rough bytes one request's HEADERS frame accounts for in the inbound budget. */
const STREAM_BYTES_CREDIT = 256;

export function createH2Codec(shared: HcmShared): H2Codec {
  const cfg = shared.config;
  const h2 = cfg.http2;
  const server = http2.createServer({
    settings: {
      maxConcurrentStreams: h2.maxConcurrentStreams,
      initialWindowSize: h2.initialStreamWindowSize,
      maxHeaderListSize: cfg.maxRequestHeadersKb * 1024,
      enablePush: false,
    },
    // Pseudo-headers count as pairs in node's limit.
    maxHeaderListPairs: cfg.maxHeadersCount + 4,
    // node's default; lower values cut legitimate slow downloads (docs/h2-hardening.md).
    maxSessionMemory: 10,
    // Legitimate clients send no invalid frames (empty DATA without END_STREAM counts as one).
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    maxOutstandingPings: 10,
    maxSettings: 32,
  });
  let last: http2.ServerHttp2Session | null = null;
  server.on('session', (s: http2.ServerHttp2Session) => {
    last = s;
  });
  server.on('error', noop);
  return {
    onConnection(socket: Socket, counted: boolean): ConnectionHandler {
      last = null;
      server.emit('connection', socket);
      const session = last as http2.ServerHttp2Session | null;
      if (session === null) {
        socket.destroy();
        return { drain: noop, close: noop };
      }
      return new H2Connection(shared, session, socket, counted);
    },
  };
}

/** One downstream HTTP/2 connection: its session, live streams, connection idle timeout and drain (GOAWAY). */
export class H2Connection implements ConnectionHandler, TimerTarget {
  readonly shared: HcmShared;
  readonly connection: DownstreamConnectionInfo;
  draining: boolean;
  readonly #session: http2.ServerHttp2Session;
  readonly #socket: Socket;
  readonly #timer: WheelTimer;
  readonly #sweepTimer: WheelTimer;
  #streams: number;
  #closed: boolean;
  // flood accounting
  #streamsTotal: number;
  #prematureResets: number;
  /** Request body bytes and new streams since the last sweep (useful inbound traffic). */
  #usefulBytes: number;
  #lastBytesRead: number;
  /** A PING is outstanding from the previous sweep (liveness of a silent connection). */
  #pingPending: boolean;
  readonly #onPingAck: (err: Error | null) => void;

  constructor(shared: HcmShared, session: http2.ServerHttp2Session, socket: Socket, counted: boolean) {
    this.shared = shared;
    this.connection = connectionInfo(socket);
    this.draining = false;
    this.#session = session;
    this.#socket = socket;
    this.#timer = new WheelTimer(this, T_IDLE);
    this.#streams = 0;
    this.#closed = false;
    this.#sweepTimer = new WheelTimer(this, T_SWEEP);
    this.#streamsTotal = 0;
    this.#prematureResets = 0;
    this.#usefulBytes = 0;
    this.#lastBytesRead = socket.bytesRead;
    this.#pingPending = false;
    this.#onPingAck = (err: Error | null) => {
      if (err === null) this.#pingPending = false;
    };
    socket.setNoDelay(true);
    try {
      session.setLocalWindowSize(shared.config.http2.initialConnectionWindowSize);
    } catch {
      // The session died during setup; its close event follows.
    }
    session.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) =>
      this.#onStream(stream, headers, flags, raw),
    );
    session.on('close', () => this.#onClose());
    session.on('error', noop);
    session.on('frameError', noop);
    if (!counted) shared.stats.downstream_cx_total.inc();
    shared.stats.downstream_cx_active.inc();
    this.#armIdle();
    shared.wheel.schedule(this.#sweepTimer, SWEEP_MS);
  }

  // ConnectionHandler

  drain(): void {
    if (this.draining || this.#closed) return;
    this.draining = true;
    // GOAWAY(NO_ERROR); streams in flight finish; the session closes when the last one does.
    this.#session.close();
    this.#timer.kind = T_DRAIN;
    this.shared.wheel.schedule(this.#timer, this.shared.config.drainTimeoutMs);
  }

  close(): void {
    if (this.#closed) return;
    this.#session.destroy();
    this.#socket.destroy();
  }

  // TimerTarget

  onTimer(t: WheelTimer): void {
    if (this.#closed) return;
    if (t.kind === T_IDLE) {
      if (this.#streams === 0) this.drain();
    } else if (t.kind === T_SWEEP) {
      this.#sweep();
    } else {
      this.close();
    }
  }

  /** A stream of this connection ended; `premature`: the client reset it early (rapid-reset accounting). */
  onStreamClosed(premature: boolean): void {
    this.#streams--;
    if (premature) {
      this.#prematureResets++;
      const total = this.#streamsTotal;
      if (total >= PREMATURE_RESET_MIN_STREAMS && this.#prematureResets * 2 > total) {
        this.#abuse('too many premature stream resets', this.shared.stats.downstream_rq_too_many_premature_resets);
        return;
      }
    }
    if (this.#streams === 0 && !this.draining) this.#armIdle();
  }

  /** Request body bytes received (counts as useful inbound traffic for the flood budget). */
  onBodyBytes(n: number): void {
    this.#usefulBytes += n;
  }

  /**
   * Once per SWEEP_MS: inbound bytes that are mostly not requests or body (PRIORITY, WINDOW_UPDATE, SETTINGS,
   * unknown frames) close the connection; so does an outbound frame queue past max_outbound_frames (a reader
   * that stopped reading); a silent connection must answer a PING by the next sweep (nghttp2 can leave a
   * session that sent GOAWAY half-dead: it stops reading and never notices the peer leaving).
   */
  #sweep(): void {
    const sh = this.shared;
    const read = this.#socket.bytesRead;
    const delta = read - this.#lastBytesRead;
    this.#lastBytesRead = read;
    const useful = this.#usefulBytes;
    this.#usefulBytes = 0;
    if (delta > INBOUND_BUDGET_BYTES && useful * 8 < delta) {
      this.#abuse('inbound frame flood', sh.stats.downstream_cx_flood);
      return;
    }
    const session = this.#session;
    let queued = 0;
    try {
      queued = session.state.outboundQueueSize ?? 0;
    } catch {
      queued = 0;
    }
    if (queued > sh.config.http2.maxOutboundFrames) {
      this.#abuse('outbound frame queue over max_outbound_frames', sh.stats.downstream_cx_flood);
      return;
    }
    if (delta === 0) {
      if (this.#pingPending) {
        // No bytes and no PING ack for a whole sweep: the peer or the session is gone.
        this.close();
        return;
      }
      this.#pingPending = true;
      try {
        if (!session.ping(this.#onPingAck)) this.#pingPending = false;
      } catch {
        this.close();
        return;
      }
    } else this.#pingPending = false;
    sh.wheel.schedule(this.#sweepTimer, SWEEP_MS);
  }

  /** Closes the connection with GOAWAY ENHANCE_YOUR_CALM and says why (warn + stat). */
  #abuse(what: string, counter: { inc(): void }): void {
    counter.inc();
    const log = this.shared.ctx.logger;
    log.warn({ err_code: 'TESSERA_ERR_HTTP2_PROTOCOL', peer: this.connection.directRemoteAddress, listener_stat_prefix: this.shared.config.statPrefix }, `HTTP/2 connection closed: ${what}`);
    this.#session.destroy(new Error(what), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    this.#socket.destroy();
  }

  #onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, raw: string[]): void {
    if (this.#closed) return;
    this.#streams++;
    this.#streamsTotal++;
    this.#usefulBytes += STREAM_BYTES_CREDIT;
    if (this.#streams === 1) this.shared.wheel.cancel(this.#timer);
    const sh = this.shared;
    sh.stats.downstream_rq_total.inc();
    sh.stats.downstream_rq_active.inc();
    const s = new H2Stream(this, stream, headers, flags, raw);
    s.start();
  }

  #armIdle(): void {
    this.#timer.kind = T_IDLE;
    this.shared.wheel.schedule(this.#timer, this.shared.config.idleTimeoutMs);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.shared.wheel.cancel(this.#timer);
    this.shared.wheel.cancel(this.#sweepTimer);
    this.shared.stats.downstream_cx_active.dec();
    if (!this.#socket.destroyed) this.#socket.destroy();
  }
}

function noop(): void {}
