// Outlier detection for one cluster with Envoy's semantics (envoy.config.cluster.v3.OutlierDetection):
// per-host monitors count results cheaply on the data path; consecutive-failure ejections happen
// inline, success-rate / failure-percentage ejections and unejections on the interval timer.
import type { Logger } from '../../src/observability/logger.js';
import type { Counter, Gauge, StatsStore } from '../../src/observability/stats.js';
import type { OutlierDetectionConfig } from '../../src/xds/resources/types.js';
import { HealthFlag, OutlierResult, type OutlierMonitor, type UpstreamCluster, type UpstreamEndpoint } from '../contracts.js';

/** Envoy's envoy.data.cluster.v3.OutlierEjectionType, as indexes into the per-type stat arrays. */
export const EjectionType = {
  Consecutive5xx: 0,
  SuccessRate: 1,
  ConsecutiveGatewayFailure: 2,
  ConsecutiveLocalOriginFailure: 3,
  SuccessRateLocalOrigin: 4,
  FailurePercentage: 5,
  FailurePercentageLocalOrigin: 6,
} as const;
export type EjectionType = (typeof EjectionType)[keyof typeof EjectionType];

/** Log `type` per EjectionType (Envoy's enum names, lower-cased). */
const kTypeNames: readonly string[] = [
  'consecutive_5xx',
  'success_rate',
  'consecutive_gateway_failure',
  'consecutive_local_origin_failure',
  'success_rate_local_origin',
  'failure_percentage',
  'failure_percentage_local_origin',
];

/** Stat name suffix per EjectionType: ejections_{detected,enforced}_<suffix> (Envoy's names). */
const kStatSuffixes: readonly string[] = [
  'consecutive_5xx',
  'success_rate',
  'consecutive_gateway_failure',
  'consecutive_local_origin_failure',
  'local_origin_success_rate',
  'failure_percentage',
  'local_origin_failure_percentage',
];

/**
 * The config the detector takes. `alwaysEjectOneHost` is Envoy's always_eject_one_host (default false):
 * OutlierDetectionConfig does not carry it yet, so it is read when present.
 */
export type OutlierDetectorConfig = OutlierDetectionConfig;

export interface OutlierDetectorDeps {
  readonly logger: Logger;
  readonly stats: StatsStore;
  /** Monotonic clock in ms; default performance.now. */
  readonly now?: () => number;
  /** Uniform [0, 1); default Math.random. Used for enforcing_* rolls and ejection jitter. */
  readonly random?: () => number;
  /** Run runInterval() from an unref'd setInterval every intervalMs; default true (false in unit tests). */
  readonly autoStart?: boolean;
}

/** Pre-resolved `cluster.<name>.outlier_detection.*` handles. */
interface OutlierStats {
  readonly ejectionsActive: Gauge;
  /** Deprecated in Envoy; counts consecutive_5xx and success_rate ejections that were not overflow. */
  readonly ejectionsTotal: Counter;
  readonly ejectionsEnforcedTotal: Counter;
  readonly ejectionsOverflow: Counter;
  readonly detected: readonly Counter[];
  readonly enforced: readonly Counter[];
}

/** Consecutive thresholds read by every monitor on the data path (0 in config = never; kept as Infinity). */
class MonitorSettings {
  split = false;
  consecutive5xx = Infinity;
  consecutiveGatewayFailure = Infinity;
  consecutiveLocalOriginFailure = Infinity;
}

/** The detector hook a monitor calls when a consecutive threshold is reached (module-internal). */
const kOnConsecutive = Symbol('tessera.outlier.onConsecutive');

interface ConsecutiveSink {
  [kOnConsecutive](mon: HostMonitor, type: EjectionType): void;
}

/** Per-endpoint counters: consecutive failures, and two success-rate buckets (current, last interval) per origin. */
class HostMonitor implements OutlierMonitor {
  readonly ep: UpstreamEndpoint;
  readonly #settings: MonitorSettings;
  readonly #sink: ConsecutiveSink;
  /** False once the detector let go of the endpoint (removeHosts / close); late results are then ignored. */
  attached: boolean;
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  consecutiveLocalOriginFailure: number;
  // externally originated (all results when not split): bucket being written, bucket of the last interval
  extTotal: number;
  extSuccess: number;
  extTotalPrev: number;
  extSuccessPrev: number;
  // locally originated (split mode only)
  locTotal: number;
  locSuccess: number;
  locTotalPrev: number;
  locSuccessPrev: number;
  // ejection state
  ejected: boolean;
  numEjections: number;
  /** Envoy's eject_time_backoff: +1 per ejection (capped), -1 per healthy interval after an unejection. */
  backoff: number;
  lastEjectionMs: number;
  /** -1 = never unejected. */
  lastUnejectionMs: number;
  jitterMs: number;
  /** How long the current (or last) ejection lasts, and why. */
  ejectionTimeMs: number;
  ejectionType: EjectionType;

