// Filter-chain match tables built at LDS time: destination port, then a chain matching any port, then the default chain.
import type { Socket } from 'node:net';
import type { FilterChainConfig, FilterChainMatchConfig, ListenerConfig } from '../../src/xds/resources/types.js';
import { ServerTlsContext } from '../tls/tls-context.js';
import type { InspectedConnection } from './tls-inspector.js';
import { connectionInfo } from '../http/connection-info.js';
import { createNetworkRbac, type NetworkRbac } from '../filters/network/rbac.js';
import type { ConnectionHandler, NetworkFilterChain, NetworkFilterChainFactory, NetworkFilterChainOptions, SidecarContext } from '../contracts.js';

export type NetworkFilterFactories = Readonly<Record<'tcp_proxy' | 'http_connection_manager', NetworkFilterChainFactory>>;

/** One accepted connection on a filter chain: the socket and the handler its network filter returned. */
export class ActiveConnection {
  readonly socket: Socket;
  readonly chain: BuiltFilterChain;
  handler: ConnectionHandler | null;
  #draining: boolean;

  constructor(socket: Socket, chain: BuiltFilterChain) {
    this.socket = socket;
    this.chain = chain;
    this.handler = null;
    this.#draining = false;
  }

  /** Asks the network filter to drain (once). */
  drain(): void {
    if (this.#draining || this.handler === null) return;
    this.#draining = true;
    this.handler.drain();
  }

  /** Closes through the network filter, then destroys the socket in case the filter left it open. */
  forceClose(): void {
    try {
      this.handler?.close();
    } finally {
      this.socket.destroy();
    }
  }
}

/** One filter chain built from config, with the connections it accepted (kept while they drain after an update). */
export class BuiltFilterChain {
  readonly config: FilterChainConfig;
  readonly chain: NetworkFilterChain;
  /** Identity of the config: an update with an identical chain keeps this object and its connections. */
  readonly fingerprint: string;
  readonly connections = new Set<ActiveConnection>();
  /** envoy.filters.network.rbac evaluators run on each connection before the network filter sees it. */
  readonly rbac: readonly NetworkRbac[];
  /** transport_socket: TLS terminated before the network filters (and network RBAC) see the connection. */
  readonly tls: ServerTlsContext | null;
  #emptyWaiters: (() => void)[] = [];

  constructor(config: FilterChainConfig, chain: NetworkFilterChain, fingerprint: string, rbac: readonly NetworkRbac[] = [], tls: ServerTlsContext | null = null) {
    this.config = config;
    this.chain = chain;
    this.fingerprint = fingerprint;
    this.rbac = rbac;
    this.tls = tls;
  }

  /** Every network RBAC filter allows the connection (each counts its own stats; the first denial stops). */
  admits(socket: Socket): boolean {
    const r = this.rbac;
    if (r.length === 0) return true;
    const info = connectionInfo(socket);
    for (let i = 0; i < r.length; i++) if (!r[i]!.check(info)) return false;
    return true;
  }

  remove(conn: ActiveConnection): void {
    this.connections.delete(conn);
    if (this.connections.size === 0 && this.#emptyWaiters.length > 0) {
      const ws = this.#emptyWaiters;
      this.#emptyWaiters = [];
      for (const w of ws) w();
    }
  }

  /** Resolves once no connection is left on this chain. */
  whenEmpty(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }
}

/** The match table of one listener generation. */
export class FilterChainMatcher {
  readonly #byPort: Map<number, BuiltFilterChain>;
  readonly #anyPort: BuiltFilterChain | null;
  readonly #default: BuiltFilterChain | null;
  /** Some chain matches on what tls_inspector reads: the full narrowing below instead of the port map. */
  readonly #inspected: boolean;
  /** Every chain of this generation (default last). */
  readonly chains: readonly BuiltFilterChain[];

  constructor(byPort: Map<number, BuiltFilterChain>, anyPort: BuiltFilterChain | null, dflt: BuiltFilterChain | null, chains: BuiltFilterChain[]) {
    this.#byPort = byPort;
    this.#anyPort = anyPort;
    this.#default = dflt;
    this.chains = chains;
    this.#inspected = chains.some((c) => c !== dflt && usesInspector(c.config.match));
  }

