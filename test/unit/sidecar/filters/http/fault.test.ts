import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatsStore } from '../../../../../src/observability/stats.js';
import { Issues } from '../../../../../src/xds/resources/common.js';
import { validateFaultConfig } from '../../../../../src/xds/resources/filters/fault.js';
import type { FaultConfig, HeaderMatcherConfig } from '../../../../../src/xds/resources/types.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import type { RouteMatch } from '../../../../../sidecar/contracts.js';
import { faultFilterFactory } from '../../../../../sidecar/filters/http/fault/config.js';
import { FaultShared, parseUnsigned, type FaultLocalReply } from '../../../../../sidecar/filters/http/fault/filter.js';
import { FilterStatus, type DecoderFilterCallbacks, type HttpFilter } from '../../../../../sidecar/http/filter.js';
import { HeaderMap } from '../../../../../sidecar/http/header-map.js';
import { decoded } from '../../../src/xds/resources/fixtures.js';
import { FakeDecoderCallbacks } from '../../../../helpers/http-fakes.js';

/** Records what the fault filter asks of its stream. */
class FakeCallbacks extends FakeDecoderCallbacks {}

function routedTo(cluster: string): RouteMatch {
  return { clusterName: cluster } as unknown as RouteMatch;
}

type Delay = NonNullable<FaultConfig['delay']>;
type Abort = NonNullable<FaultConfig['abort']>;

function config(c: { delay?: Partial<Delay>; abort?: Partial<Abort>; headers?: HeaderMatcherConfig[]; upstreamCluster?: string; maxActiveFaults?: number }): FaultConfig {
  return {
    delay: c.delay ? { fixedDelayMs: 0, percentage: 1_000_000, percentageUnit: 10_000, headerDelay: false, ...c.delay } : null,
    abort: c.abort ? { httpStatus: null, grpcStatus: null, percentage: 1_000_000, percentageUnit: 10_000, headerAbort: false, ...c.abort } : null,
    headers: c.headers ?? [],
    upstreamCluster: c.upstreamCluster ?? null,
    maxActiveFaults: c.maxActiveFaults ?? null,
  };
}

