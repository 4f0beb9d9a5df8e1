// envoy.filters.network.tcp_proxy: pick a cluster and endpoint, connect, then splice bytes both ways with backpressure.
import net, { type Socket } from 'node:net';
import { sharedTimerWheel, WheelTimer, type TimerTarget, type TimerWheel } from '../../src/core/timer-wheel.js';
import type { Counter, Gauge } from '../../src/observability/stats.js';
import type { NetworkFilterConfig, TcpProxyConfig } from '../../src/xds/resources/types.js';
import {
  OutlierResult,
  type ConnectionHandler,
  type NetworkFilterChain,
  type NetworkFilterChainFactory,
  type SidecarContext,
  type UpstreamCluster,
  type UpstreamEndpoint,
} from '../contracts.js';
import { WeightedPick } from '../upstream/weighted-pick.js';
import { openUpstream } from '../upstream/transport.js';

/** Pre-resolved `tcp.<stat_prefix>.` stats (Envoy's names). */
interface TcpProxyStats {
  readonly downstream_cx_total: Counter;
  readonly downstream_cx_no_route: Counter;
  readonly downstream_cx_rx_bytes_total: Counter;
  readonly downstream_cx_tx_bytes_total: Counter;
  readonly downstream_flow_control_paused_reading_total: Counter;
  readonly downstream_flow_control_resumed_reading_total: Counter;
  readonly idle_timeout: Counter;
  readonly upstream_flush_total: Counter;
  readonly upstream_flush_active: Gauge;
}

/** The compiled filter for one filter chain: config, stat handles and the cluster draw. */
class TcpProxyChain implements NetworkFilterChain {
  readonly config: TcpProxyConfig;
  readonly ctx: SidecarContext;
  readonly stats: TcpProxyStats;
  readonly wheel: TimerWheel;
  readonly #random: () => number;
  readonly #cluster: string | null;
  readonly #weighted: WeightedPick<string> | null;

  constructor(config: TcpProxyConfig, ctx: SidecarContext, random: () => number, wheel: TimerWheel) {
    this.config = config;
    this.ctx = ctx;
    this.wheel = wheel;
    this.#random = random;
    const p = `tcp.${config.statPrefix}.`;
    const s = ctx.stats;
    this.stats = {
      downstream_cx_total: s.counter(`${p}downstream_cx_total`),
      downstream_cx_no_route: s.counter(`${p}downstream_cx_no_route`),
      downstream_cx_rx_bytes_total: s.counter(`${p}downstream_cx_rx_bytes_total`),
      downstream_cx_tx_bytes_total: s.counter(`${p}downstream_cx_tx_bytes_total`),
      downstream_flow_control_paused_reading_total: s.counter(`${p}downstream_flow_control_paused_reading_total`),
      downstream_flow_control_resumed_reading_total: s.counter(`${p}downstream_flow_control_resumed_reading_total`),
      idle_timeout: s.counter(`${p}idle_timeout`),
      upstream_flush_total: s.counter(`${p}upstream_flush_total`),
      upstream_flush_active: s.gauge(`${p}upstream_flush_active`),
    };
    const wcs = config.weightedClusters ?? [];
    this.#cluster = config.cluster;
    this.#weighted = config.cluster === null && wcs.length > 0 ? new WeightedPick(wcs.map((w) => w.name), wcs.map((w) => w.weight)) : null;
  }

  /** The cluster name for a new connection (weighted clusters drawn by weight); null when none is configured. */
  clusterName(): string | null {
    if (this.#cluster !== null) return this.#cluster;
    return this.#weighted === null ? null : this.#weighted.pick(this.#random);
  }

  // NetworkFilterChain
  onConnection(socket: Socket): ConnectionHandler {
    return new TcpProxySession(this, socket);
  }
}

function noop(): void {}

/**
 * Upstream bytes are read into one buffer per upstream socket (net's `onread`), not a fresh 64 KiB
 * allocation per read plus a Readable push. The buffer is reused only once the downstream write that
 * took a view of it has reached the kernel: while such a write is queued, upstream reads stop.
 */
const UPSTREAM_READ_BUFFER_BYTES = 64 * 1024;

/** One proxied connection: owns the downstream socket, the upstream connect attempts and the splice. */
class TcpProxySession implements ConnectionHandler, TimerTarget {
  readonly #f: TcpProxyChain;
  readonly #down: Socket;
  #up: Socket | null;
  #cluster: UpstreamCluster | null;
  #endpoint: UpstreamEndpoint | null;
  #attempts: number;
  #connected: boolean;
  #closed: boolean;
  #flushing: boolean;
  /** Upstream reading stopped until the downstream write holding a view of #upBuf completes. */
  #upStopped: boolean;
  #upBuf: Buffer | null;
  /** The event that says the upstream is usable ('secureConnect' for TLS clusters). */
  #upReady: 'connect' | 'secureConnect' = 'connect';
  /** Idle timeout: one wheel timer, re-armed lazily from the time of the last proxied chunk. */
  readonly #idleTimer: WheelTimer | null;
  #lastActivity: number;