  constructor(ep: UpstreamEndpoint, settings: MonitorSettings, sink: ConsecutiveSink) {
    this.ep = ep;
    this.#settings = settings;
    this.#sink = sink;
    this.attached = true;
    this.consecutive5xx = 0;
    this.consecutiveGatewayFailure = 0;
    this.consecutiveLocalOriginFailure = 0;
    this.extTotal = 0;
    this.extSuccess = 0;
    this.extTotalPrev = 0;
    this.extSuccessPrev = 0;
    this.locTotal = 0;
    this.locSuccess = 0;
    this.locTotalPrev = 0;
    this.locSuccessPrev = 0;
    this.ejected = false;
    this.numEjections = 0;
    this.backoff = 0;
    this.lastEjectionMs = 0;
    this.lastUnejectionMs = -1;
    this.jitterMs = 0;
    this.ejectionTimeMs = 0;
    this.ejectionType = EjectionType.Consecutive5xx;
  }

  // OutlierMonitor
  putHttpStatus(status: number): void {
    this.extTotal++;
    if (status >= 500 && status < 600) {
      const s = this.#settings;
      if (status >= 502 && status <= 504) {
        if (++this.consecutiveGatewayFailure >= s.consecutiveGatewayFailure) {
          this.#sink[kOnConsecutive](this, EjectionType.ConsecutiveGatewayFailure);
        }
      } else {
        this.consecutiveGatewayFailure = 0;
      }
      if (++this.consecutive5xx >= s.consecutive5xx) this.#sink[kOnConsecutive](this, EjectionType.Consecutive5xx);
    } else {
      this.extSuccess++;
      this.consecutive5xx = 0;
      this.consecutiveGatewayFailure = 0;
    }
  }

  putResult(result: OutlierResult): void {
    if (this.#settings.split) {
      if (result === OutlierResult.LocalOriginConnectSuccess || result === OutlierResult.LocalOriginConnectSuccessFinal) {
        this.locTotal++;
        this.locSuccess++;
        this.consecutiveLocalOriginFailure = 0;
      } else {
        // connect failed, timeout, reset
        this.locTotal++;
        if (++this.consecutiveLocalOriginFailure >= this.#settings.consecutiveLocalOriginFailure) {
          this.#sink[kOnConsecutive](this, EjectionType.ConsecutiveLocalOriginFailure);
        }
      }
      return;
    }
    // Not split: Envoy maps local-origin results to HTTP codes (timeout 504, connect failure / reset 503,
    // a final connect success 200); a plain connect success is followed by the response's own status.
    switch (result) {
      case OutlierResult.LocalOriginTimeout:
        this.putHttpStatus(504);
        break;
      case OutlierResult.LocalOriginConnectFailed:
      case OutlierResult.LocalOriginReset:
        this.putHttpStatus(503);
        break;
      case OutlierResult.LocalOriginConnectSuccessFinal:
        this.putHttpStatus(200);
        break;
      default:
        break;
    }
  }

  /** Interval boundary: the bucket written so far becomes the one read; the written one starts empty. */
  swapBuckets(): void {
    this.extTotalPrev = this.extTotal;
    this.extSuccessPrev = this.extSuccess;
    this.extTotal = 0;
    this.extSuccess = 0;
    this.locTotalPrev = this.locTotal;
    this.locSuccessPrev = this.locSuccess;
    this.locTotal = 0;
    this.locSuccess = 0;
  }

  resetConsecutive(): void {
    this.consecutive5xx = 0;
    this.consecutiveGatewayFailure = 0;
    this.consecutiveLocalOriginFailure = 0;
  }
}

/** One host's success rate over the last interval, collected for the statistical detectors. */
interface RateSample {
  mon: HostMonitor;
  rate: number;
}