/** A seeded PRNG (mulberry32) in [0, 1) so percentage tests are repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function setup(cfg: FaultConfig, random: () => number = () => 0.5) {
  const stats = new StatsStore();
  const shared = new FaultShared(cfg, stats, 'ingress', random);
  const make = (cb = new FakeCallbacks()): { cb: FakeCallbacks; f: HttpFilter } => ({ cb, f: faultFilterFactory.createFilter(shared, cb) });
  const stat = (name: string) => stats.snapshot('http.ingress.fault.')[`http.ingress.fault.${name}`] ?? 0;
  return { stats, shared, make, stat };
}

function headers(entries: Record<string, string> = {}): HeaderMap {
  return HeaderMap.from(Object.entries(entries));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('abort at 100 % sends the configured status as a local reply with flag FI', () => {
  const { make, stat } = setup(config({ abort: { httpStatus: 503 } }));
  const { cb, f } = make();
  assert.equal(f.onRequestHeaders(headers(), true), FilterStatus.StopIteration);
  assert.equal(cb.replies.length, 1);
  const r = cb.replies[0]?.reply as FaultLocalReply;
  assert.equal(r.status, 503);
  assert.equal(r.code, 'TESSERA_ERR_FAULT_INJECTED');
  assert.equal(r.body.toString(), 'fault filter abort');
  assert.equal(r.flag, 'FI');
  assert.equal(r.grpcStatus, null);
  assert.equal(cb.continued, 0);
  assert.equal(stat('aborts_injected'), 1);
  assert.equal(stat('active_faults'), 1);
  f.onDestroy();
  assert.equal(stat('active_faults'), 0);
});

test('replies are built once per status and reused across requests', () => {
  const { make } = setup(config({ abort: { httpStatus: 500 } }));
  const a = make();
  const b = make();
  a.f.onRequestHeaders(headers(), true);
  b.f.onRequestHeaders(headers(), true);
  assert.equal(a.cb.replies[0]?.reply, b.cb.replies[0]?.reply);
  assert.ok(Object.isFrozen(a.cb.replies[0]?.reply));
});

test('percentage 0 never injects and continues', () => {
  const { make, stat } = setup(config({ abort: { httpStatus: 503, percentage: 0 }, delay: { fixedDelayMs: 10, percentage: 0 } }), () => 0);
  const { cb, f } = make();
  assert.equal(f.onRequestHeaders(headers(), true), FilterStatus.Continue);
  assert.equal(cb.replies.length, 0);
  assert.equal(f.onRequestData(Buffer.from('x'), true), FilterStatus.Continue);
  assert.equal(stat('aborts_injected') + stat('delays_injected') + stat('active_faults'), 0);
});

test('a 50 % abort hits about half of 10 000 requests', () => {
  const { make, stat } = setup(config({ abort: { httpStatus: 503, percentage: 500_000 } }), seeded(42));
  let aborted = 0;
  for (let i = 0; i < 10_000; i++) {
    const { cb, f } = make();
    f.onRequestHeaders(headers(), true);
    aborted += cb.replies.length;
    f.onDestroy();
  }
  assert.ok(aborted > 4_800 && aborted < 5_200, `aborted ${aborted}`);
  assert.equal(stat('aborts_injected'), aborted);
  assert.equal(stat('active_faults'), 0);
});

test('the percentage compares random() against parts per million', () => {
  const cfg = config({ abort: { httpStatus: 503, percentage: 250_000 } });
  assert.equal(setup(cfg, () => 0.2499).make().f.onRequestHeaders(headers(), true), FilterStatus.StopIteration);
  assert.equal(setup(cfg, () => 0.25).make().f.onRequestHeaders(headers(), true), FilterStatus.Continue);
});

test('a grpc_status abort answers 200 carrying the gRPC status', () => {
  const { make } = setup(config({ abort: { grpcStatus: 14 } }));
  const cb = new FakeCallbacks();
  cb.isGrpc = true;
  make(cb).f.onRequestHeaders(headers(), true);
  const r = cb.replies[0]?.reply as FaultLocalReply;
  assert.equal(r.status, 200);
  assert.equal(r.grpcStatus, 14);
  assert.equal(r.flag, 'FI');
});

test('header_abort: x-envoy-fault-abort-request decides the HTTP status; invalid values are ignored', () => {
  const { make } = setup(config({ abort: { headerAbort: true } }));
  const run = (h: Record<string, string>) => {
    const { cb, f } = make();
    const status = f.onRequestHeaders(headers(h), true);
    return { status, reply: cb.replies[0]?.reply as FaultLocalReply | undefined };
  };
  assert.equal(run({}).status, FilterStatus.Continue);
  assert.equal(run({ 'x-envoy-fault-abort-request': '429' }).reply?.status, 429);
  assert.equal(run({ 'x-envoy-fault-abort-request': ' +503 ' }).reply?.status, 503);
  for (const bad of ['abc', '199', '600', '-500', '5e2', '']) {
    assert.equal(run({ 'x-envoy-fault-abort-request': bad }).status, FilterStatus.Continue, bad);
  }
  const g = run({ 'x-envoy-fault-abort-grpc-request': '4' }).reply!;
  assert.deepEqual([g.status, g.grpcStatus], [200, 4]);
  // An HTTP status wins over a gRPC one (Envoy).
  const both = run({ 'x-envoy-fault-abort-request': '502', 'x-envoy-fault-abort-grpc-request': '4' }).reply!;
  assert.deepEqual([both.status, both.grpcStatus], [502, null]);
});

test('abort headers are ignored when the abort is a fixed status', () => {
  const { make } = setup(config({ abort: { httpStatus: 503, percentage: 500_000 } }), () => 0.9);
  const { cb, f } = make();
  const h = headers({ 'x-envoy-fault-abort-request': '429', 'x-envoy-fault-abort-request-percentage': '100' });
  assert.equal(f.onRequestHeaders(h, true), FilterStatus.Continue);
  assert.equal(cb.replies.length, 0);
  const hit = setup(config({ abort: { httpStatus: 503 } })).make();
  hit.f.onRequestHeaders(headers({ 'x-envoy-fault-abort-request': '429' }), true);
  assert.equal(hit.cb.replies[0]!.reply.status, 503);
});

test('x-envoy-fault-abort-request-percentage is a numerator in the configured denominator, capped by the configured one', () => {
  // 50/100 configured (a config without percentageUnit means HUNDRED); the header may lower it, never raise it.
  const cfg = config({ abort: { headerAbort: true, percentage: 500_000 } });
  const run = (r: number, pct: string | null) => {
    const h: Record<string, string> = { 'x-envoy-fault-abort-request': '503' };
    if (pct !== null) h['x-envoy-fault-abort-request-percentage'] = pct;
    return setup(cfg, () => r).make().f.onRequestHeaders(headers(h), true);
  };
  assert.equal(run(0.45, null), FilterStatus.StopIteration);
  assert.equal(run(0.6, '100'), FilterStatus.Continue); // capped at 50 %
  assert.equal(run(0.05, '10'), FilterStatus.StopIteration);
  assert.equal(run(0.2, '10'), FilterStatus.Continue);
  assert.equal(run(0.0, '0'), FilterStatus.Continue);
  assert.equal(run(0.45, 'junk'), FilterStatus.StopIteration); // invalid → configured percentage
});

test('percentage headers use the denominator from the xDS config (TEN_THOUSAND)', () => {
  const issues = new Issues();
  const body = decoded(TypeUrl.HttpFault, { abort: { header_abort: {}, percentage: { numerator: 10_000, denominator: 'TEN_THOUSAND' } } });
  const cfg = validateFaultConfig(body, '', issues);
  assert.deepEqual(issues.list, []);
  const run = (r: number) => {
    const s = new FaultShared(cfg, new StatsStore(), 'ingress', () => r);
    const cb = new FakeCallbacks();
    return faultFilterFactory.createFilter(s, cb).onRequestHeaders(
      headers({ 'x-envoy-fault-abort-request': '503', 'x-envoy-fault-abort-request-percentage': '100' }), true);
  };
  // 100 / 10 000 = 1 %.
  assert.equal(run(0.0099), FilterStatus.StopIteration);
  assert.equal(run(0.0101), FilterStatus.Continue);
});

test('delay: StopIteration, body and trailers held, continueDecoding after at least the delay', async () => {
  const { make, stat } = setup(config({ delay: { fixedDelayMs: 40 } }));
  const { cb, f } = make();
  const resumed = new Promise<number>((resolve) => {
    cb.onContinue = () => resolve(performance.now());
  });
  const start = performance.now();
  assert.equal(f.onRequestHeaders(headers(), false), FilterStatus.StopIteration);
  assert.deepEqual(cb.flags, ['DI']);
  assert.equal(stat('delays_injected'), 1);
  assert.equal(stat('active_faults'), 1);
  assert.equal(f.onRequestData(Buffer.from('body'), false), FilterStatus.StopIteration);
  assert.equal(f.onRequestTrailers(new HeaderMap()), FilterStatus.StopIteration);
  assert.equal(cb.continued, 0);
  const at = await Promise.race([resumed, sleep(2_000).then(() => -1)]);
  assert.notEqual(at, -1, 'continueDecoding was not called');
  assert.ok(at - start >= 39, `resumed after ${at - start} ms`);
  assert.equal(cb.continued, 1);
  // The delay is over: no longer an active fault; later body passes.
  assert.equal(stat('active_faults'), 0);
  assert.equal(f.onRequestData(Buffer.from('more'), true), FilterStatus.Continue);
  f.onDestroy();
  assert.equal(stat('active_faults'), 0);
});

test('onDestroy during a delay cancels the timer: continueDecoding never runs', async () => {
  const { make, stat } = setup(config({ delay: { fixedDelayMs: 20 } }));
  const { cb, f } = make();
  assert.equal(f.onRequestHeaders(headers(), true), FilterStatus.StopIteration);
  f.onDestroy();
  assert.equal(stat('active_faults'), 0);
  await sleep(80);
  assert.equal(cb.continued, 0);
  assert.equal(cb.replies.length, 0);
  f.onDestroy();
  assert.equal(stat('active_faults'), 0);
});

test('delay then abort: the abort is sent when the delay ends', async () => {
  const { make, stat } = setup(config({ delay: { fixedDelayMs: 15 }, abort: { httpStatus: 504 } }));
  const { cb, f } = make();
  assert.equal(f.onRequestHeaders(headers(), true), FilterStatus.StopIteration);
  assert.equal(cb.replies.length, 0, 'no abort before the delay ends');
  for (let i = 0; i < 100 && cb.replies.length === 0; i++) await sleep(10);
  assert.equal(cb.replies[0]?.reply?.status, 504);
  assert.equal(cb.continued, 0);
  assert.deepEqual(cb.flags, ['DI']);
  assert.equal(stat('delays_injected'), 1);
  assert.equal(stat('aborts_injected'), 1);
  assert.equal(stat('active_faults'), 1, 'one active fault per stream');
  f.onDestroy();
  assert.equal(stat('active_faults'), 0);
});

test('header_delay: x-envoy-fault-delay-request gives the delay in ms; absent or invalid means no delay', async () => {
  const { make } = setup(config({ delay: { headerDelay: true } }));
  for (const h of [{}, { 'x-envoy-fault-delay-request': 'soon' }, { 'x-envoy-fault-delay-request': '0' }] as Record<string, string>[]) {
    assert.equal(make().f.onRequestHeaders(headers(h), true), FilterStatus.Continue, JSON.stringify(h));
  }
  const { cb, f } = make();
  const start = performance.now();
  const resumed = new Promise<number>((resolve) => {
    cb.onContinue = () => resolve(performance.now());
  });
  assert.equal(f.onRequestHeaders(headers({ 'x-envoy-fault-delay-request': '25' }), true), FilterStatus.StopIteration);
  const at = await Promise.race([resumed, sleep(2_000).then(() => -1)]);
  assert.notEqual(at, -1);
  assert.ok(at - start >= 24, `resumed after ${at - start} ms`);
  f.onDestroy();
});

test('x-envoy-fault-delay-request-percentage caps the delay percentage', () => {
  const cfg = config({ delay: { headerDelay: true, percentage: 1_000_000 } });
  const run = (r: number, pct: string) => {
    const { f } = setup(cfg, () => r).make();
    const s = f.onRequestHeaders(headers({ 'x-envoy-fault-delay-request': '1000', 'x-envoy-fault-delay-request-percentage': pct }), true);
    f.onDestroy();
    return s;
  };
  assert.equal(run(0.29, '30'), FilterStatus.StopIteration);
  assert.equal(run(0.31, '30'), FilterStatus.Continue);
});

test('max_active_faults: faults beyond the limit are not injected and count as faults_overflow', () => {
  const { make, stat } = setup(config({ delay: { fixedDelayMs: 10_000 }, maxActiveFaults: 2 }));
  const a = make();
  const b = make();
  const c = make();
  assert.equal(a.f.onRequestHeaders(headers(), true), FilterStatus.StopIteration);
  assert.equal(b.f.onRequestHeaders(headers(), true), FilterStatus.StopIteration);
  assert.equal(c.f.onRequestHeaders(headers(), true), FilterStatus.Continue);
  assert.deepEqual(c.cb.flags, []);
  assert.equal(stat('active_faults'), 2);
  assert.equal(stat('faults_overflow'), 1);
  assert.equal(stat('delays_injected'), 2);
  a.f.onDestroy();
  const d = make();
  assert.equal(d.f.onRequestHeaders(headers(), true), FilterStatus.StopIteration);
  for (const x of [b, c, d]) x.f.onDestroy();
  assert.equal(stat('active_faults'), 0);
});

test('max_active_faults 0 never injects', () => {
  const { make, stat } = setup(config({ abort: { httpStatus: 500 }, maxActiveFaults: 0 }));
  const { cb, f } = make();
  assert.equal(f.onRequestHeaders(headers(), true), FilterStatus.Continue);
  assert.equal(cb.replies.length, 0);
  assert.equal(stat('faults_overflow'), 1);
});

test('upstream_cluster: only requests routed to that cluster get faults', () => {
  const { make, stat } = setup(config({ abort: { httpStatus: 503 }, upstreamCluster: 'api' }));
  for (const route of [null, routedTo('other')]) {
    const cb = new FakeCallbacks();
    cb.route = route;
    assert.equal(make(cb).f.onRequestHeaders(headers(), true), FilterStatus.Continue);
    assert.equal(cb.replies.length, 0);
  }
  assert.equal(stat('aborts_injected'), 0);
  const cb = new FakeCallbacks();
  cb.route = routedTo('api');
  assert.equal(make(cb).f.onRequestHeaders(headers(), true), FilterStatus.StopIteration);
  assert.equal(cb.replies[0]!.reply.status, 503);
});

test('headers: every matcher must match (pseudo-headers come from the callbacks)', () => {
  const { make } = setup(config({
    abort: { httpStatus: 418 },
    headers: [
      { name: 'x-canary', invert: false, match: { kind: 'string', string: { kind: 'exact', value: 'yes', ignoreCase: false } } },
      { name: ':method', invert: false, match: { kind: 'string', string: { kind: 'exact', value: 'POST', ignoreCase: false } } },
    ],
  }));
  const run = (method: string, h: Record<string, string>) => {
    const cb = new FakeCallbacks();
    cb.method = method;
    make(cb).f.onRequestHeaders(headers(h), true);
    return cb.replies.length;
  };
  assert.equal(run('POST', {}), 0);
  assert.equal(run('GET', { 'x-canary': 'yes' }), 0);
  assert.equal(run('POST', { 'x-canary': 'no' }), 0);
  assert.equal(run('POST', { 'x-canary': 'yes' }), 1);
});

test('stats are named http.<stat_prefix>.fault.<name> and resolved once per filter chain', () => {
  const stats = new StatsStore();
  faultFilterFactory.createShared(config({}), stats, 'edge');
  assert.deepEqual(Object.keys(stats.snapshot()), [
    'http.edge.fault.aborts_injected',
    'http.edge.fault.active_faults',
    'http.edge.fault.delays_injected',
    'http.edge.fault.faults_overflow',
  ]);
});

test('parseUnsigned follows SimpleAtoi: digits with optional + and spaces, within the maximum', () => {
  assert.equal(parseUnsigned('42', 100), 42);
  assert.equal(parseUnsigned(' +7 ', 100), 7);
  assert.equal(parseUnsigned('101', 100), -1);
  for (const bad of [undefined, '', '+', '-1', '1.5', '0x10', '1 2']) assert.equal(parseUnsigned(bad, 100), -1, String(bad));
});
