// One Listener: its net.Server, the current filter-chain match table, and every connection it accepted until closed.
import net, { type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { NOT_INSPECTED, inspectConnection, type InspectedConnection } from './tls-inspector.js';
import type { Logger } from '../../src/observability/logger.js';
import type { Counter, Gauge, StatsStore } from '../../src/observability/stats.js';
import type { ListenerConfig } from '../../src/xds/resources/types.js';
import { ActiveConnection, type BuiltFilterChain, type FilterChainMatcher } from './filter-chain-matcher.js';

/** Pre-resolved `listener.<address>_<port>.` stats. */
interface ListenerStats {
  readonly downstream_cx_total: Counter;
  readonly downstream_cx_active: Gauge;
  readonly downstream_cx_destroy: Counter;
  readonly no_filter_chain_match: Counter;
  /** Envoy's listener ssl.* stats: handshakes done, failed, refused for the peer certificate, secrets missing. */
  readonly ssl_handshake: Counter;
  readonly ssl_connection_error: Counter;
  readonly ssl_fail_verify: Counter;
  readonly ssl_fail_verify_no_cert: Counter;
  readonly ssl_no_certificate: Counter;
  readonly ssl_handshake_timeout: Counter;
  readonly listener_filter_timeout: Counter;
}

/** Owns one bound (or, for an api_listener, unbound) listener and the connections on all its chain generations. */
export class ActiveListener {
  readonly name: string;
  #config: ListenerConfig;
  #matcher: FilterChainMatcher;
  readonly #logger: Logger;
  readonly #statsStore: StatsStore;
  #stats: ListenerStats | null;
  #server: net.Server | null;
  #boundPort: number | null;
  #accepting: boolean;
  /** Current chains plus older generations that still hold connections. */
  readonly #chains = new Set<BuiltFilterChain>();
  #activeConnections: number;

  constructor(config: ListenerConfig, matcher: FilterChainMatcher, logger: Logger, stats: StatsStore) {
    this.name = config.name;
    this.#config = config;
    this.#matcher = matcher;
    this.#logger = logger;
    this.#statsStore = stats;
    this.#stats = null;
    this.#server = null;
    this.#boundPort = null;
    this.#accepting = false;
    this.#activeConnections = 0;
    for (const c of matcher.chains) this.#chains.add(c);
  }

  get config(): ListenerConfig {
    return this.#config;
  }

  get matcher(): FilterChainMatcher {
    return this.#matcher;
  }

  get boundPort(): number | null {
    return this.#boundPort;
  }

  get activeConnections(): number {
    return this.#activeConnections;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Binds the address; resolves to null or an error like `bind 127.0.0.1:80: EADDRINUSE`. api_listeners bind nothing. */
  listen(): Promise<string | null> {
    const addr = this.#config.address;
    if (addr === null) return Promise.resolve(null);
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true });
    return new Promise((resolve) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        server.off('listening', onListening);
        resolve(`bind ${addr.address}:${addr.port}: ${err.code ?? err.message}`);
      };
      const onListening = (): void => {
        server.off('error', onError);
        server.on('error', this.#onServerError);
        server.on('connection', this.#onConnection);
        const bound = server.address();
        this.#boundPort = typeof bound === 'object' && bound !== null ? bound.port : addr.port;
        const scope = `listener.${addr.address}_${this.#boundPort}`;
        const s = this.#statsStore;
        this.#stats = {
          downstream_cx_total: s.counter(`${scope}.downstream_cx_total`),
          downstream_cx_active: s.gauge(`${scope}.downstream_cx_active`),
          downstream_cx_destroy: s.counter(`${scope}.downstream_cx_destroy`),
          no_filter_chain_match: s.counter(`${scope}.no_filter_chain_match`),
          ssl_handshake: s.counter(`${scope}.ssl.handshake`),
          ssl_connection_error: s.counter(`${scope}.ssl.connection_error`),
          ssl_fail_verify: s.counter(`${scope}.ssl.fail_verify`),
          ssl_fail_verify_no_cert: s.counter(`${scope}.ssl.fail_verify_no_cert`),
          ssl_no_certificate: s.counter(`${scope}.ssl.no_certificate`),
          ssl_handshake_timeout: s.counter(`${scope}.ssl.handshake_timeout`),
          listener_filter_timeout: s.counter(`${scope}.downstream_pre_cx_timeout`),
        };
        this.#server = server;
        this.#accepting = true;
        resolve(null);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host: addr.address, port: addr.port });
    });
  }

  /**
   * Same address, new config: new connections use `matcher` from now on; chains not carried over
   * are returned so the caller drains their connections.
   */
  swap(config: ListenerConfig, matcher: FilterChainMatcher): BuiltFilterChain[] {
    const kept = new Set(matcher.chains);
    const retired: BuiltFilterChain[] = [];
    for (const c of this.#matcher.chains) if (!kept.has(c)) retired.push(c);
    this.#config = config;
    this.#matcher = matcher;
    for (const c of matcher.chains) this.#chains.add(c);
    for (const c of retired) if (c.connections.size === 0) this.#chains.delete(c);
    return retired;
  }

  /** Stops accepting; bound connections stay open. */
  stopAccepting(): void {
    this.#accepting = false;
    if (this.#server !== null) {
      this.#server.off('connection', this.#onConnection);
      this.#server.close();
    }
  }

  /**
   * Drains the connections of `chains` (default: all of them): handler.drain() now, force close
   * whatever is left after `timeoutMs`. Resolves when they are all gone or force-closed.
   */
  async drain(timeoutMs: number, chains: readonly BuiltFilterChain[] = [...this.#chains]): Promise<void> {
    const pending = chains.filter((c) => c.connections.size > 0);
    for (const c of pending) for (const conn of c.connections) conn.drain();
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | null = null;
    const timedOut = await Promise.race([
      Promise.all(pending.map((c) => c.whenEmpty())).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(resolve, timeoutMs, true);
      }),
    ]);
    if (timer !== null) clearTimeout(timer);
    if (timedOut) {
      for (const c of pending) for (const conn of [...c.connections]) conn.forceClose();
    }
  }

  /** Stops accepting and force-closes every connection now. */
  closeAll(): void {
    this.stopAccepting();
    for (const c of this.#chains) for (const conn of [...c.connections]) conn.forceClose();
  }

  // net.Server events
  readonly #onServerError = (err: Error): void => {
    this.#logger.warn({ listener: this.name, err }, 'listener socket error');
  };

  readonly #onConnection = (socket: Socket): void => {
    const stats = this.#stats!;
    stats.downstream_cx_total.inc();
    socket.on('error', ignoreError);
    if (!this.#accepting) return this.#refuse(socket, false);
    const cfg = this.#config;
    if (!cfg.tlsInspector) return this.#dispatch(socket, NOT_INSPECTED);
    inspectConnection(socket, cfg.listenerFiltersTimeoutMs, (r) => {
      if (r === 'closed') return this.#refuse(socket, false);
      if (r === 'timeout') {
        stats.listener_filter_timeout.inc();
        if (!this.#config.continueOnListenerFiltersTimeout) return this.#refuse(socket, false);
        return this.#dispatch(socket, NOT_INSPECTED);
      }
      this.#dispatch(socket, r);
    });
  };

  #refuse(socket: Socket, noMatch: boolean): void {
    const stats = this.#stats!;
    if (noMatch) stats.no_filter_chain_match.inc();
    stats.downstream_cx_destroy.inc();
    socket.destroy();
  }

  /** Picks the chain (with what tls_inspector saw), terminates TLS when the chain has a transport socket. */
  #dispatch(socket: Socket, seen: InspectedConnection): void {
    if (!this.#accepting) return this.#refuse(socket, false);
    const chain = this.#matcher.match(socket.localPort ?? 0, seen);
    if (chain === null) return this.#refuse(socket, true);
    if (chain.tls === null) {
      // envoy.filters.network.rbac on a plaintext chain: decided before any byte is read or forwarded.
      if (!chain.admits(socket)) return this.#refuse(socket, false);
      this.#start(socket, socket, chain);
      return;
    }
    this.#handshake(socket, chain);
  }

  #handshake(socket: Socket, chain: BuiltFilterChain): void {
    const stats = this.#stats!;
    const ctx = chain.tls!;
    socket.pause(); // node:tls replays what tls_inspector read (socket.read()) before reading the handle itself
    const started = ctx.handshake(socket, (t, why) => {
      if (t === null) {
        if (why === 'ERR_TLS_HANDSHAKE_TIMEOUT') stats.ssl_handshake_timeout.inc();
        else stats.ssl_connection_error.inc();
        stats.downstream_cx_destroy.inc();
        socket.destroy();
        return;
      }
      t.on('error', ignoreError);
      const refused = ctx.checkPeer(t);
      if (refused !== null) {
        if (refused === 'no client certificate') stats.ssl_fail_verify_no_cert.inc();
        else stats.ssl_fail_verify.inc();
        this.#logger.debug({ listener: this.name, remote: socket.remoteAddress, reason: refused }, 'TLS peer refused');
        return this.#closeTls(t, socket);
      }
      stats.ssl_handshake.inc();
      if (!this.#accepting || !chain.admits(t)) return this.#closeTls(t, socket);
      this.#start(t, socket, chain);
    });
    if (!started) {
      stats.ssl_no_certificate.inc();
      this.#logger.warn({ listener: this.name, reason: ctx.missing }, 'TLS connection refused: no certificate yet');
      this.#refuse(socket, false);
    }
  }

  #closeTls(t: TLSSocket, socket: Socket): void {
    this.#stats!.downstream_cx_destroy.inc();
    t.destroy();
    socket.destroy();
  }

  /** Hands the (plaintext or TLS) stream to the chain's network filter and tracks it until closed. */
  #start(stream: Socket, raw: Socket, chain: BuiltFilterChain): void {
    const stats = this.#stats!;
    const conn = new ActiveConnection(stream, chain);
    chain.connections.add(conn);
    this.#chains.add(chain);
    this.#activeConnections++;
    stats.downstream_cx_active.inc();
    stream.once('close', () => {
      if (raw !== stream) raw.destroy();
      this.#onConnectionClosed(conn);
    });
    try {
      conn.handler = chain.chain.onConnection(stream);
    } catch (err) {
      this.#logger.error({ listener: this.name, err }, 'network filter failed on a new connection');
      stream.destroy();
    }
  }

  #onConnectionClosed(conn: ActiveConnection): void {
    this.#activeConnections--;
    const stats = this.#stats!;
    stats.downstream_cx_active.dec();
    stats.downstream_cx_destroy.inc();
    const chain = conn.chain;
    chain.remove(conn);
    if (chain.connections.size === 0 && !this.#matcher.chains.includes(chain)) this.#chains.delete(chain);
  }
}

/** Socket errors are handled by the network filter through 'close'; this keeps an unobserved one from crashing. */
function ignoreError(): void {}
