import assert from 'node:assert/strict';
import { DEFAULT_OUTLIER_DETECTION } from '../../../../src/xds/resources/cluster.js';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import {
  HealthFlag,
  OutlierResult,
  type ClusterStats,
  type UpstreamCluster,
  type UpstreamEndpoint,
} from '../../../../sidecar/contracts.js';
import { OutlierDetector, type OutlierDetectorConfig } from '../../../../sidecar/upstream/outlier-detector.js';
import { StatsStore } from '../../../../src/observability/stats.js';
import { endpoint } from '../../../helpers/http-fakes.js';
import type { ClusterConfig } from '../../../../src/xds/resources/types.js';

/** Envoy's defaults (src/xds/resources/types.ts), except max_ejection_percent 100 so small clusters can eject. */
function config(over: Partial<OutlierDetectorConfig> = {}): OutlierDetectorConfig {
  return {
    ...DEFAULT_OUTLIER_DETECTION,
    maxEjectionPercent: 100,
    ...over,
  };
}

interface FlagCall {
  host: string;
  flag: number;
  on: boolean;
}

/** A small UpstreamCluster: keeps health flags like the real one and records every setHealthFlag call. */
class FakeCluster implements UpstreamCluster {
  readonly name = 'api';
  readonly tls = null;
  readonly config = {} as ClusterConfig;
  readonly stats = {} as ClusterStats;
  readonly calls: FlagCall[] = [];
  eps: UpstreamEndpoint[];

  constructor(n: number) {
    this.eps = [];
    for (let i = 0; i < n; i++) this.eps.push(endpoint('api', 8000 + i, '10.0.0.1'));
  }

  pick(): UpstreamEndpoint | null {
    return this.eps.find((e) => e.healthy) ?? null;
  }

  endpoints(): readonly UpstreamEndpoint[] {
    return this.eps;
  }

  resources(): never {
    throw new Error('not used');
  }

  setHealthFlag(ep: UpstreamEndpoint, flag: HealthFlag, on: boolean): void {
    assert.ok(this.eps.includes(ep) || ep.removed, 'flag set on an endpoint of another cluster');
    this.calls.push({ host: ep.key, flag, on });
    ep.healthFlags = on ? ep.healthFlags | flag : ep.healthFlags & ~flag;
    ep.healthy = ep.healthFlags === 0;
  }
}

interface LogLine {
  level: number;
  msg: string;
  cluster?: string;
  host?: string;
  type?: string;
  ejections?: number;
  ejection_time_ms?: number;
  host_success_rate?: number;
}

function setup(n: number, over: Partial<OutlierDetectorConfig> = {}, random: () => number = () => 0) {
  const cluster = new FakeCluster(n);
  const stats = new StatsStore();
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const clock = { t: 1_000_000 };
  const od = new OutlierDetector(cluster, config(over), { logger, stats, now: () => clock.t, random, autoStart: false });
  od.addHosts(cluster.eps);
  const stat = (name: string) => stats.snapshot()[`cluster.api.outlier_detection.${name}`];
  const ejections = () => logs.filter((l) => l.msg === 'outlier ejection');
  const unejections = () => logs.filter((l) => l.msg === 'outlier uneject');
  return { cluster, eps: cluster.eps, stats, logs, clock, od, stat, ejections, unejections };
}

const ejected = (ep: UpstreamEndpoint) => (ep.healthFlags & HealthFlag.FailedOutlierCheck) !== 0;

function put(ep: UpstreamEndpoint, ...statuses: number[]): void {
  for (const s of statuses) ep.outlier!.putHttpStatus(s);
}

/** `total` responses on `ep`, the first `failures` of them 500 interleaved evenly with 200s (never two 500s in a row when failures ≤ total/2). */
function traffic(ep: UpstreamEndpoint, total: number, failures: number): void {
  let f = 0;
  for (let i = 0; i < total; i++) {
    const fail = f < failures && (failures * 2 > total ? i % 10 !== 0 : i % 2 === 0);
    if (fail) f++;
    ep.outlier!.putHttpStatus(fail ? 500 : 200);
  }
}

