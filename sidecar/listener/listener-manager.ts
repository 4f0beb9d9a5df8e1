// Listener manager: applies LDS (bind, swap filter chains, drain what changed), and drains everything on shutdown.
import type { Logger } from '../../src/observability/logger.js';
import type { StatsStore } from '../../src/observability/stats.js';
import type { ListenerConfig, SocketAddress } from '../../src/xds/resources/types.js';
import type { SidecarContext } from '../contracts.js';
import { type BuiltFilterChain, type NetworkFilterFactories, buildFilterChainMatcher } from './filter-chain-matcher.js';
import { ActiveListener } from './listener.js';

export interface ListenerManagerOptions {
  readonly factories: NetworkFilterFactories;
  readonly ctx: SidecarContext;
  readonly logger: Logger;
  readonly stats: StatsStore;
  /** How long connections on replaced chains or removed listeners may drain before being closed; default 10 s. */
  readonly drainTimeoutMs?: number;
}

export interface FilterChainSummary {
  readonly name: string;
  readonly destinationPort: number | null;
  readonly filter: 'tcp_proxy' | 'http_connection_manager';
}

/** One listener as shown on /config_dump. */
export interface ListenerSummary {
  readonly name: string;
  readonly address: SocketAddress | null;
  readonly boundPort: number | null;
  readonly filterChains: readonly FilterChainSummary[];
  readonly defaultFilterChain: FilterChainSummary | null;
  readonly activeConnections: number;
}

function sameAddress(a: SocketAddress | null, b: SocketAddress | null): boolean {
  if (a === null || b === null) return a === b;
  return a.address === b.address && a.port === b.port;
}

/** Owns every active listener and those still draining after removal or an address change. */
export class ListenerManager {
  readonly #opts: ListenerManagerOptions;
  readonly #drainTimeoutMs: number;
  readonly #listeners = new Map<string, ActiveListener>();
  /** Removed or re-addressed listeners whose connections are still draining. */
  readonly #retiring = new Set<ActiveListener>();
  /** Serializes apply() calls: binding is asynchronous. */
  #queue: Promise<unknown> = Promise.resolve();
  #shutdown = false;

  constructor(opts: ListenerManagerOptions) {
    this.#opts = opts;
    this.#drainTimeoutMs = opts.drainTimeoutMs ?? 10_000;
  }

  /**
   * Applies an LDS update. Resolves to errors (`listener 'x': bind 127.0.0.1:80: EADDRINUSE`) for
   * listeners that were not applied (their previous version, if any, keeps serving); the rest are applied.
   */
  apply(upserts: ReadonlyMap<string, ListenerConfig>, removals: readonly string[]): Promise<string[]> {
    const run = this.#queue.then(() => this.#apply(upserts, removals));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(upserts: ReadonlyMap<string, ListenerConfig>, removals: readonly string[]): Promise<string[]> {
    const errors: string[] = [];
    if (this.#shutdown) {
      for (const name of upserts.keys()) errors.push(`listener "${name}": the listener manager is shut down`);
      return errors;
    }
    const { factories, ctx, logger, stats } = this.#opts;
    for (const name of removals) {
      const l = this.#listeners.get(name);
      if (l === undefined) continue;
      this.#listeners.delete(name);
      this.#retire(l);
      logger.info({ listener: name }, 'listener removed');
    }
    for (const [name, cfg] of upserts) {
      const existing = this.#listeners.get(name);
      if (existing !== undefined && sameAddress(existing.config.address, cfg.address)) {
        const reuse = new Map<string, BuiltFilterChain>();
        for (const c of existing.matcher.chains) reuse.set(c.fingerprint, c);
        const matcher = buildFilterChainMatcher(cfg, factories, ctx, reuse);
        if (typeof matcher === 'string') {
          errors.push(`listener "${name}": ${matcher}`);
          continue;
        }
        const retired = existing.swap(cfg, matcher);
        if (retired.length > 0) void existing.drain(this.#drainTimeoutMs, retired);
        logger.info({ listener: name, drained_chains: retired.length }, 'listener updated');
        continue;
      }
      const matcher = buildFilterChainMatcher(cfg, factories, ctx, new Map());
      if (typeof matcher === 'string') {
        errors.push(`listener "${name}": ${matcher}`);
        continue;
      }
      const l = new ActiveListener(cfg, matcher, logger, stats);
      const bindError = await l.listen();
      if (bindError !== null) {
        errors.push(`listener "${name}": ${bindError}`);
        continue;
      }
      this.#listeners.set(name, l);
      if (existing !== undefined) this.#retire(existing);
      logger.info({ listener: name, port: l.boundPort }, existing === undefined ? 'listener added' : 'listener re-addressed');
    }
    return errors;
  }

  #retire(l: ActiveListener): void {
    l.stopAccepting();
    this.#retiring.add(l);
    void l.drain(this.#drainTimeoutMs).then(() => this.#retiring.delete(l));
  }

  /** Listeners currently configured (sorted by name). */
  listeners(): ListenerSummary[] {
    const out: ListenerSummary[] = [];
    for (const l of this.#listeners.values()) {
      const cfg = l.config;
      out.push({
        name: l.name,
        address: cfg.address,
        boundPort: l.boundPort,
        filterChains: cfg.filterChains.map((fc) => ({
          name: fc.name,
          destinationPort: fc.match.destinationPort,
          filter: fc.network.kind,
        })),
        defaultFilterChain:
          cfg.defaultFilterChain === null
            ? null
            : { name: cfg.defaultFilterChain.name, destinationPort: null, filter: cfg.defaultFilterChain.network.kind },
        activeConnections: l.activeConnections,
      });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The port a listener is bound to (tests bind port 0), or null. */
  boundPort(name: string): number | null {
    return this.#listeners.get(name)?.boundPort ?? null;
  }

  /** SIGTERM: stop accepting everywhere, drain every connection, force-close what is left after `timeoutMs`. */
  async drainAll(timeoutMs: number): Promise<void> {
    this.#shutdown = true;
    const all = [...this.#listeners.values(), ...this.#retiring];
    for (const l of all) l.stopAccepting();
    await Promise.all(all.map((l) => l.drain(timeoutMs)));
  }

  /** Stops every listener and closes every connection now. */
  close(): void {
    this.#shutdown = true;
    for (const l of this.#listeners.values()) l.closeAll();
    for (const l of this.#retiring) l.closeAll();
    this.#retiring.clear();
  }
}
