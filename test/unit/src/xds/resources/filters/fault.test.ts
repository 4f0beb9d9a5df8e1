import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Issues, type Obj } from '../../../../../../src/xds/resources/common.js';
import '../../../../../../src/xds/resources/filters/all.js';
import { validateFaultConfig, type ValidatedFaultConfig } from '../../../../../../src/xds/resources/filters/fault.js';
import { httpFilterConfigValidator } from '../../../../../../src/xds/resources/filters/index.js';
import { TypeUrl } from '../../../../../../src/xds/type-urls.js';
import { filterConfigHarness } from '../fixtures.js';

const { valid, hasError } = filterConfigHarness<ValidatedFaultConfig>(TypeUrl.HttpFault);

test('all.js registers the fault validator under the HTTPFault type URL', () => {
  assert.equal(httpFilterConfigValidator(TypeUrl.HttpFault), validateFaultConfig);
});

test('a fixed delay and an HTTP abort get Envoy defaults (percentage unset = 0 %)', () => {
  const c = valid({ delay: { fixed_delay: { seconds: 1, nanos: 500_000_000 } }, abort: { http_status: 503 } });
  assert.deepEqual(c, {
    delay: { fixedDelayMs: 1500, percentage: 0, headerDelay: false, percentageUnit: 10_000 },
    abort: { httpStatus: 503, grpcStatus: null, percentage: 0, headerAbort: false, percentageUnit: 10_000 },
    headers: [],
    upstreamCluster: null,
    maxActiveFaults: null,
  });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.delay) && Object.isFrozen(c.abort) && Object.isFrozen(c.headers));
});

test('an empty HTTPFault is valid and injects nothing', () => {
  assert.deepEqual(valid({}), { delay: null, abort: null, headers: [], upstreamCluster: null, maxActiveFaults: null });
});

test('FractionalPercent converts to parts per million by denominator, clamped at 100 %', () => {
  const pct = (percentage: object) => valid({ abort: { http_status: 500, percentage } }).abort!;
  assert.deepEqual([pct({ numerator: 5 }).percentage, pct({ numerator: 5 }).percentageUnit], [50_000, 10_000]);
  assert.deepEqual([pct({ numerator: 5, denominator: 'HUNDRED' }).percentage], [50_000]);
  assert.deepEqual([pct({ numerator: 5, denominator: 'TEN_THOUSAND' }).percentage, pct({ numerator: 5, denominator: 'TEN_THOUSAND' }).percentageUnit], [500, 100]);
  assert.deepEqual([pct({ numerator: 5, denominator: 'MILLION' }).percentage, pct({ numerator: 5, denominator: 'MILLION' }).percentageUnit], [5, 1]);
  assert.equal(pct({ numerator: 100 }).percentage, 1_000_000);
  assert.equal(pct({ numerator: 150 }).percentage, 1_000_000);
  assert.equal(pct({ numerator: 0, denominator: 'MILLION' }).percentage, 0);
  const d = valid({ delay: { fixed_delay: { nanos: 2_000_000 }, percentage: { numerator: 250_000, denominator: 'MILLION' } } }).delay!;
  assert.deepEqual([d.fixedDelayMs, d.percentage, d.percentageUnit], [2, 250_000, 1]);
});

test('header_delay, header_abort, grpc_status, headers, upstream_cluster and max_active_faults are read', () => {
  const c = valid({
    delay: { header_delay: {}, percentage: { numerator: 100 } },
    abort: { header_abort: {}, percentage: { numerator: 10, denominator: 'TEN_THOUSAND' } },
    headers: [
      { name: 'X-Canary', exact_match: 'yes' },
      { name: ':method', string_match: { safe_regex: { regex: 'GET|HEAD' } } },
      { name: 'x-debug', present_match: true, invert_match: true },
      { name: 'x-n', range_match: { start: 1, end: 10 } },
    ],
    upstream_cluster: 'api',
    max_active_faults: { value: 3 },
  });
  assert.deepEqual(c.delay, { fixedDelayMs: 0, percentage: 1_000_000, headerDelay: true, percentageUnit: 10_000 });
  assert.deepEqual(c.abort, { httpStatus: null, grpcStatus: null, percentage: 1000, headerAbort: true, percentageUnit: 100 });
  assert.deepEqual(c.headers, [
    { name: 'x-canary', invert: false, match: { kind: 'string', string: { kind: 'exact', value: 'yes', ignoreCase: false } } },
    { name: ':method', invert: false, match: { kind: 'string', string: { kind: 'regex', regex: 'GET|HEAD' } } },
    { name: 'x-debug', invert: true, match: { kind: 'present', present: true } },
    { name: 'x-n', invert: false, match: { kind: 'range', start: 1, end: 10 } },
  ]);
  assert.equal(c.upstreamCluster, 'api');
  assert.equal(c.maxActiveFaults, 3);
  assert.equal(valid({ max_active_faults: { value: 0 } }).maxActiveFaults, 0);
});

