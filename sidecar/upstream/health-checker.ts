// Active health checking of one cluster's endpoints (envoy.config.core.v3.HealthCheck: HTTP, TCP, gRPC).
//
// Envoy semantics kept here:
// - every host × configured check is a session with its own schedule; the first check runs at once;
// - a host added while checks are configured starts with FailedActiveHc and serves after one success
//   (the first check skips healthy_threshold); later, unhealthy_threshold consecutive failures set the
//   flag and healthy_threshold consecutive successes clear it; with several checks, any failing one
//   keeps the flag set;
// - the next check waits interval (passing) or unhealthy_interval (failing); while a transition is
//   pending (between the first and the threshold-th result) healthy_edge_interval /
//   unhealthy_edge_interval; then + [0, interval_jitter_percent % of that base) + [0, interval_jitter);
// - a timeout is a failure of the network kind and closes the check connection.
// Differences: no_traffic_interval is not used (the regular intervals always apply), initial_jitter,
// reuse_connection=false and the event log are not supported; TCP checks use one connection per check.
// Timers are plain unref'd timeouts: a few per host and interval, nowhere near the data path.
import { isDeepStrictEqual } from 'node:util';
import { HealthFlag, type UpstreamCluster, type UpstreamEndpoint } from '../contracts.js';
import type { Logger } from '../../src/observability/logger.js';
import type { Counter, Gauge, StatsStore } from '../../src/observability/stats.js';
import type { HealthCheckConfig } from '../../src/xds/resources/types.js';
import { GrpcProbe } from './health-check/grpc.js';
import { HttpProbe } from './health-check/http.js';
import { ProbeOutcome, type HealthProbe, type ProbeCallbacks, type ProbeTarget } from './health-check/probe.js';
import { TcpProbe } from './health-check/tcp.js';

/** What one check result did to its session's verdict (Envoy's HealthTransition). */
export const HealthTransition = { Unchanged: 0, Changed: 1, ChangePending: 2 } as const;
export type HealthTransition = (typeof HealthTransition)[keyof typeof HealthTransition];

/** Pre-resolved `cluster.<name>.health_check.*` stats. */
export interface HealthCheckStats {
  readonly attempt: Counter;
  readonly success: Counter;
  /** Every failed check, network ones included (as in Envoy). */
  readonly failure: Counter;
  /** Connect failures, resets and timeouts. */
  readonly network_failure: Counter;
  /** Hosts passing every check. */
  readonly healthy: Gauge;
}

export function healthCheckStats(stats: StatsStore, clusterName: string): HealthCheckStats {
  const p = `cluster.${clusterName}.health_check.`;
  return {
    attempt: stats.counter(`${p}attempt`),
    success: stats.counter(`${p}success`),
    failure: stats.counter(`${p}failure`),
    network_failure: stats.counter(`${p}network_failure`),
    healthy: stats.gauge(`${p}healthy`),
  };
}

/**
 * Delay before the next check after one that passed (`passed`) or failed, given what it changed:
 * the edge intervals while a transition is pending, then jitter (`random()` in [0, 1)).
 * Never below 1 ms.
 */
export function nextCheckDelayMs(cfg: HealthCheckConfig, passed: boolean, transition: HealthTransition, random: () => number): number {
  const pending = transition === HealthTransition.ChangePending;
  const unhealthyInterval = cfg.unhealthyIntervalMs ?? cfg.intervalMs;
  const base = passed
    ? pending
      ? (cfg.healthyEdgeIntervalMs ?? cfg.intervalMs)
      : cfg.intervalMs
    : pending
      ? (cfg.unhealthyEdgeIntervalMs ?? unhealthyInterval)
      : unhealthyInterval;
  let ms = base;
  const percentMod = Math.floor((cfg.intervalJitterPercent * base) / 100);
  if (percentMod > 0) ms += Math.floor(random() * percentMod);
  if (cfg.intervalJitterMs > 0) ms += Math.floor(random() * cfg.intervalJitterMs);
  return Math.max(1, ms);
}