  /**
   * The chain for a connection accepted on `localPort`, or null (close the connection). Envoy's order: the most
   * specific destination port, then server name (exact, then the longest wildcard, then none), transport
   * protocol (exact, then any), application protocols (overlap, then any); the default chain last.
   */
  match(localPort: number, seen?: InspectedConnection): BuiltFilterChain | null {
    if (!this.#inspected) return this.#byPort.get(localPort) ?? this.#anyPort ?? this.#default;
    const all = this.#default === null ? this.chains : this.chains.filter((c) => c !== this.#default);
    let c = all.filter((x) => x.config.match.destinationPort === localPort);
    if (c.length === 0) c = all.filter((x) => x.config.match.destinationPort === null);
    c = byServerName(c, seen?.serverName ?? '');
    const tp = seen?.transportProtocol ?? '';
    const exact = c.filter((x) => tp !== '' && x.config.match.transportProtocol === tp);
    c = exact.length > 0 ? exact : c.filter((x) => x.config.match.transportProtocol === '');
    const alpn = seen?.applicationProtocols ?? [];
    const overlap = c.filter((x) => x.config.match.applicationProtocols.some((a) => alpn.includes(a)));
    c = overlap.length > 0 ? overlap : c.filter((x) => x.config.match.applicationProtocols.length === 0);
    return c[0] ?? this.#default;
  }
}

function usesInspector(m: FilterChainMatchConfig): boolean {
  return m.serverNames.length > 0 || m.transportProtocol !== '' || m.applicationProtocols.length > 0;
}

function byServerName(c: BuiltFilterChain[], sni: string): BuiltFilterChain[] {
  if (sni !== '') {
    const exact = c.filter((x) => x.config.match.serverNames.includes(sni));
    if (exact.length > 0) return exact;
    // Wildcards from the longest suffix: a.b.example.com tries *.b.example.com, then *.example.com, ...
    for (let dot = sni.indexOf('.'); dot >= 0; dot = sni.indexOf('.', dot + 1)) {
      const w = `*${sni.slice(dot)}`;
      const hit = c.filter((x) => x.config.match.serverNames.includes(w));
      if (hit.length > 0) return hit;
    }
  }
  return c.filter((x) => x.config.match.serverNames.length === 0);
}

/** A chain is rebuilt when its config or anything the factory is given changes (the listener's buffer limit). */
function fingerprintOf(fc: FilterChainConfig, isDefault: boolean, bufferLimitBytes: number): string {
  return `${isDefault ? 'default' : 'chain'}:${bufferLimitBytes}:${JSON.stringify(fc)}`;
}

/**
 * Builds the match table for `config`. Chains whose config is identical to one in `reuse` keep that
 * object (and its live connections). Returns an error string when a network filter factory throws.
 */
export function buildFilterChainMatcher(
  config: ListenerConfig,
  factories: NetworkFilterFactories,
  ctx: SidecarContext,
  reuse: ReadonlyMap<string, BuiltFilterChain>,
): FilterChainMatcher | string {
  const byPort = new Map<number, BuiltFilterChain>();
  let anyPort: BuiltFilterChain | null = null;
  const chains: BuiltFilterChain[] = [];
  const opts: NetworkFilterChainOptions = { bufferLimitBytes: config.perConnectionBufferLimitBytes };
  const build = (fc: FilterChainConfig, isDefault: boolean, path: string): BuiltFilterChain | string => {
    const fp = fingerprintOf(fc, isDefault, opts.bufferLimitBytes);
    const old = reuse.get(fp);
    if (old !== undefined) return old;
    const factory = factories[fc.network.kind];
    try {
      const rbac = fc.networkRbac.map((c) => createNetworkRbac(c, ctx.stats));
      const tls = fc.tls === null ? null : new ServerTlsContext(fc.tls, ctx.secrets, fc.handshakeTimeoutMs);
      return new BuiltFilterChain(fc, factory(fc.network, ctx, opts), fp, rbac, tls);
    } catch (e) {
      return `${path}: ${e instanceof Error ? e.message : String(e)}`;
    }
  };
  for (let i = 0; i < config.filterChains.length; i++) {
    const fc = config.filterChains[i]!;
    const b = build(fc, false, `filter_chains[${i}]`);
    if (typeof b === 'string') return b;
    chains.push(b);
    const port = fc.match.destinationPort;
    if (port === null) anyPort ??= b;
    else if (!byPort.has(port)) byPort.set(port, b);
  }
  let dflt: BuiltFilterChain | null = null;
  if (config.defaultFilterChain !== null) {
    const b = build(config.defaultFilterChain, true, 'default_filter_chain');
    if (typeof b === 'string') return b;
    dflt = b;
    chains.push(b);
  }
  return new FilterChainMatcher(byPort, anyPort, dflt, chains);
}