  constructor(f: TcpProxyChain, down: Socket) {
    this.#f = f;
    this.#down = down;
    this.#up = null;
    this.#cluster = null;
    this.#endpoint = null;
    this.#attempts = 0;
    this.#connected = false;
    this.#closed = false;
    this.#flushing = false;
    this.#upStopped = false;
    this.#upBuf = null;
    this.#lastActivity = 0;
    f.stats.downstream_cx_total.inc();
    // Downstream bytes wait in the socket (no 'data' listener yet) until the upstream connects.
    down.pause();
    down.on('error', noop);
    down.on('close', this.#onDownClose);
    const idle = f.config.idleTimeoutMs;
    if (idle > 0) {
      this.#idleTimer = new WheelTimer(this);
      this.#lastActivity = Date.now();
      f.wheel.schedule(this.#idleTimer, idle);
    } else {
      this.#idleTimer = null;
    }
    const name = f.clusterName();
    const cluster = name === null ? null : f.ctx.clusters.get(name);
    if (cluster === null) {
      f.stats.downstream_cx_no_route.inc();
      this.close();
      return;
    }
    this.#cluster = cluster;
    this.#connect();
  }

  #connect(): void {
    const cluster = this.#cluster!;
    const ep = cluster.pick(null);
    if (ep === null) {
      this.close();
      return;
    }
    this.#attempts++;
    this.#endpoint = ep;
    ep.cxActive++;
    cluster.stats.upstream_cx_total.inc();
    cluster.stats.upstream_cx_active.inc();
    // Kept across connect attempts: a failed attempt never read into it.
    this.#upBuf ??= Buffer.allocUnsafeSlow(UPSTREAM_READ_BUFFER_BYTES);
    let up: net.Socket;
    let ready: 'connect' | 'secureConnect' = 'connect';
    if (cluster.tls === null) {
      up = net.connect({
        host: ep.address.address,
        port: ep.address.port,
        allowHalfOpen: true,
        noDelay: true,
        onread: { buffer: this.#upBuf, callback: this.#onUpRead },
      });
    } else {
      // TLS sockets have no onread: decrypted chunks arrive as 'data' and are paused instead of refused.
      const o = openUpstream(cluster, ep.address.address, ep.address.port);
      up = o.socket;
      ready = o.readyEvent;
      up.on('data', (b: Buffer) => {
        if (!this.#onUpRead(b.length, b)) up.pause();
      });
    }
    this.#up = up;
    this.#upReady = ready;
    up.setTimeout(cluster.config.connectTimeoutMs);
    up.once(ready, this.#onUpConnect);
    up.on('timeout', this.#onUpTimeout);
    up.on('error', this.#onUpError);
    up.on('close', this.#onUpClose);
  }

  /** A connect attempt failed: release it and try the next endpoint, or give up and close downstream. */
  #connectFailed(timedOut: boolean): void {
    const cluster = this.#cluster!;
    if (timedOut) cluster.stats.upstream_cx_connect_timeout.inc();
    cluster.stats.upstream_cx_connect_fail.inc();
    this.#endpoint?.outlier?.putResult(timedOut ? OutlierResult.LocalOriginTimeout : OutlierResult.LocalOriginConnectFailed);
    this.#releaseUpstream();
    if (!this.#closed && this.#attempts < this.#f.config.maxConnectAttempts) this.#connect();
    else this.close();
  }

  /** Drops the current upstream socket and its accounting; `reset` sends an RST instead of a FIN. */
  #releaseUpstream(reset = false): void {
    const up = this.#up;
    if (up === null) return;
    this.#up = null;
    if (this.#flushing) {
      this.#flushing = false;
      this.#f.stats.upstream_flush_active.dec();
    }
    up.off(this.#upReady, this.#onUpConnect);
    up.off('close', this.#onUpClose);
    up.off('timeout', this.#onUpTimeout);
    up.off('error', this.#onUpError);
    up.on('error', noop);
    if (reset && this.#connected && !up.destroyed) up.resetAndDestroy();
    else up.destroy();
    this.#cluster!.stats.upstream_cx_active.dec();
    this.#endpoint!.cxActive--;
    this.#endpoint = null;
  }

  // upstream socket events
  readonly #onUpConnect = (): void => {
    const up = this.#up!;
    const down = this.#down;
    this.#connected = true;
    this.#endpoint?.outlier?.putResult(OutlierResult.LocalOriginConnectSuccessFinal);
    up.setTimeout(0);
    up.on('end', this.#onUpEnd);
    up.on('drain', this.#onUpDrain);
    down.on('data', this.#onDownData);
    down.on('end', this.#onDownEnd);
    down.resume();
  };

  readonly #onUpTimeout = (): void => {
    if (!this.#connected) this.#connectFailed(true);
  };

  readonly #onUpError = (): void => {
    if (!this.#connected) this.#connectFailed(false);
  };

  /** onread: `buf` is #upBuf; returning false stops reading upstream until #onDownWritten restarts it. */
  readonly #onUpRead = (nread: number, buf: Buffer): boolean => {
    this.#f.stats.downstream_cx_tx_bytes_total.inc(nread);
    if (this.#idleTimer !== null) this.#lastActivity = Date.now();
    const down = this.#down;
    if (this.#closed || down.writableEnded) return true; // downstream gone: discard so the upstream can finish
    down.write(buf.subarray(0, nread), this.#onDownWritten);
    if (down.writableLength === 0) return true; // in the kernel already: the buffer is free again
    this.#upStopped = true;
    return false;
  };

  readonly #onDownWritten = (): void => {
    if (!this.#upStopped || this.#down.writableLength !== 0) return;
    this.#upStopped = false;
    this.#up?.resume();
  };

  readonly #onDownData = (chunk: Buffer): void => {
    this.#f.stats.downstream_cx_rx_bytes_total.inc(chunk.length);
    if (this.#idleTimer !== null) this.#lastActivity = Date.now();
    const up = this.#up;
    if (up === null) return;
    if (!up.write(chunk)) {
      this.#down.pause();
      this.#f.stats.downstream_flow_control_paused_reading_total.inc();
    }
  };

  readonly #onUpDrain = (): void => {
    if (this.#down.isPaused()) {
      this.#f.stats.downstream_flow_control_resumed_reading_total.inc();
      this.#down.resume();
    }
  };

  /** Downstream FIN: half-close upstream; the socket closes itself once both directions ended. */
  readonly #onDownEnd = (): void => {
    this.#up?.end();
  };

  /** Upstream FIN: half-close downstream. */
  readonly #onUpEnd = (): void => {
    if (!this.#closed) this.#down.end();
  };

  /** Upstream closed: a reset resets downstream; a clean close lets downstream flush what it holds, then closes it. */
  readonly #onUpClose = (hadError: boolean): void => {
    const up = this.#up;
    if (up === null) return;
    if (!this.#connected) {
      this.#connectFailed(false);
      return;
    }
    this.#releaseUpstream();
    const down = this.#down;
    if (this.#closed || down.destroyed) return;
    if (hadError) {
      this.#closed = true;
      down.resetAndDestroy();
    } else if (down.writableFinished) {
      down.destroy();
    } else {
      if (!down.writableEnded) down.end();
      down.once('finish', this.#destroyDown);
    }
  };

  readonly #destroyDown = (): void => {
    this.#down.destroy();
  };

  /** Downstream closed: a reset resets upstream; a clean close flushes pending upstream bytes, then closes it. */
  readonly #onDownClose = (hadError: boolean): void => {
    this.#closed = true;
    if (this.#idleTimer !== null) this.#f.wheel.cancel(this.#idleTimer);
    const up = this.#up;
    if (up === null) return;
    if (!this.#connected || hadError || up.destroyed || up.writableLength === 0) {
      this.#releaseUpstream(hadError);
      return;
    }
    this.#flushing = true;
    this.#f.stats.upstream_flush_total.inc();
    this.#f.stats.upstream_flush_active.inc();
    // Nobody reads upstream bytes any more: #onUpRead discards them so the upstream can finish.
    this.#upStopped = false;
    up.resume();
    up.once('finish', this.#onFlushed);
    if (!up.writableEnded) up.end();
  };

  readonly #onFlushed = (): void => {
    this.#releaseUpstream();
  };

  // TimerTarget: the idle timeout
  onTimer(timer: WheelTimer): void {
    if (this.#closed) return;
    const idle = this.#f.config.idleTimeoutMs;
    const quiet = Date.now() - this.#lastActivity;
    if (quiet < idle) {
      this.#f.wheel.schedule(timer, idle - quiet);
      return;
    }
    this.#f.stats.idle_timeout.inc();
    this.close();
  }

  // ConnectionHandler
  /** Raw TCP has no in-band way to ask a peer to finish: the connection runs until it closes or the drain timeout. */
  drain(): void {}

  close(): void {
    this.#closed = true;
    if (this.#idleTimer !== null) this.#f.wheel.cancel(this.#idleTimer);
    this.#releaseUpstream();
    this.#down.destroy();
  }
}

/**
 * Builds the tcp_proxy filter for one filter chain; `random` draws weighted clusters. Typed to be usable
 * directly as the listener manager's `tcp_proxy` NetworkFilterChainFactory; any other config kind is a programmer error.
 */
export function createTcpProxy(config: NetworkFilterConfig, ctx: SidecarContext, random: () => number = Math.random): NetworkFilterChain {
  if (config.kind !== 'tcp_proxy') throw new TypeError(`tcp_proxy given a ${config.kind} config`);
  return new TcpProxyChain(config, ctx, random, sharedTimerWheel);
}

/**
 * NetworkFilterChainFactory entry for `tcp_proxy` (createTcpProxy with Math.random). The listener's buffer limit is
 * not needed: a session never buffers more than one upstream read (64 KiB) plus the socket's 16 KiB write mark per direction.
 */
export const tcpProxyFactory: NetworkFilterChainFactory = (config, ctx) => createTcpProxy(config, ctx);