function createProbe(cfg: HealthCheckConfig, target: ProbeTarget, cb: ProbeCallbacks): HealthProbe {
  const c = cfg.check;
  switch (c.kind) {
    case 'http':
      return new HttpProbe(c, target, cb);
    case 'tcp':
      return new TcpProbe(c, target, cb);
    case 'grpc':
      return new GrpcProbe(c, target, cb);
  }
}

/** What a session reports to its checker (an object built once per checker; keeps those calls off the public API). */
interface SessionOwner {
  readonly stats: HealthCheckStats;
  readonly random: () => number;
  onTransition(entry: HostEntry, session: CheckSession, healthy: boolean, reason: string): void;
  onFailure(entry: HostEntry, session: CheckSession, reason: string, alwaysLog: boolean): void;
}

/** One endpoint under active health checking: its sessions and the combined verdict. */
interface HostEntry {
  readonly ep: UpstreamEndpoint;
  sessions: CheckSession[];
  /** Sessions whose verdict is unhealthy. */
  failing: number;
  /** Every check passes (counted in the healthy gauge); false while no check is configured. */
  passing: boolean;
}

/** Owns the sessions of one cluster's hosts and turns their verdicts into FailedActiveHc flags. */
export class HealthChecker {
  readonly #cluster: UpstreamCluster;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #stats: HealthCheckStats;
  readonly #hosts: Map<string, HostEntry>;
  readonly #owner: SessionOwner;
  #configs: readonly HealthCheckConfig[];
  #closed: boolean;

