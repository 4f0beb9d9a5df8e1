// envoy.filters.network.tcp_proxy: pick a cluster and endpoint, connect, then splice bytes both ways with backpressure.
import net, { type Socket } from 'node:net';
import type { Counter, Gauge } from '../../src/observability/stats.js';
import type { NetworkFilterConfig, TcpProxyConfig } from '../../src/xds/resources/types.js';
import type {
  ConnectionHandler,
  NetworkFilterChain,
  NetworkFilterChainFactory,
  SidecarContext,
  UpstreamCluster,
  UpstreamEndpoint,
} from '../contracts.js';

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
  readonly #random: () => number;
  readonly #names: readonly string[];
  readonly #cumulative: Float64Array;
  readonly #total: number;

  constructor(config: TcpProxyConfig, ctx: SidecarContext, random: () => number) {
    this.config = config;
    this.ctx = ctx;
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
    this.#names = config.cluster !== null ? [config.cluster] : wcs.map((w) => w.name);
    this.#cumulative = new Float64Array(this.#names.length);
    let sum = 0;
    for (let i = 0; i < wcs.length; i++) {
      sum += Math.max(0, wcs[i]!.weight);
      this.#cumulative[i] = sum;
    }
    this.#total = config.cluster !== null ? 0 : sum;
  }

  /** The cluster name for a new connection (weighted clusters drawn by weight); null when none is configured. */
  clusterName(): string | null {
    const names = this.#names;
    if (names.length === 0) return null;
    if (this.#total <= 0) return names[0]!;
    const r = this.#random() * this.#total;
    const cum = this.#cumulative;
    for (let i = 0; i < cum.length; i++) if (r < cum[i]!) return names[i]!;
    return names[names.length - 1]!;
  }

  // NetworkFilterChain
  onConnection(socket: Socket): ConnectionHandler {
    return new TcpProxySession(this, socket);
  }
}

function noop(): void {}

/** One proxied connection: owns the downstream socket, the upstream connect attempts and the splice. */
class TcpProxySession implements ConnectionHandler {
  readonly #f: TcpProxyChain;
  readonly #down: Socket;
  #up: Socket | null;
  #cluster: UpstreamCluster | null;
  #endpoint: UpstreamEndpoint | null;
  #attempts: number;
  #connected: boolean;
  #closed: boolean;
  #flushing: boolean;

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
    f.stats.downstream_cx_total.inc();
    // Downstream bytes wait in the socket (no 'data' listener yet) until the upstream connects.
    down.pause();
    down.on('error', noop);
    down.on('close', this.#onDownClose);
    const idle = f.config.idleTimeoutMs;
    if (idle > 0) {
      // Every proxied byte crosses the downstream socket, so its inactivity timer covers both directions.
      down.setTimeout(idle);
      down.on('timeout', this.#onIdleTimeout);
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
    const ep = cluster.pick();
    if (ep === null) {
      this.close();
      return;
    }
    this.#attempts++;
    this.#endpoint = ep;
    ep.cxActive++;
    cluster.stats.upstream_cx_total.inc();
    cluster.stats.upstream_cx_active.inc();
    const up = net.connect({ host: ep.address.address, port: ep.address.port, allowHalfOpen: true, noDelay: true });
    this.#up = up;
    up.setTimeout(cluster.config.connectTimeoutMs);
    up.once('connect', this.#onUpConnect);
    up.on('timeout', this.#onUpTimeout);
    up.on('error', this.#onUpError);
    up.on('close', this.#onUpClose);
  }

  /** A connect attempt failed: release it and try the next endpoint, or give up and close downstream. */
  #connectFailed(timedOut: boolean): void {
    const cluster = this.#cluster!;
    if (timedOut) cluster.stats.upstream_cx_connect_timeout.inc();
    cluster.stats.upstream_cx_connect_fail.inc();
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
    up.off('connect', this.#onUpConnect);
    up.off('close', this.#onUpClose);
    up.off('timeout', this.#onUpTimeout);
    up.off('error', this.#onUpError);
    up.off('data', this.#onUpData);
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
    up.setTimeout(0);
    up.on('data', this.#onUpData);
    up.on('end', this.#onUpEnd);
    up.on('drain', this.#onUpDrain);
    down.on('data', this.#onDownData);
    down.on('end', this.#onDownEnd);
    down.on('drain', this.#onDownDrain);
    down.resume();
  };

  readonly #onUpTimeout = (): void => {
    if (!this.#connected) this.#connectFailed(true);
  };

  readonly #onUpError = (): void => {
    if (!this.#connected) this.#connectFailed(false);
  };

  readonly #onUpData = (chunk: Buffer): void => {
    this.#f.stats.downstream_cx_tx_bytes_total.inc(chunk.length);
    if (!this.#down.write(chunk)) this.#up!.pause();
  };

  readonly #onDownDrain = (): void => {
    this.#up?.resume();
  };

  readonly #onDownData = (chunk: Buffer): void => {
    this.#f.stats.downstream_cx_rx_bytes_total.inc(chunk.length);
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
    const up = this.#up;
    if (up === null) return;
    if (!this.#connected || hadError || up.destroyed || up.writableLength === 0) {
      this.#releaseUpstream(hadError);
      return;
    }
    this.#flushing = true;
    this.#f.stats.upstream_flush_total.inc();
    this.#f.stats.upstream_flush_active.inc();
    // Nobody reads upstream bytes any more: discard them so the upstream can finish.
    up.off('data', this.#onUpData);
    up.resume();
    up.once('finish', this.#onFlushed);
    if (!up.writableEnded) up.end();
  };

  readonly #onFlushed = (): void => {
    this.#releaseUpstream();
  };

  readonly #onIdleTimeout = (): void => {
    this.#f.stats.idle_timeout.inc();
    this.close();
  };

  // ConnectionHandler
  /** Raw TCP has no in-band way to ask a peer to finish: the connection runs until it closes or the drain timeout. */
  drain(): void {}

  close(): void {
    this.#closed = true;
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
  return new TcpProxyChain(config, ctx, random);
}

/** NetworkFilterChainFactory entry for `tcp_proxy` (same as createTcpProxy with Math.random). */
export const tcpProxyFactory: NetworkFilterChainFactory = createTcpProxy;