describe('OutlierDetector', () => {
  it('addHosts sets a monitor on each endpoint', () => {
    const { eps } = setup(3);
    for (const ep of eps) assert.notEqual(ep.outlier, null);
    assert.notEqual(eps[0]!.outlier, eps[1]!.outlier);
  });

  it('resolves every outlier_detection stat at construction', () => {
    const { stats } = setup(1);
    const names = Object.keys(stats.snapshot('cluster.api.outlier_detection.'));
    for (const n of [
      'ejections_active',
      'ejections_total',
      'ejections_enforced_total',
      'ejections_overflow',
      'ejections_detected_consecutive_5xx',
      'ejections_enforced_consecutive_5xx',
      'ejections_detected_consecutive_gateway_failure',
      'ejections_enforced_consecutive_gateway_failure',
      'ejections_detected_consecutive_local_origin_failure',
      'ejections_enforced_consecutive_local_origin_failure',
      'ejections_detected_success_rate',
      'ejections_enforced_success_rate',
      'ejections_detected_failure_percentage',
      'ejections_enforced_failure_percentage',
      'ejections_detected_local_origin_success_rate',
      'ejections_enforced_local_origin_success_rate',
      'ejections_detected_local_origin_failure_percentage',
      'ejections_enforced_local_origin_failure_percentage',
    ]) {
      assert.ok(names.includes(`cluster.api.outlier_detection.${n}`), n);
    }
  });

  it('consecutive 5xx ejects at exactly the threshold, immediately', () => {
    const { eps, cluster, stat, ejections } = setup(3);
    const ep = eps[1]!;
    put(ep, 500, 503, 502, 599);
    assert.equal(ejected(ep), false);
    assert.deepEqual(cluster.calls, []);
    put(ep, 500);
    assert.equal(ejected(ep), true);
    assert.equal(ep.healthy, false);
    assert.deepEqual(cluster.calls, [{ host: ep.key, flag: HealthFlag.FailedOutlierCheck, on: true }]);
    assert.equal(stat('ejections_active'), 1);
    assert.equal(stat('ejections_detected_consecutive_5xx'), 1);
    assert.equal(stat('ejections_enforced_consecutive_5xx'), 1);
    assert.equal(stat('ejections_enforced_total'), 1);
    assert.equal(stat('ejections_total'), 1);
    const [ev] = ejections();
    assert.equal(ev!.level, 30);
    assert.deepEqual(
      { cluster: ev!.cluster, host: ev!.host, type: ev!.type, ejections: ev!.ejections, ejection_time_ms: ev!.ejection_time_ms },
      { cluster: 'api', host: ep.key, type: 'consecutive_5xx', ejections: 1, ejection_time_ms: 30_000 },
    );
    // More 5xx while ejected change nothing.
    put(ep, 500, 500, 500, 500, 500, 500);
    assert.equal(stat('ejections_detected_consecutive_5xx'), 1);
    assert.equal(cluster.calls.length, 1);
    assert.equal(ejected(eps[0]!) || ejected(eps[2]!), false);
  });

  it('a success (any non-5xx status) resets the consecutive counters', () => {
    const { eps, stat } = setup(2);
    const ep = eps[0]!;
    put(ep, 500, 500, 500, 500, 200, 500, 500, 500, 500, 404, 500, 500, 500, 500, 302);
    assert.equal(ejected(ep), false);
    assert.equal(stat('ejections_detected_consecutive_5xx'), 0);
    put(ep, 500, 500, 500, 500, 500);
    assert.equal(ejected(ep), true);
  });

  it('enforcing_consecutive_5xx 0 detects but does not eject, and needs a new run to detect again', () => {
    const { eps, cluster, stat } = setup(2, { enforcingConsecutive5xx: 0 });
    const ep = eps[0]!;
    put(ep, 500, 500, 500, 500, 500);
    assert.equal(ejected(ep), false);
    assert.deepEqual(cluster.calls, []);
    assert.equal(stat('ejections_detected_consecutive_5xx'), 1);
    assert.equal(stat('ejections_enforced_consecutive_5xx'), 0);
    assert.equal(stat('ejections_active'), 0);
    put(ep, 500, 500, 500, 500);
    assert.equal(stat('ejections_detected_consecutive_5xx'), 1);
    put(ep, 500);
    assert.equal(stat('ejections_detected_consecutive_5xx'), 2);
  });

  it('the enforcing percentage is rolled with random() × 100 < enforcing', () => {
    let r = 0.5;
    const { eps, stat } = setup(2, { enforcingConsecutive5xx: 50 }, () => r);
    put(eps[0]!, 500, 500, 500, 500, 500);
    assert.equal(ejected(eps[0]!), false, '50 < 50 is false');
    assert.equal(stat('ejections_detected_consecutive_5xx'), 1);
    r = 0.49;
    put(eps[0]!, 500, 500, 500, 500, 500);
    assert.equal(ejected(eps[0]!), true);
  });

  it('max_ejection_percent caps ejections: 100 × (ejected + 1) / hosts must stay ≤ the max', () => {
    const { eps, stat } = setup(10, { maxEjectionPercent: 20 });
    for (const ep of eps.slice(0, 3)) put(ep, 500, 500, 500, 500, 500);
    assert.deepEqual(eps.map(ejected), [true, true, false, false, false, false, false, false, false, false]);
    assert.equal(stat('ejections_overflow'), 1);
    assert.equal(stat('ejections_detected_consecutive_5xx'), 3);
    assert.equal(stat('ejections_active'), 2);
    assert.equal(stat('ejections_total'), 2, 'overflow is not counted in ejections_total');
  });

  it('with Envoy default 10% a cluster of fewer than 10 hosts ejects none, unless always_eject_one_host', () => {
    const a = setup(5, { maxEjectionPercent: 10 });
    put(a.eps[0]!, 500, 500, 500, 500, 500);
    assert.equal(ejected(a.eps[0]!), false);
    assert.equal(a.stat('ejections_overflow'), 1);

    const b = setup(5, { maxEjectionPercent: 10, alwaysEjectOneHost: true });
    put(b.eps[0]!, 500, 500, 500, 500, 500);
    put(b.eps[1]!, 500, 500, 500, 500, 500);
    assert.deepEqual(b.eps.map(ejected), [true, false, false, false, false]);
    assert.equal(b.stat('ejections_overflow'), 1);
  });

  it('unejects on the interval once the ejection time has passed, and resets the counters', () => {
    const { eps, clock, od, cluster, stat, unejections } = setup(2, { baseEjectionTimeMs: 1000 });
    const ep = eps[0]!;
    put(ep, 500, 500, 500, 500, 500);
    assert.equal(ejected(ep), true);
    put(ep, 500, 500, 500); // while ejected (in-flight requests, panic mode) the counter keeps going
    clock.t += 999;
    od.runInterval();
    assert.equal(ejected(ep), true);
    clock.t += 1;
    od.runInterval();
    assert.equal(ejected(ep), false);
    assert.equal(ep.healthy, true);
    assert.deepEqual(cluster.calls.at(-1), { host: ep.key, flag: HealthFlag.FailedOutlierCheck, on: false });
    assert.equal(stat('ejections_active'), 0);
    const [ev] = unejections();
    assert.equal(ev!.level, 30);
    assert.deepEqual(
      { cluster: ev!.cluster, host: ev!.host, type: ev!.type, ejections: ev!.ejections, ejection_time_ms: ev!.ejection_time_ms },
      { cluster: 'api', host: ep.key, type: 'consecutive_5xx', ejections: 1, ejection_time_ms: 1000 },
    );
    put(ep, 500, 500, 500, 500);
    assert.equal(ejected(ep), false, 'counters were reset at unejection');
  });

  it('ejection time grows with each ejection and is capped by max_ejection_time', () => {
    const { eps, clock, od, ejections } = setup(2, { baseEjectionTimeMs: 1000, maxEjectionTimeMs: 2500, intervalMs: 100_000 });
    const ep = eps[0]!;
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      put(ep, 500, 500, 500, 500, 500);
      assert.equal(ejected(ep), true);
      const t = ejections().at(-1)!.ejection_time_ms!;
      times.push(t);
      clock.t += t - 1;
      od.runInterval();
      assert.equal(ejected(ep), true, `ejection ${i + 1} lasts ${t} ms`);
      clock.t += 1;
      od.runInterval();
      assert.equal(ejected(ep), false);
    }
    assert.deepEqual(times, [1000, 2000, 2500, 2500]);
    assert.deepEqual(
      ejections().map((e) => e.ejections),
      [1, 2, 3, 4],
    );
  });

  it('the multiplier decreases by one per interval the host stays in service', () => {
    const { eps, clock, od, ejections } = setup(2, { baseEjectionTimeMs: 1000, maxEjectionTimeMs: 10_000, intervalMs: 10_000 });
    const ep = eps[0]!;
    const ejectAndWait = () => {
      put(ep, 500, 500, 500, 500, 500);
      clock.t += ejections().at(-1)!.ejection_time_ms!;
      od.runInterval();
      assert.equal(ejected(ep), false);
    };
    ejectAndWait(); // backoff 1
    ejectAndWait(); // backoff 2
    ejectAndWait(); // backoff 3
    assert.equal(ejections().at(-1)!.ejection_time_ms, 3000);
    clock.t += 9_999;
    od.runInterval(); // less than an interval since unejection: unchanged
    clock.t += 1;
    od.runInterval(); // 3 → 2
    clock.t += 10_000;
    od.runInterval(); // 2 → 1
    put(ep, 500, 500, 500, 500, 500);
    assert.equal(ejections().at(-1)!.ejection_time_ms, 2000);
  });

  it('adds jitter up to max_ejection_time_jitter', () => {
    let r = 0;
    const { eps, clock, od, ejections } = setup(2, { baseEjectionTimeMs: 1000, maxEjectionTimeJitterMs: 500 }, () => r);
    r = 0.5; // enforcing roll passes (50 < 100); jitter floor(0.5 × 501) = 250
    put(eps[0]!, 500, 500, 500, 500, 500);
    assert.equal(ejections().at(-1)!.ejection_time_ms, 1250);
    clock.t += 1249;
    od.runInterval();
    assert.equal(ejected(eps[0]!), true);
    clock.t += 1;
    od.runInterval();
    assert.equal(ejected(eps[0]!), false);
  });

  it('gateway failures: 502/503/504 count, another 5xx resets them; enforcing 0 by default', () => {
    const a = setup(2, { consecutive5xx: 100, consecutiveGatewayFailure: 3 });
    put(a.eps[0]!, 502, 503, 503);
    assert.equal(ejected(a.eps[0]!), false);
    assert.equal(a.stat('ejections_detected_consecutive_gateway_failure'), 1);
    assert.equal(a.stat('ejections_enforced_consecutive_gateway_failure'), 0);

    const b = setup(2, { consecutive5xx: 100, consecutiveGatewayFailure: 3, enforcingConsecutiveGatewayFailure: 100 });
    const ep = b.eps[0]!;
    put(ep, 502, 503, 500, 504, 503);
    assert.equal(ejected(ep), false, '500 broke the run');
    put(ep, 502);
    assert.equal(ejected(ep), true);
    assert.equal(b.ejections().at(-1)!.type, 'consecutive_gateway_failure');
    assert.equal(b.stat('ejections_enforced_consecutive_gateway_failure'), 1);
    assert.equal(b.stat('ejections_total'), 0, 'ejections_total counts only consecutive_5xx and success_rate');
  });

  it('without split, local-origin failures count as 5xx and gateway failures (timeout 504, connect/reset 503)', () => {
    const { eps, ejections } = setup(2, { consecutive5xx: 100, consecutiveGatewayFailure: 3, enforcingConsecutiveGatewayFailure: 100 });
    const ep = eps[0]!;
    ep.outlier!.putResult(OutlierResult.LocalOriginConnectFailed);
    ep.outlier!.putResult(OutlierResult.LocalOriginConnectSuccess); // no effect: the response status follows
    ep.outlier!.putResult(OutlierResult.LocalOriginTimeout);
    assert.equal(ejected(ep), false);
    ep.outlier!.putResult(OutlierResult.LocalOriginReset);
    assert.equal(ejected(ep), true);
    assert.equal(ejections().at(-1)!.type, 'consecutive_gateway_failure');

    const b = setup(2);
    for (let i = 0; i < 4; i++) b.eps[0]!.outlier!.putResult(OutlierResult.LocalOriginTimeout);
    b.eps[0]!.outlier!.putResult(OutlierResult.LocalOriginConnectSuccessFinal); // a final success counts as 200
    for (let i = 0; i < 4; i++) b.eps[0]!.outlier!.putResult(OutlierResult.LocalOriginTimeout);
    assert.equal(ejected(b.eps[0]!), false);
    b.eps[0]!.outlier!.putHttpStatus(500);
    assert.equal(ejected(b.eps[0]!), true);
    assert.equal(b.ejections().at(-1)!.type, 'consecutive_5xx');
  });

  it('with split, local-origin failures have their own counter and leave the 5xx counters alone', () => {
    const { eps, stat, ejections } = setup(3, { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: 3 });
    const ep = eps[0]!;
    put(ep, 500, 500, 500, 500);
    ep.outlier!.putResult(OutlierResult.LocalOriginTimeout);
    ep.outlier!.putResult(OutlierResult.LocalOriginConnectFailed);
    ep.outlier!.putResult(OutlierResult.LocalOriginConnectSuccess); // resets the local-origin counter
    ep.outlier!.putResult(OutlierResult.LocalOriginReset);
    ep.outlier!.putResult(OutlierResult.LocalOriginTimeout);
    assert.equal(ejected(ep), false, '4 × 500 plus local failures are not 5 consecutive 5xx; local run is 2');
    ep.outlier!.putResult(OutlierResult.LocalOriginConnectFailed);
    assert.equal(ejected(ep), true);
    assert.equal(ejections().at(-1)!.type, 'consecutive_local_origin_failure');
    assert.equal(stat('ejections_enforced_consecutive_local_origin_failure'), 1);
    assert.equal(stat('ejections_detected_consecutive_5xx'), 0);

    // 5xx still count externally in split mode.
    put(eps[1]!, 500, 500, 500, 500, 500);
    assert.equal(ejected(eps[1]!), true);
    assert.equal(ejections().at(-1)!.type, 'consecutive_5xx');
  });

  it('success rate: with 5 hosts, the one well below mean − 1.9 × stdev is ejected on the interval', () => {
    const { eps, od, stat, ejections } = setup(6, { consecutive5xx: 0 });
    for (const ep of eps.slice(0, 4)) traffic(ep, 100, 0);
    traffic(eps[4]!, 100, 50); // 50 %: mean 90, stdev 20, threshold 52
    traffic(eps[5]!, 99, 80); // below success_rate_request_volume: not counted, not ejected
    assert.equal(ejected(eps[4]!), false, 'nothing happens before the interval');
    od.runInterval();
    assert.deepEqual(eps.map(ejected), [false, false, false, false, true, false]);
    assert.equal(stat('ejections_detected_success_rate'), 1);
    assert.equal(stat('ejections_enforced_success_rate'), 1);
    assert.equal(stat('ejections_total'), 1);
    const ev = ejections().at(-1)!;
    assert.equal(ev.type, 'success_rate');
    assert.equal(ev.host_success_rate, 50);
    // The next interval has no data (buckets were swapped): no further ejections.
    od.runInterval();
    assert.equal(stat('ejections_detected_success_rate'), 1);
  });

  it('success rate needs success_rate_minimum_hosts hosts with enough volume', () => {
    const { eps, od, stat } = setup(5, { consecutive5xx: 0 });
    for (const ep of eps.slice(0, 3)) traffic(ep, 100, 0);
    traffic(eps[3]!, 50, 0);
    traffic(eps[4]!, 100, 50);
    od.runInterval();
    assert.equal(ejected(eps[4]!), false);
    assert.equal(stat('ejections_detected_success_rate'), 0);
  });

  it('success rate: equal rates (stdev 0) eject nobody — the comparison is strictly below the threshold', () => {
    const { eps, od, stat } = setup(5, { consecutive5xx: 0 });
    for (const ep of eps) traffic(ep, 100, 10);
    od.runInterval();
    assert.deepEqual(eps.map(ejected), [false, false, false, false, false]);
    assert.equal(stat('ejections_detected_success_rate'), 0);
  });

  it('failure percentage: failure % ≥ threshold is detected; enforced only with enforcing_failure_percentage', () => {
    const a = setup(5, { consecutive5xx: 0 });
    for (const ep of a.eps.slice(0, 4)) traffic(ep, 50, 0);
    traffic(a.eps[4]!, 50, 45); // 90 % failures ≥ 85
    a.od.runInterval();
    assert.equal(ejected(a.eps[4]!), false);
    assert.equal(a.stat('ejections_detected_failure_percentage'), 1);
    assert.equal(a.stat('ejections_enforced_failure_percentage'), 0);

    const b = setup(5, { consecutive5xx: 0, enforcingFailurePercentage: 100, enforcingSuccessRate: 0 });
    for (const ep of b.eps.slice(0, 3)) traffic(ep, 50, 0);
    traffic(b.eps[3]!, 50, 42); // 84 %: below the threshold
    traffic(b.eps[4]!, 60, 51); // 85 %: at the threshold
    b.od.runInterval();
    assert.deepEqual(b.eps.map(ejected), [false, false, false, false, true]);
    assert.equal(b.ejections().at(-1)!.type, 'failure_percentage');
    assert.equal(b.stat('ejections_enforced_failure_percentage'), 1);
  });

  it('split: local-origin failure percentage uses the local-origin results only', () => {
    const { eps, od, stat, ejections } = setup(5, {
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailure: 0,
      enforcingFailurePercentageLocalOrigin: 100,
      enforcingSuccessRate: 0,
      enforcingLocalOriginSuccessRate: 0,
    });
    for (const ep of eps) {
      for (let i = 0; i < 50; i++) ep.outlier!.putResult(OutlierResult.LocalOriginConnectSuccess);
    }
    for (let i = 0; i < 450; i++) eps[2]!.outlier!.putResult(OutlierResult.LocalOriginConnectFailed); // 90 %
    od.runInterval();
    assert.deepEqual(eps.map(ejected), [false, false, true, false, false]);
    assert.equal(ejections().at(-1)!.type, 'failure_percentage_local_origin');
    assert.equal(stat('ejections_enforced_local_origin_failure_percentage'), 1);
    assert.equal(stat('ejections_detected_failure_percentage'), 0);
  });

  it('one of three hosts answering 503 on every other request: consecutive_5xx never fires, failure percentage and success rate do', () => {
    const run = (over: Partial<OutlierDetectorConfig>) => {
      const s = setup(3, over);
      for (let i = 0; i < 200; i++) {
        put(s.eps[0]!, 200);
        put(s.eps[1]!, 200);
        put(s.eps[2]!, i % 2 === 0 ? 503 : 200);
      }
      const before = s.eps.map(ejected);
      s.od.runInterval();
      return { before, after: s.eps.map(ejected), s };
    };
    const defaults = run({ maxEjectionPercent: 10 });
    assert.deepEqual(defaults.before, [false, false, false]);
    assert.deepEqual(defaults.after, [false, false, false], 'Envoy defaults: no consecutive run, too few hosts for the statistics');

    const fp = run({ maxEjectionPercent: 34, failurePercentageThreshold: 40, failurePercentageMinimumHosts: 3, enforcingFailurePercentage: 100 });
    assert.deepEqual(fp.before, [false, false, false]);
    assert.deepEqual(fp.after, [false, false, true]);
    assert.equal(fp.s.ejections().at(-1)!.type, 'failure_percentage');

    // With one outlier among n hosts its z-score is at most √(n−1) ≈ 1.41 for n = 3: the default factor 1.9 cannot eject it.
    const srDefault = run({ maxEjectionPercent: 34, successRateMinimumHosts: 3 });
    assert.deepEqual(srDefault.after, [false, false, false]);
    const sr = run({ maxEjectionPercent: 34, successRateMinimumHosts: 3, successRateStdevFactor: 1000 });
    assert.deepEqual(sr.after, [false, false, true]);
    assert.equal(sr.s.ejections().at(-1)!.type, 'success_rate');
  });

  it('removeHosts while ejected: clears the flag of a host still in the cluster, forgets its state', () => {
    const { eps, od, cluster, stat, ejections } = setup(3, { baseEjectionTimeMs: 1000 });
    const [a, b] = eps as [UpstreamEndpoint, UpstreamEndpoint];
    put(a, 500, 500, 500, 500, 500);
    put(b, 500, 500, 500, 500, 500);
    assert.equal(stat('ejections_active'), 2);
    const oldMonitor = a.outlier!;
    od.removeHosts([a]);
    assert.equal(a.outlier, null);
    assert.equal(ejected(a), false);
    assert.deepEqual(cluster.calls.at(-1), { host: a.key, flag: HealthFlag.FailedOutlierCheck, on: false });
    assert.equal(stat('ejections_active'), 1);
    // A late result on the old monitor is ignored.
    for (let i = 0; i < 10; i++) oldMonitor.putHttpStatus(500);
    assert.equal(ejected(a), false);

    // A host that EDS removed keeps its flags (no LB rebuild for a dead host).
    b.removed = true;
    cluster.eps = cluster.eps.filter((e) => e !== b);
    const calls = cluster.calls.length;
    od.removeHosts([b]);
    assert.equal(cluster.calls.length, calls);
    assert.equal(stat('ejections_active'), 0);

    // Re-added: fresh state (first ejection again, base time).
    od.addHosts([a]);
    put(a, 500, 500, 500, 500, 500);
    assert.equal(ejected(a), true);
    assert.deepEqual([ejections().at(-1)!.ejections, ejections().at(-1)!.ejection_time_ms], [1, 1000]);
    // The percentage is over the hosts watched now (2): 100 × 2 / 2 ≤ 100.
    od.runInterval();
    assert.equal(stat('ejections_active'), 1);
  });

  it('a flag cleared by someone else (active health check) is noticed on the next interval', () => {
    const { eps, od, cluster, stat, unejections } = setup(2);
    put(eps[0]!, 500, 500, 500, 500, 500);
    cluster.setHealthFlag(eps[0]!, HealthFlag.FailedOutlierCheck, false);
    const calls = cluster.calls.length;
    od.runInterval();
    assert.equal(stat('ejections_active'), 0);
    assert.equal(cluster.calls.length, calls);
    assert.equal(unejections().length, 1);
    put(eps[0]!, 500, 500, 500, 500, 500);
    assert.equal(ejected(eps[0]!), true);
  });

  it('setConfig: new thresholds apply to the next result, ejections are kept', () => {
    const { eps, od, stat, ejections } = setup(4);
    put(eps[0]!, 500, 500, 500, 500, 500);
    put(eps[1]!, 500, 500);
    od.setConfig(config({ consecutive5xx: 2 }));
    assert.equal(stat('ejections_active'), 1);
    put(eps[1]!, 500);
    assert.equal(ejected(eps[1]!), true, 'counter already past the new threshold');
    put(eps[2]!, 500, 500);
    assert.equal(ejected(eps[2]!), true);
    od.setConfig(config({ consecutive5xx: 0, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: 1 }));
    put(eps[3]!, 500, 500, 500, 500, 500, 500);
    assert.equal(ejected(eps[3]!), false, 'consecutive_5xx 0 disables it');
    eps[3]!.outlier!.putResult(OutlierResult.LocalOriginTimeout);
    assert.equal(ejected(eps[3]!), true);
    assert.equal(ejections().at(-1)!.type, 'consecutive_local_origin_failure');
  });

  it('close() releases every host and stops evaluating', () => {
    const { eps, od, stat } = setup(2);
    put(eps[0]!, 500, 500, 500, 500, 500);
    od.close();
    assert.equal(eps[0]!.outlier, null);
    assert.equal(eps[1]!.outlier, null);
    assert.equal(ejected(eps[0]!), false);
    assert.equal(stat('ejections_active'), 0);
    od.runInterval();
    od.addHosts(eps);
    assert.equal(eps[0]!.outlier, null);
    od.close();
  });

  it('autoStart: the interval timer unejects on its own and close() stops it', async () => {
    const cluster = new FakeCluster(2);
    const stats = new StatsStore();
    const od = new OutlierDetector(cluster, config({ intervalMs: 10, baseEjectionTimeMs: 30 }), {
      logger: pino({ level: 'silent' }),
      stats,
    });
    try {
      od.addHosts(cluster.eps);
      put(cluster.eps[0]!, 500, 500, 500, 500, 500);
      assert.equal(ejected(cluster.eps[0]!), true);
      const deadline = Date.now() + 2000;
      while (ejected(cluster.eps[0]!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(ejected(cluster.eps[0]!), false, 'unejected by the timer within 2 s');
      od.setConfig(config({ intervalMs: 100_000, baseEjectionTimeMs: 30 }));
      put(cluster.eps[0]!, 500, 500, 500, 500, 500);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(ejected(cluster.eps[0]!), true, 'the timer was re-armed with the new, long interval');
    } finally {
      od.close();
    }
  });
});