  constructor(
    cluster: UpstreamCluster,
    configs: readonly HealthCheckConfig[],
    deps: { logger: Logger; stats: StatsStore; random?: () => number },
  ) {
    this.#cluster = cluster;
    this.#logger = deps.logger;
    this.#random = deps.random ?? Math.random;
    this.#stats = healthCheckStats(deps.stats, cluster.name);
    this.#hosts = new Map();
    this.#configs = configs;
    this.#closed = false;
    this.#owner = {
      stats: this.#stats,
      random: this.#random,
      onTransition: (entry, session, healthy, reason) => this.#onSessionTransition(entry, session, healthy, reason),
      onFailure: (entry, session, reason, alwaysLog) => this.#onSessionFailure(entry, session, reason, alwaysLog),
    };
  }

  /** Starts checking new hosts (known ones are kept as they are); each gets FailedActiveHc until its first pass. */
  addHosts(eps: readonly UpstreamEndpoint[]): void {
    if (this.#closed) return;
    for (const ep of eps) {
      const cur = this.#hosts.get(ep.key);
      if (cur !== undefined) {
        if (cur.ep === ep) continue;
        this.#removeEntry(cur); // same address, new endpoint object: check the new one
      }
      const entry: HostEntry = { ep, sessions: [], failing: 0, passing: false };
      this.#hosts.set(ep.key, entry);
      if (this.#configs.length > 0) this.#setFlag(ep, true);
      this.#startSessions(entry, false);
    }
  }

  /** Stops checking these hosts (their flags are left as they are). */
  removeHosts(eps: readonly UpstreamEndpoint[]): void {
    for (const ep of eps) {
      const cur = this.#hosts.get(ep.key);
      if (cur !== undefined) this.#removeEntry(cur);
    }
  }

  /**
   * Replaces the checks (no-op when equal). Every host restarts its sessions at once and keeps its
   * current serving state: a serving host stays up until unhealthy_threshold failures, a failing one
   * serves after one pass. With no check left, FailedActiveHc is cleared everywhere.
   */
  setConfig(configs: readonly HealthCheckConfig[]): void {
    if (this.#closed || isDeepStrictEqual(configs, this.#configs)) return;
    this.#configs = configs;
    for (const entry of this.#hosts.values()) {
      this.#closeSessions(entry);
      const serving = (entry.ep.healthFlags & HealthFlag.FailedActiveHc) === 0;
      if (configs.length === 0) {
        this.#setPassing(entry, false);
        this.#setFlag(entry.ep, false);
      } else {
        this.#setPassing(entry, serving);
        this.#startSessions(entry, serving);
      }
    }
  }

  /** Stops every timer and closes every check connection; the checker is not used again. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const entry of this.#hosts.values()) {
      this.#closeSessions(entry);
      this.#setPassing(entry, false);
    }
    this.#hosts.clear();
  }

  /** Hosts checked now, with whether each passes every check (for admin output and tests). */
  hostStates(): readonly { readonly key: string; readonly passing: boolean }[] {
    const out: { key: string; passing: boolean }[] = [];
    for (const e of this.#hosts.values()) out.push({ key: e.ep.key, passing: e.passing });
    return out;
  }

  /** A session's verdict flipped. */
  #onSessionTransition(entry: HostEntry, session: CheckSession, healthy: boolean, reason: string): void {
    if (this.#hosts.get(entry.ep.key) !== entry) return;
    this.#logger.info(
      { cluster: this.#cluster.name, host: entry.ep.key, check: session.kind, healthy, reason },
      healthy ? 'health check passing' : 'health check failing',
    );
    entry.failing += healthy ? -1 : 1;
    const passing = entry.failing === 0;
    if (passing !== entry.passing) {
      this.#setPassing(entry, passing);
      this.#setFlag(entry.ep, !passing);
    }
  }

  /** A check failed (logged at debug, or at info with always_log_health_check_failures). */
  #onSessionFailure(entry: HostEntry, session: CheckSession, reason: string, alwaysLog: boolean): void {
    const l = this.#logger;
    if (alwaysLog) l.info({ cluster: this.#cluster.name, host: entry.ep.key, check: session.kind, reason }, 'health check failed');
    else if (l.isLevelEnabled('debug')) {
      l.debug({ cluster: this.#cluster.name, host: entry.ep.key, check: session.kind, reason }, 'health check failed');
    }
  }

  #startSessions(entry: HostEntry, initiallyHealthy: boolean): void {
    const target: ProbeTarget = { address: entry.ep.address, clusterName: this.#cluster.name };
    const sessions: CheckSession[] = [];
    for (const cfg of this.#configs) sessions.push(new CheckSession(this.#owner, entry, cfg, target, initiallyHealthy));
    entry.sessions = sessions;
    entry.failing = initiallyHealthy ? 0 : sessions.length;
    for (const s of sessions) s.start();
  }

  #closeSessions(entry: HostEntry): void {
    for (const s of entry.sessions) s.close();
    entry.sessions = [];
    entry.failing = 0;
  }

  #removeEntry(entry: HostEntry): void {
    this.#closeSessions(entry);
    this.#setPassing(entry, false);
    this.#hosts.delete(entry.ep.key);
  }

  #setPassing(entry: HostEntry, passing: boolean): void {
    if (entry.passing === passing) return;
    entry.passing = passing;
    if (passing) this.#stats.healthy.inc();
    else this.#stats.healthy.dec();
  }

  #setFlag(ep: UpstreamEndpoint, on: boolean): void {
    const isOn = (ep.healthFlags & HealthFlag.FailedActiveHc) !== 0;
    if (isOn !== on) this.#cluster.setHealthFlag(ep, HealthFlag.FailedActiveHc, on);
  }
}

/** One host × one configured check: its probe, its timers, its consecutive counts and verdict. */
class CheckSession implements ProbeCallbacks {
  readonly kind: 'http' | 'tcp' | 'grpc';
  readonly #owner: SessionOwner;
  readonly #entry: HostEntry;
  readonly #cfg: HealthCheckConfig;
  readonly #probe: HealthProbe;
  readonly #onInterval: () => void;
  readonly #onTimeout: () => void;
  #healthy: boolean;
  #firstCheck: boolean;
  #numHealthy: number;
  #numUnhealthy: number;
  #inFlight: boolean;
  #closed: boolean;
  #intervalTimer: NodeJS.Timeout | null;
  #timeoutTimer: NodeJS.Timeout | null;

  constructor(owner: SessionOwner, entry: HostEntry, cfg: HealthCheckConfig, target: ProbeTarget, healthy: boolean) {
    this.kind = cfg.check.kind;
    this.#owner = owner;
    this.#entry = entry;
    this.#cfg = cfg;
    this.#probe = createProbe(cfg, target, this);
    this.#onInterval = () => this.#run();
    this.#onTimeout = () => this.#timedOut();
    this.#healthy = healthy;
    this.#firstCheck = true;
    this.#numHealthy = 0;
    this.#numUnhealthy = 0;
    this.#inFlight = false;
    this.#closed = false;
    this.#intervalTimer = null;
    this.#timeoutTimer = null;
  }

  /** The first check runs right away (next macrotask). */
  start(): void {
    this.#schedule(0);
  }

  close(): void {
    this.#closed = true;
    this.#inFlight = false;
    if (this.#intervalTimer !== null) clearTimeout(this.#intervalTimer);
    if (this.#timeoutTimer !== null) clearTimeout(this.#timeoutTimer);
    this.#intervalTimer = null;
    this.#timeoutTimer = null;
    this.#probe.close();
  }

  // ProbeCallbacks
  onProbeResult(outcome: ProbeOutcome, reason: string): void {
    if (!this.#inFlight || this.#closed) return;
    this.#inFlight = false;
    if (this.#timeoutTimer !== null) clearTimeout(this.#timeoutTimer);
    this.#timeoutTimer = null;
    if (outcome === ProbeOutcome.Success) this.#handleSuccess(reason);
    else this.#handleFailure(outcome === ProbeOutcome.NetworkFailure, reason);
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    const t = setTimeout(this.#onInterval, ms);
    t.unref();
    this.#intervalTimer = t;
  }

  #run(): void {
    this.#intervalTimer = null;
    if (this.#closed) return;
    this.#inFlight = true;
    this.#owner.stats.attempt.inc();
    const t = setTimeout(this.#onTimeout, this.#cfg.timeoutMs);
    t.unref();
    this.#timeoutTimer = t;
    this.#probe.start();
  }

  #timedOut(): void {
    this.#timeoutTimer = null;
    if (!this.#inFlight || this.#closed) return;
    this.#inFlight = false;
    this.#probe.abort();
    this.#handleFailure(true, 'timeout');
  }

  #handleSuccess(reason: string): void {
    this.#numUnhealthy = 0;
    let t: HealthTransition = HealthTransition.Unchanged;
    if (!this.#healthy) {
      // the first result ever moves a host to healthy at once (Envoy: faster startup)
      if (this.#firstCheck || ++this.#numHealthy >= this.#cfg.healthyThreshold) {
        this.#healthy = true;
        this.#numHealthy = 0;
        t = HealthTransition.Changed;
      } else {
        t = HealthTransition.ChangePending;
      }
    }
    this.#firstCheck = false;
    this.#owner.stats.success.inc();
    if (t === HealthTransition.Changed) this.#owner.onTransition(this.#entry, this, true, reason);
    this.#schedule(nextCheckDelayMs(this.#cfg, true, t, this.#owner.random));
  }

  #handleFailure(network: boolean, reason: string): void {
    this.#numHealthy = 0;
    let t: HealthTransition = HealthTransition.Unchanged;
    if (this.#healthy) {
      if (++this.#numUnhealthy >= this.#cfg.unhealthyThreshold) {
        this.#healthy = false;
        this.#numUnhealthy = 0;
        t = HealthTransition.Changed;
      } else {
        t = HealthTransition.ChangePending;
      }
    }
    this.#firstCheck = false;
    const stats = this.#owner.stats;
    stats.failure.inc();
    if (network) stats.network_failure.inc();
    this.#owner.onFailure(this.#entry, this, reason, this.#cfg.alwaysLogFailures);
    if (t === HealthTransition.Changed) this.#owner.onTransition(this.#entry, this, false, reason);
    this.#schedule(nextCheckDelayMs(this.#cfg, false, t, this.#owner.random));
  }
}