/** Owns the outlier state of one cluster's hosts, its interval timer and its `outlier_detection.*` stats. */
export class OutlierDetector implements ConsecutiveSink {
  readonly #cluster: UpstreamCluster;
  #config: OutlierDetectorConfig;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #autoStart: boolean;
  readonly #stats: OutlierStats;
  readonly #settings: MonitorSettings;
  readonly #monitors: Map<UpstreamEndpoint, HostMonitor>;
  #ejectedCount: number;
  #timer: NodeJS.Timeout | null;
  #timerIntervalMs: number;
  #closed: boolean;
  readonly #onTimer: () => void;
  // scratch arrays reused by every interval
  readonly #srHosts: RateSample[];
  readonly #fpHosts: RateSample[];

  constructor(cluster: UpstreamCluster, config: OutlierDetectorConfig, deps: OutlierDetectorDeps) {
    this.#cluster = cluster;
    this.#config = config;
    this.#logger = deps.logger;
    this.#now = deps.now ?? (() => performance.now());
    this.#random = deps.random ?? Math.random;
    this.#autoStart = deps.autoStart ?? true;
    this.#stats = resolveStats(deps.stats, cluster.name);
    this.#settings = new MonitorSettings();
    this.#monitors = new Map();
    this.#ejectedCount = 0;
    this.#timer = null;
    this.#timerIntervalMs = 0;
    this.#closed = false;
    this.#onTimer = () => this.runInterval();
    this.#srHosts = [];
    this.#fpHosts = [];
    this.#applySettings(config);
    if (this.#autoStart) this.#armTimer();
  }

  get config(): OutlierDetectorConfig {
    return this.#config;
  }

  /** Hosts currently ejected by this detector. */
  get ejectedCount(): number {
    return this.#ejectedCount;
  }

  /** Starts watching endpoints (sets `ep.outlier`); endpoints already watched are left as they are. */
  addHosts(eps: readonly UpstreamEndpoint[]): void {
    if (this.#closed) return;
    for (const ep of eps) {
      if (this.#monitors.has(ep)) continue;
      const mon = new HostMonitor(ep, this.#settings, this);
      this.#monitors.set(ep, mon);
      ep.outlier = mon;
    }
  }

  /**
   * Stops watching endpoints and forgets their state (clears `ep.outlier`). An ejected endpoint still in
   * the cluster (not `removed`) gets its FailedOutlierCheck flag cleared, so it cannot stay ejected forever.
   */
  removeHosts(eps: readonly UpstreamEndpoint[]): void {
    for (const ep of eps) this.#release(ep);
  }

  /** New config (CDS update): thresholds apply to the next result; ejection state is kept. */
  setConfig(config: OutlierDetectorConfig): void {
    this.#config = config;
    this.#applySettings(config);
    if (this.#timer !== null && this.#timerIntervalMs !== config.intervalMs) this.#armTimer();
  }

  /** Stops the interval timer and releases every endpoint (as removeHosts). Idempotent. */
  close(): void {
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    this.#closed = true;
    for (const ep of [...this.#monitors.keys()]) this.#release(ep);
  }

  /** Runs one interval evaluation now (tests; the timer calls it every intervalMs). */
  runInterval(): void {
    if (this.#closed) return;
    const now = this.#now();
    for (const mon of this.#monitors.values()) {
      this.#checkUneject(mon, now);
      mon.swapBuckets();
    }
    this.#processRates(false);
    if (this.#settings.split) this.#processRates(true);
    // Envoy: a host that stayed in service for an interval since its last unejection has its backoff lowered.
    const intervalMs = this.#config.intervalMs;
    for (const mon of this.#monitors.values()) {
      if (!mon.ejected && mon.lastUnejectionMs >= 0 && now - mon.lastUnejectionMs >= intervalMs && mon.backoff > 0) {
        mon.backoff--;
      }
    }
  }

  // ConsecutiveSink (called from a monitor on the data path, only when a threshold is reached)
  [kOnConsecutive](mon: HostMonitor, type: EjectionType): void {
    if (!mon.attached || mon.ejected) return;
    this.#stats.detected[type]!.inc();
    this.#ejectHost(mon, type, null);
    // Reset the counter that fired so a new run of failures is needed to detect again (even when not enforced).
    if (type === EjectionType.Consecutive5xx) mon.consecutive5xx = 0;
    else if (type === EjectionType.ConsecutiveGatewayFailure) mon.consecutiveGatewayFailure = 0;
    else mon.consecutiveLocalOriginFailure = 0;
  }

  #applySettings(c: OutlierDetectionConfig): void {
    const s = this.#settings;
    s.split = c.splitExternalLocalOriginErrors;
    s.consecutive5xx = c.consecutive5xx > 0 ? c.consecutive5xx : Infinity;
    s.consecutiveGatewayFailure = c.consecutiveGatewayFailure > 0 ? c.consecutiveGatewayFailure : Infinity;
    s.consecutiveLocalOriginFailure = c.consecutiveLocalOriginFailure > 0 ? c.consecutiveLocalOriginFailure : Infinity;
  }

  #armTimer(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timerIntervalMs = this.#config.intervalMs;
    this.#timer = setInterval(this.#onTimer, Math.max(1, this.#timerIntervalMs));
    this.#timer.unref();
  }

  #release(ep: UpstreamEndpoint): void {
    const mon = this.#monitors.get(ep);
    if (mon === undefined) return;
    this.#monitors.delete(ep);
    mon.attached = false;
    if (ep.outlier === mon) ep.outlier = null;
    if (mon.ejected) {
      mon.ejected = false;
      this.#ejectedCount--;
      this.#stats.ejectionsActive.dec();
      if (!ep.removed) this.#cluster.setHealthFlag(ep, HealthFlag.FailedOutlierCheck, false);
    }
  }

  #enforcingPercent(type: EjectionType): number {
    const c = this.#config;
    switch (type) {
      case EjectionType.Consecutive5xx:
        return c.enforcingConsecutive5xx;
      case EjectionType.ConsecutiveGatewayFailure:
        return c.enforcingConsecutiveGatewayFailure;
      case EjectionType.ConsecutiveLocalOriginFailure:
        return c.enforcingConsecutiveLocalOriginFailure;
      case EjectionType.SuccessRate:
        return c.enforcingSuccessRate;
      case EjectionType.SuccessRateLocalOrigin:
        return c.enforcingLocalOriginSuccessRate;
      case EjectionType.FailurePercentage:
        return c.enforcingFailurePercentage;
      default:
        return c.enforcingFailurePercentageLocalOrigin;
    }
  }

  /**
   * Envoy's ejectHost: allowed when 100 × (ejected + 1) / hosts ≤ max_ejection_percent (or, with
   * always_eject_one_host, when none is ejected); else ejections_overflow. Then the enforcing_* roll.
   */
  #ejectHost(mon: HostMonitor, type: EjectionType, rate: { host: number; mean: number; threshold: number } | null): void {
    const c = this.#config;
    const maxPercent = Math.min(100, c.maxEjectionPercent);
    const ejectedPercent = (100 * (this.#ejectedCount + 1)) / this.#monitors.size;
    const allowed = ejectedPercent <= maxPercent || (c.alwaysEjectOneHost === true && this.#ejectedCount === 0);
    if (!allowed) {
      this.#stats.ejectionsOverflow.inc();
      return;
    }
    if (type === EjectionType.Consecutive5xx || type === EjectionType.SuccessRate) this.#stats.ejectionsTotal.inc();
    const ep = mon.ep;
    if (!(this.#random() * 100 < this.#enforcingPercent(type))) {
      if (this.#logger.isLevelEnabled('debug')) {
        this.#logger.debug({ cluster: this.#cluster.name, host: ep.key, type: kTypeNames[type] }, 'outlier detected, ejection not enforced');
      }
      return;
    }
    const now = this.#now();
    const base = c.baseEjectionTimeMs;
    const max = Math.max(c.maxEjectionTimeMs, base);
    mon.ejected = true;
    mon.numEjections++;
    mon.lastEjectionMs = now;
    mon.ejectionType = type;
    mon.jitterMs = Math.floor(this.#random() * (c.maxEjectionTimeJitterMs + 1));
    if (mon.backoff * base < max + base) mon.backoff++;
    mon.ejectionTimeMs = Math.min(base * mon.backoff, max) + mon.jitterMs;
    this.#ejectedCount++;
    const st = this.#stats;
    st.ejectionsActive.inc();
    st.ejectionsEnforcedTotal.inc();
    st.enforced[type]!.inc();
    this.#cluster.setHealthFlag(ep, HealthFlag.FailedOutlierCheck, true);
    const fields: Record<string, unknown> = {
      cluster: this.#cluster.name,
      host: ep.key,
      type: kTypeNames[type],
      ejections: mon.numEjections,
      ejection_time_ms: mon.ejectionTimeMs,
    };
    if (rate !== null) {
      fields.host_success_rate = rate.host;
      if (type === EjectionType.SuccessRate || type === EjectionType.SuccessRateLocalOrigin) {
        fields.cluster_average_success_rate = rate.mean;
        fields.cluster_success_rate_ejection_threshold = rate.threshold;
      }
    }
    this.#logger.info(fields, 'outlier ejection');
  }

  #checkUneject(mon: HostMonitor, now: number): void {
    if (!mon.ejected) return;
    const flagCleared = (mon.ep.healthFlags & HealthFlag.FailedOutlierCheck) === 0;
    if (!flagCleared && now - mon.lastEjectionMs < mon.ejectionTimeMs) return;
    mon.ejected = false;
    mon.lastUnejectionMs = now;
    mon.resetConsecutive();
    this.#ejectedCount--;
    this.#stats.ejectionsActive.dec();
    // Someone else (an active health check) may already have cleared the flag: then only the bookkeeping is left.
    if (!flagCleared) this.#cluster.setHealthFlag(mon.ep, HealthFlag.FailedOutlierCheck, false);
    this.#logger.info(
      {
        cluster: this.#cluster.name,
        host: mon.ep.key,
        type: kTypeNames[mon.ejectionType],
        ejections: mon.numEjections,
        ejection_time_ms: mon.ejectionTimeMs,
      },
      'outlier uneject',
    );
  }

  /** Envoy's processSuccessRateEjections for one origin (external, or local in split mode). */
  #processRates(local: boolean): void {
    const c = this.#config;
    const n = this.#monitors.size;
    if (n < c.successRateMinimumHosts && n < c.failurePercentageMinimumHosts) return;
    const sr = this.#srHosts;
    const fp = this.#fpHosts;
    sr.length = 0;
    fp.length = 0;
    let sum = 0;
    for (const mon of this.#monitors.values()) {
      if (mon.ejected) continue;
      const total = local ? mon.locTotalPrev : mon.extTotalPrev;
      if (total === 0) continue;
      const rate = ((local ? mon.locSuccessPrev : mon.extSuccessPrev) * 100) / total;
      if (total >= c.successRateRequestVolume) {
        sr.push({ mon, rate });
        sum += rate;
      }
      if (total >= c.failurePercentageRequestVolume) fp.push({ mon, rate });
    }
    if (sr.length > 0 && sr.length >= c.successRateMinimumHosts) {
      const mean = sum / sr.length;
      let variance = 0;
      for (const h of sr) variance += (h.rate - mean) * (h.rate - mean);
      variance /= sr.length;
      const threshold = mean - (c.successRateStdevFactor / 1000) * Math.sqrt(variance);
      const type = local ? EjectionType.SuccessRateLocalOrigin : EjectionType.SuccessRate;
      for (const h of sr) {
        if (h.rate < threshold && !h.mon.ejected) {
          this.#stats.detected[type]!.inc();
          this.#ejectHost(h.mon, type, { host: h.rate, mean, threshold });
        }
      }
    }
    if (fp.length > 0 && fp.length >= c.failurePercentageMinimumHosts) {
      const type = local ? EjectionType.FailurePercentageLocalOrigin : EjectionType.FailurePercentage;
      for (const h of fp) {
        if (100 - h.rate >= c.failurePercentageThreshold && !h.mon.ejected) {
          this.#stats.detected[type]!.inc();
          this.#ejectHost(h.mon, type, { host: h.rate, mean: 0, threshold: 0 });
        }
      }
    }
    sr.length = 0;
    fp.length = 0;
  }
}

function resolveStats(stats: StatsStore, clusterName: string): OutlierStats {
  const p = `cluster.${clusterName}.outlier_detection.`;
  return Object.freeze({
    ejectionsActive: stats.gauge(`${p}ejections_active`),
    ejectionsTotal: stats.counter(`${p}ejections_total`),
    ejectionsEnforcedTotal: stats.counter(`${p}ejections_enforced_total`),
    ejectionsOverflow: stats.counter(`${p}ejections_overflow`),
    detected: Object.freeze(kStatSuffixes.map((s) => stats.counter(`${p}ejections_detected_${s}`))),
    enforced: Object.freeze(kStatSuffixes.map((s) => stats.counter(`${p}ejections_enforced_${s}`))),
  });
}