test('grpc_status aborts keep the gRPC code, including 0 (OK)', () => {
  assert.deepEqual(valid({ abort: { grpc_status: 14, percentage: { numerator: 100 } } }).abort, {
    httpStatus: null, grpcStatus: 14, percentage: 1_000_000, headerAbort: false, percentageUnit: 10_000,
  });
  assert.equal(valid({ abort: { grpc_status: 0 } }).abort!.grpcStatus, 0);
});

test('runtime keys, disable_downstream_cluster_stats and filter_metadata are accepted and ignored', () => {
  const c = valid({
    abort: { http_status: 500 },
    delay_percent_runtime: 'a', abort_percent_runtime: 'b', delay_duration_runtime: 'c', abort_http_status_runtime: 'd',
    max_active_faults_runtime: 'e', response_rate_limit_percent_runtime: 'f', abort_grpc_status_runtime: 'g',
    disable_downstream_cluster_stats: true,
    filter_metadata: { fields: { team: { stringValue: 'payments' } } },
  });
  assert.equal(c.abort!.httpStatus, 500);
});

test('invalid abort settings are NACKed with their field path', () => {
  hasError({ abort: { http_status: 600 } }, 'abort.http_status: must be in [200, 600), got 600');
  hasError({ abort: { http_status: 199 } }, 'abort.http_status: must be in [200, 600), got 199');
  hasError({ abort: { percentage: { numerator: 10 } } }, 'abort: one of http_status, grpc_status, header_abort is required');
});

test('invalid delay settings are NACKed with their field path', () => {
  hasError({ delay: { fixed_delay: {} } }, 'delay.fixed_delay: must be greater than 0');
  hasError({ delay: { fixed_delay: { seconds: -1 } } }, 'delay.fixed_delay: must not be negative');
  hasError({ delay: { percentage: { numerator: 10 } } }, 'delay: one of fixed_delay, header_delay is required');
});

test('downstream_nodes and response_rate_limit are NACKed as not supported', () => {
  hasError({ downstream_nodes: ['n1'] }, 'downstream_nodes: not supported by Tessera');
  hasError({ response_rate_limit: { fixed_limit: { limit_kbps: 10 } } }, 'response_rate_limit: not supported by Tessera');
});

test('invalid header matchers are NACKed with their field path', () => {
  hasError({ headers: [{ exact_match: 'x' }] }, 'headers[0].name: required');
  hasError({ headers: [{ name: 'a' }, { name: 'x', safe_regex_match: { regex: '(?=x)' } }] }, 'headers[1].safe_regex_match.regex: invalid regex "(?=x)": look-around is not RE2 syntax');
  hasError({ headers: [{ name: 'x', range_match: { start: 5, end: 5 } }] }, 'headers[0].range_match: start (5) must be less than end (5)');
  hasError({ headers: [{ name: 'x', prefix_match: '' }] }, 'headers[0].prefix_match: must not be empty');
});

test('a FractionalPercent with an unknown denominator is NACKed (raw input beyond what decoding yields)', () => {
  const issues = new Issues();
  const body: Obj = { abort: { http_status: 503, percentage: { numerator: 1, denominator: 7 } } };
  validateFaultConfig(body, 'tc', issues);
  assert.deepEqual(issues.list, ['tc.abort.percentage.denominator: unknown denominator 7']);
});
