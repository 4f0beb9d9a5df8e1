// Mesh config: protocols (http2, grpc), destination policies (lb, circuit_breaker, outlier_detection,
// health_check) and per-rule resilience (retries, timeouts, fault) — values, defaults and every error.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadMeshConfig, parseMeshText, type ForwardAction, type ServiceConfig, type World } from '../../../../control-plane/model/index.js';
import { errorsOf, fixture, worldOf } from './fixtures.js';

/** One service `s` (lines 1-4) with `extra` appended as further service keys (4-space indent). */
function svc(extra: string, protocol = 'http'): string {
  return `services:
  - name: s
    protocol: ${protocol}
    instances: [{ id: s-1, address: 127.0.0.1, port: 9001, labels: { v: "1" } }]
${extra}`;
}

function serviceOf(text: string): ServiceConfig {
  return worldOf(text).services.get('s')!;
}

/** Service `s` plus one route set for it whose rules are `rules` (8-space indent, first line `      - `). */
function withRules(rules: string, protocol = 'http'): string {
  return `${svc('', protocol)}routes:
  - service: s
    rules:
${rules}`;
}

function forward(w: World, i = 0): ForwardAction {
  const a = w.routes.get('s')!.rules[i]!.action;
  assert.ok(a.kind === 'forward');
  return a;
}

describe('mesh config: resilience fixture', () => {
  test('every new field is read into the World', async () => {
    const r = await loadMeshConfig(fixture('resilience.yaml'));
    if (!r.ok) assert.fail(r.errors.join('\n'));
    const w = r.value;
    const greeter = w.services.get('greeter')!;
    assert.equal(greeter.protocol, 'grpc');
    assert.equal(w.services.get('catalog')!.protocol, 'http2');
    assert.deepEqual(greeter.lb, { policy: 'ring_hash', hashOn: { kind: 'header', name: 'x-user' }, panicThresholdPercent: 25, localityWeighted: true });
    assert.deepEqual(w.services.get('catalog')!.lb.hashOn, { kind: 'cookie', name: 'session', ttlMs: 3_600_000, path: '/' });
    assert.deepEqual(w.services.get('search')!.lb, { policy: 'ring_hash', hashOn: { kind: 'query_parameter', name: 'q' }, panicThresholdPercent: null, localityWeighted: false });
    assert.equal(w.services.get('cache')!.lb.policy, 'random');
    assert.deepEqual(greeter.circuitBreaker, {
      maxConnections: 100,
      maxPendingRequests: 50,
      maxRequests: 200,
      maxRetries: null,
      retryBudget: { percent: 20.5, minConcurrency: 3 },
    });
    assert.deepEqual(greeter.outlierDetection, {
      consecutive5xx: 5,
      consecutiveGatewayFailure: 3,
      consecutiveLocalOriginFailure: 2,
      splitExternalLocalOriginErrors: true,
      intervalMs: 5000,
      baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionTimeJitterMs: 100,
      maxEjectionPercent: 50,
      successRate: { minimumHosts: 3, requestVolume: 50, stdevFactor: 1900, enforcing: 80 },
      failurePercentage: { threshold: 85, minimumHosts: 3, requestVolume: 20, enforcing: 100 },
    });
    assert.deepEqual(greeter.healthCheck, {
      check: { kind: 'grpc', service: 'helloworld.Greeter', authority: 'greeter.internal' },
      intervalMs: 5000,
      timeoutMs: 1000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    });
    assert.deepEqual(w.services.get('catalog')!.healthCheck?.check, {
      kind: 'http',
      path: '/healthz',
      host: 'catalog.internal',
      expectedStatuses: [
        [200, 201],
        [204, 300],
      ],
    });
    assert.deepEqual(w.services.get('cache')!.healthCheck, { check: { kind: 'tcp' }, intervalMs: 2000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 });

    const [chaos, main] = w.routes.get('greeter')!.rules.map((x) => x.action as ForwardAction);
    assert.deepEqual(chaos!.fault, { delay: { fixedMs: 100, perMillion: 500_000 }, abort: { httpStatus: null, grpcStatus: 14, perMillion: 5000 } });
    assert.deepEqual(chaos!.retries, {
      attempts: 2,
      retryOn: ['unavailable', 'cancelled', 'deadline-exceeded', 'resource-exhausted', 'internal', 'reset'],
      perTryTimeoutMs: 1000,
      retriableStatusCodes: [],
      backoff: { baseMs: 25, maxMs: 250 },
      preferOtherHosts: true,
    });
    assert.equal(chaos!.maxStreamDurationMs, 30_000);
    assert.equal(chaos!.grpcTimeoutHeaderMaxMs, 10_000);
    // Omitted retry_on: the defaults, plus retriable-status-codes because codes are listed.
    assert.deepEqual(main!.retries?.retryOn, ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']);
    assert.deepEqual(main!.retries?.retriableStatusCodes, [503]);
    assert.equal(main!.retries?.preferOtherHosts, false);
    assert.equal(main!.retries?.backoff, null);
  });
});

describe('mesh config: docs', () => {
  test('every yaml example in docs/mesh-config.md is valid', async () => {
    const doc = await readFile(fileURLToPath(new URL('../../../../../docs/mesh-config.md', import.meta.url)), 'utf8');
    const examples = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.ok(examples.length >= 2);
    for (const [i, text] of examples.entries()) {
      // Examples name certificate and JWKS files that do not exist here: only those read errors are tolerated.
      const { world: r } = await parseMeshText(text, `/nonexistent/example-${i}.yaml`);
      const errors = r.ok ? [] : r.errors.filter((e) => !/: cannot read [^:]+: ENOENT$/.test(e));
      assert.deepEqual(errors, [], `example ${i}`);
    }
  });
});

describe('mesh config: protocols and route defaults', () => {
  test('http2 and grpc services accept routes; a misspelt protocol gets a suggestion', () => {
    for (const p of ['http2', 'grpc']) {
      const w = worldOf(withRules('      - destinations: [{ service: s }]\n', p));
      assert.equal(w.services.get('s')!.protocol, p);
    }
    assert.deepEqual(errorsOf(svc('', 'htp2')), ["mesh.yaml:3:15: services[0].protocol: must be one of http, http2, grpc, tcp (did you mean 'http2'?)"]);
    assert.deepEqual(errorsOf(svc('', 'gRPC')), ["mesh.yaml:3:15: services[0].protocol: must be one of http, http2, grpc, tcp (did you mean 'grpc'?)"]);
    assert.deepEqual(errorsOf(svc('', 'quic')), ['mesh.yaml:3:15: services[0].protocol: must be one of http, http2, grpc, tcp']);
  });

  test('rules to grpc services default to no route timeout and an uncapped grpc-timeout; others keep 15s and ignore it', () => {
    const grpc = forward(worldOf(withRules('      - destinations: [{ service: s }]\n', 'grpc')));
    assert.equal(grpc.timeoutMs, 0);
    assert.equal(grpc.grpcTimeoutHeaderMaxMs, 0);
    const explicit = forward(worldOf(withRules('      - destinations: [{ service: s }]\n        timeout: 5s\n        grpc_timeout_header_max: 2s\n', 'grpc')));
    assert.equal(explicit.timeoutMs, 5000);
    assert.equal(explicit.grpcTimeoutHeaderMaxMs, 2000);
    const http2 = forward(worldOf(withRules('      - destinations: [{ service: s }]\n', 'http2')));
    assert.equal(http2.timeoutMs, 15_000);
    assert.equal(http2.grpcTimeoutHeaderMaxMs, null);
  });

  test('durations take h; at most 24h', () => {
    assert.equal(serviceOf(svc('    connect_timeout: 0.5h\n')).connectTimeoutMs, 1_800_000);
    assert.deepEqual(errorsOf(svc('    connect_timeout: 25h\n')), ['mesh.yaml:5:22: services[0].connect_timeout: must be at most 24h']);
  });
});

describe('mesh config: lb', () => {
  test('a bare policy name, a mapping, and hash_on implying ring_hash', () => {
    assert.equal(serviceOf(svc('    lb: maglev\n')).lb.policy, 'maglev');
    assert.deepEqual(serviceOf(svc('    lb: { policy: least_request, panic_threshold: 0 }\n')).lb, {
      policy: 'least_request',
      hashOn: null,
      panicThresholdPercent: 0,
      localityWeighted: false,
    });
    const cases: Array<[string, unknown]> = [
      ['{ header: X-User }', { kind: 'header', name: 'x-user' }],
      ['{ cookie: { name: sid } }', { kind: 'cookie', name: 'sid', ttlMs: null, path: null }],
      ['{ cookie: { name: sid, ttl: 0 } }', { kind: 'cookie', name: 'sid', ttlMs: 0, path: null }],
      ['{ source_ip: true }', { kind: 'source_ip' }],
      ['{ query_parameter: user }', { kind: 'query_parameter', name: 'user' }],
    ];
    for (const [yaml, hashOn] of cases) {
      const lb = serviceOf(svc(`    lb: { hash_on: ${yaml} }\n`)).lb;
      assert.deepEqual(lb.hashOn, hashOn, yaml);
      assert.equal(lb.policy, 'ring_hash', yaml);
    }
    assert.equal(serviceOf(svc('    lb: { policy: maglev, hash_on: { source_ip: true } }\n')).lb.policy, 'maglev');
  });

  test('errors: typos, hash_on without a hash policy, malformed hash_on, ranges, tcp', () => {
    const errors = errorsOf(`services:
  - name: a
    protocol: http
    lb: round_robbin
    instances: []
  - name: b
    protocol: http
    lb: { policy: round_robin, hash_on: { header: x-user }, panic_treshold: 5 }
    instances: []
  - name: c
    protocol: http
    lb: { hash_on: { header: x, source_ip: true }, panic_threshold: 101, locality_weighted: yes }
    instances: []
  - name: d
    protocol: http
    lb: { hash_on: { source_ip: false } }
    instances: []
  - name: e
    protocol: http
    lb: { hash_on: { cookie: { name: "a b", path: / } } }
    instances: []
  - name: f
    protocol: tcp
    lb: { hash_on: {} }
    instances: []
  - name: g
    protocol: tcp
    lb: { hash_on: { source_ip: true } }
    instances: []
  - name: h
    protocol: http
    lb: [ring_hash]
    instances: []
  - name: i
    protocol: http
    lb: 1
    instances: []
`);
    assert.deepEqual(errors, [
      "mesh.yaml:4:9: services[0].lb: must be one of round_robin, least_request, random, ring_hash, maglev (did you mean 'round_robin'?)",
      'mesh.yaml:8:41: services[1].lb.hash_on: needs policy ring_hash or maglev (policy is round_robin)',
      "mesh.yaml:8:61: services[1].lb.panic_treshold: unknown key (did you mean 'panic_threshold'?)",
      'mesh.yaml:12:20: services[2].lb.hash_on: has header and source_ip; use exactly one',
      'mesh.yaml:12:69: services[2].lb.panic_threshold: must be a number 0-100',
      'mesh.yaml:12:93: services[2].lb.locality_weighted: must be true or false',
      'mesh.yaml:16:33: services[3].lb.hash_on.source_ip: must be true',
      "mesh.yaml:20:38: services[4].lb.hash_on.cookie.name: must match a cookie name, got 'a b'",
      'mesh.yaml:20:51: services[4].lb.hash_on.cookie.path: only applies with ttl (the proxy sets the cookie only when it generates one)',
      'mesh.yaml:24:20: services[5].lb.hash_on: needs one of header, cookie, source_ip, query_parameter',
      'mesh.yaml:28:9: services[6].lb.hash_on: needs an http, http2 or grpc service (tcp traffic has no route to hash on)',
      'mesh.yaml:32:9: services[7].lb: must be a mapping',
      'mesh.yaml:36:9: services[8].lb: must be one of round_robin, least_request, random, ring_hash, maglev',
    ]);
  });

  test('a rule whose destinations hash on different keys is rejected', () => {
    const errors = errorsOf(`services:
  - name: a
    protocol: http
    lb: { hash_on: { header: x-a } }
    instances: []
  - name: b
    protocol: http
    lb: { hash_on: { header: x-b } }
    instances: []
gateways:
  - name: gw
    listen: 127.0.0.1:8080
    routes:
      - destinations: [{ service: a, weight: 1 }, { service: b, weight: 1 }]
`);
    assert.deepEqual(errors, ["mesh.yaml:14:23: gateways[0].routes[0].destinations: services 'a' and 'b' hash on different keys (lb.hash_on); a route has one hash policy"]);
  });
});

describe('mesh config: circuit_breaker', () => {
  test('values and defaults', () => {
    assert.deepEqual(serviceOf(svc('    circuit_breaker: { retry_budget: {} }\n')).circuitBreaker, {
      maxConnections: null,
      maxPendingRequests: null,
      maxRequests: null,
      maxRetries: null,
      retryBudget: { percent: null, minConcurrency: null },
    });
    assert.equal(serviceOf(svc('    circuit_breaker: { max_retries: 0 }\n')).circuitBreaker?.maxRetries, 0);
  });

  test('errors', () => {
    assert.deepEqual(errorsOf(svc('    circuit_breaker: {}\n')), [
      'mesh.yaml:5:22: services[0].circuit_breaker: needs at least one of max_connections, max_pending_requests, max_requests, max_retries, retry_budget',
    ]);
    assert.deepEqual(
      errorsOf(svc('    circuit_breaker: { max_connections: 0, max_request: 5, max_retries: 3, retry_budget: { percent: 150, min_concurrency: -1 } }\n')),
      [
        'mesh.yaml:5:41: services[0].circuit_breaker.max_connections: must be an integer 1-4294967295',
        "mesh.yaml:5:44: services[0].circuit_breaker.max_request: unknown key (did you mean 'max_requests'?)",
        'mesh.yaml:5:73: services[0].circuit_breaker.max_retries: is ignored when retry_budget is set; use one',
        'mesh.yaml:5:101: services[0].circuit_breaker.retry_budget.percent: must be a number 0-100',
        'mesh.yaml:5:123: services[0].circuit_breaker.retry_budget.min_concurrency: must be an integer 0-4294967295',
      ],
    );
  });
});

describe('mesh config: outlier_detection', () => {
  test('success_rate and failure_percentage may be empty (Envoy defaults, enforced 100 %)', () => {
    const od = serviceOf(svc('    outlier_detection: { success_rate: {}, failure_percentage: }\n')).outlierDetection!;
    assert.deepEqual(od.successRate, { minimumHosts: null, requestVolume: null, stdevFactor: null, enforcing: 100 });
    assert.deepEqual(od.failurePercentage, { threshold: null, minimumHosts: null, requestVolume: null, enforcing: 100 });
    assert.equal(od.consecutive5xx, null);
    assert.equal(od.intervalMs, null);
  });

  test('errors: no detector, local-origin without split, ejection times, ranges, typos', () => {
    assert.deepEqual(errorsOf(svc('    outlier_detection: { interval: 1s }\n')), [
      'mesh.yaml:5:24: services[0].outlier_detection: needs at least one detector: consecutive_5xx, consecutive_gateway_failure, consecutive_local_origin_failure, success_rate, failure_percentage',
    ]);
    const errors = errorsOf(`${svc(`    outlier_detection:
      consecutive_5xx: 0
      consecutive_local_origin_failure: 3
      interval: 0s
      base_ejection_time: 1m
      max_ejection_time: 30s
      max_ejection_percent: 101
      success_rate: { stdev_factor: 1.0005, enforcing: 101, minimum_host: 2 }
      failure_percentage: { threshold: 120 }
`)}`);
    assert.deepEqual(errors, [
      'mesh.yaml:6:24: services[0].outlier_detection.consecutive_5xx: must be an integer 1-4294967295',
      'mesh.yaml:7:41: services[0].outlier_detection.consecutive_local_origin_failure: needs split_external_local_origin_errors: true',
      'mesh.yaml:8:17: services[0].outlier_detection.interval: must be greater than 0',
      'mesh.yaml:10:26: services[0].outlier_detection.max_ejection_time: must not be less than base_ejection_time',
      'mesh.yaml:11:29: services[0].outlier_detection.max_ejection_percent: must be an integer 0-100',
      'mesh.yaml:12:37: services[0].outlier_detection.success_rate.stdev_factor: must have at most 3 decimals',
      'mesh.yaml:12:56: services[0].outlier_detection.success_rate.enforcing: must be an integer 0-100',
      "mesh.yaml:12:61: services[0].outlier_detection.success_rate.minimum_host: unknown key (did you mean 'minimum_hosts'?)",
      'mesh.yaml:13:40: services[0].outlier_detection.failure_percentage.threshold: must be an integer 0-100',
    ]);
  });
});

describe('mesh config: health_check', () => {
  test('defaults and forms', () => {
    assert.deepEqual(serviceOf(svc('    health_check: { http: { path: /h } }\n')).healthCheck, {
      check: { kind: 'http', path: '/h', host: null, expectedStatuses: [[200, 201]] },
      intervalMs: 10_000,
      timeoutMs: 1000,
      healthyThreshold: 1,
      unhealthyThreshold: 3,
    });
    assert.deepEqual(serviceOf(svc('    health_check: { grpc: }\n', 'grpc')).healthCheck?.check, { kind: 'grpc', service: null, authority: null });
    assert.deepEqual(serviceOf(svc('    health_check: { tcp: }\n', 'tcp')).healthCheck?.check, { kind: 'tcp' });
  });

  test('errors: kind count, protocol fit, paths, statuses, thresholds', () => {
    assert.deepEqual(errorsOf(svc('    health_check: { interval: 1s }\n')), ['mesh.yaml:5:19: services[0].health_check: needs one of http, tcp, grpc']);
    assert.deepEqual(errorsOf(svc('    health_check: { http: { path: /a }, tcp: {} }\n')), [
      'mesh.yaml:5:19: services[0].health_check: has http and tcp; use exactly one',
    ]);
    assert.deepEqual(errorsOf(svc('    health_check: { grpc: { service: a.B } }\n')), [
      'mesh.yaml:5:27: services[0].health_check.grpc: needs protocol grpc or http2 (the service is http)',
    ]);
    assert.deepEqual(errorsOf(svc('    health_check: { http: { path: /a } }\n', 'tcp')), [
      'mesh.yaml:5:27: services[0].health_check.http: the service is tcp; use a tcp health check',
    ]);
    assert.deepEqual(errorsOf(svc('    health_check: { tcp: { send: ping } }\n')), [
      'mesh.yaml:5:28: services[0].health_check.tcp.send: unknown key (a tcp health check only connects; write tcp: {})',
    ]);
    assert.deepEqual(
      errorsOf(svc('    health_check: { http: { paht: /a, expected_statuses: [99, "300-200", abc] }, healthy_threshold: 0, timeout: 0 }\n')),
      [
        'mesh.yaml:5:27: services[0].health_check.http.path: is required',
        "mesh.yaml:5:29: services[0].health_check.http.paht: unknown key (did you mean 'path'?)",
        'mesh.yaml:5:59: services[0].health_check.http.expected_statuses[0]: must be an integer 100-599',
        "mesh.yaml:5:63: services[0].health_check.http.expected_statuses[1]: must be a status 100-599 or an inclusive range like '200-299'",
        "mesh.yaml:5:74: services[0].health_check.http.expected_statuses[2]: must be a status 100-599 or an inclusive range like '200-299'",
        'mesh.yaml:5:101: services[0].health_check.healthy_threshold: must be an integer 1-4294967295',
        'mesh.yaml:5:113: services[0].health_check.timeout: must be a duration like 250ms, 2s or 1m',
      ],
    );
  });
});

describe('mesh config: retries and stream timeouts', () => {
  test('errors: attempts, retry_on typos and duplicates, status codes, backoff, placement', () => {
    const errors = errorsOf(
      withRules(`      - destinations: [{ service: s }]
        retries: { per_try_timeout: 0s }
      - destinations: [{ service: s }]
        retries: { attempts: 0, retry_on: [5xxx, reset, reset], retriable_status_codes: [503] }
      - destinations: [{ service: s }]
        retries: { attempts: 1, retry_on: [retriable-status-codes], backoff: { max: 1s } }
      - destinations: [{ service: s }]
        retries: { attempts: 1, retry_on: [], backoff: { base: 1s, max: 100ms }, prefer_other_hosts: 1 }
        max_stream_duration: 0
        grpc_timeout_header_max: -1s
      - direct_response: { status: 200 }
        retries: { attempts: 1 }
        fault: { abort: { http_status: 503, percent: 1 } }
`),
    );
    assert.deepEqual(errors, [
      'mesh.yaml:9:18: routes[0].rules[0].retries.attempts: is required',
      'mesh.yaml:9:37: routes[0].rules[0].retries.per_try_timeout: must be greater than 0',
      'mesh.yaml:11:30: routes[0].rules[1].retries.attempts: must be an integer 1-100',
      "mesh.yaml:11:44: routes[0].rules[1].retries.retry_on[0]: must be one of 5xx, gateway-error, reset, connect-failure, refused-stream, retriable-4xx, retriable-status-codes, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable (did you mean '5xx'?)",
      "mesh.yaml:11:57: routes[0].rules[1].retries.retry_on[2]: 'reset' is listed twice",
      "mesh.yaml:11:89: routes[0].rules[1].retries.retriable_status_codes: needs 'retriable-status-codes' in retry_on",
      'mesh.yaml:13:78: routes[0].rules[2].retries.backoff.base: is required',
      "mesh.yaml:13:43: routes[0].rules[2].retries.retry_on: 'retriable-status-codes' needs retriable_status_codes",
      'mesh.yaml:15:43: routes[0].rules[3].retries.retry_on: must list at least one condition',
      'mesh.yaml:15:73: routes[0].rules[3].retries.backoff.max: must not be less than base',
      'mesh.yaml:15:102: routes[0].rules[3].retries.prefer_other_hosts: must be true or false',
      'mesh.yaml:16:30: routes[0].rules[3].max_stream_duration: must be a duration like 250ms, 2s or 1m',
      'mesh.yaml:17:34: routes[0].rules[3].grpc_timeout_header_max: must be a duration like 250ms, 2s or 1m (0 disables)',
      'mesh.yaml:19:18: routes[0].rules[4].retries: only applies to a rule with destinations',
      'mesh.yaml:20:16: routes[0].rules[4].fault: only applies to a rule with destinations',
    ].sort(byPosition));
  });
});

/** Orders expected errors the way the parser reports them: by line, then column. */
function byPosition(a: string, b: string): number {
  const pos = (s: string): [number, number] => {
    const m = /^mesh\.yaml:(\d+):(\d+):/.exec(s)!;
    return [Number(m[1]), Number(m[2])];
  };
  const [la, ca] = pos(a);
  const [lb, cb] = pos(b);
  return la - lb || ca - cb;
}

describe('mesh config: fault', () => {
  test('percentages become parts per million (4 decimals at most)', () => {
    const a = forward(worldOf(withRules('      - destinations: [{ service: s }]\n        fault: { delay: { fixed: 2s, percent: 0.0001 }, abort: { http_status: 503, percent: 100 } }\n')));
    assert.deepEqual(a.fault, { delay: { fixedMs: 2000, perMillion: 1 }, abort: { httpStatus: 503, grpcStatus: null, perMillion: 1_000_000 } });
  });

  test('errors: empty, missing fields, both statuses, ranges, query matches', () => {
    const errors = errorsOf(
      withRules(`      - destinations: [{ service: s }]
        fault: {}
      - match: { prefix: /b }
        destinations: [{ service: s }]
        fault: { delay: { fixed: 1s }, abort: { http_status: 503, grpc_status: 14, percent: 1 } }
      - match: { prefix: /c }
        destinations: [{ service: s }]
        fault: { delay: { fixd: 1s, percent: 101 }, abort: { percent: 0.00001 } }
      - match: { prefix: /d }
        destinations: [{ service: s }]
        fault: { abort: { grpc_status: 17, percent: 1 } }
      - match: { prefix: /e }
        destinations: [{ service: s }]
        fault: { abort: { http_status: 100, percent: 1 } }
      - match: { prefix: /f, query: { debug: { present: true } } }
        destinations: [{ service: s }]
        fault: { abort: { http_status: 503, percent: 1 } }
`),
    );
    assert.deepEqual(errors, [
      'mesh.yaml:9:16: routes[0].rules[0].fault: needs delay or abort',
      'mesh.yaml:12:25: routes[0].rules[1].fault.delay.percent: is required',
      'mesh.yaml:12:47: routes[0].rules[1].fault.abort: has http_status and grpc_status; use one',
      'mesh.yaml:15:25: routes[0].rules[2].fault.delay.fixed: is required',
      "mesh.yaml:15:27: routes[0].rules[2].fault.delay.fixd: unknown key (did you mean 'fixed'?)",
      'mesh.yaml:15:46: routes[0].rules[2].fault.delay.percent: must be a number 0-100',
      'mesh.yaml:15:71: routes[0].rules[2].fault.abort.percent: must have at most 4 decimals (the resolution is one in a million)',
      'mesh.yaml:15:60: routes[0].rules[2].fault.abort: needs http_status or grpc_status',
      'mesh.yaml:18:40: routes[0].rules[3].fault.abort.grpc_status: must be an integer 0-16',
      'mesh.yaml:21:40: routes[0].rules[4].fault.abort.http_status: must be an integer 200-599',
      'mesh.yaml:24:16: routes[0].rules[5].fault: cannot be combined with match.query (faults are matched by request headers; see docs/mesh-config.md)',
    ].sort(byPosition));
  });

  test('an earlier rule to the same cluster that may match the same requests is rejected; disjoint ones are fine', () => {
    const errors = errorsOf(
      withRules(`      - match: { prefix: /api/v2 }
        destinations: [{ service: s }]
      - match: { prefix: /api }
        destinations: [{ service: s }]
        fault: { abort: { http_status: 503, percent: 1 } }
      - match: { prefix: /x, headers: { x-a: { exact: "1" } } }
        destinations: [{ service: s, subset: { v: "1" }, weight: 1 }, { service: s, weight: 1 }]
      - match: { prefix: /x }
        destinations: [{ service: s, subset: { v: "1" } }]
        fault: { abort: { http_status: 503, percent: 1 } }
`),
    );
    assert.deepEqual(errors, [
      "mesh.yaml:12:16: routes[0].rules[1].fault: routes[0].rules[0] comes first, also sends to 's' and may match the same requests; the fault would apply to them too (make the matches disjoint, e.g. by path or an exact header, or move this rule first)",
      "mesh.yaml:17:16: routes[0].rules[3].fault: routes[0].rules[2] comes first, also sends to 's' {v: 1} and may match the same requests; the fault would apply to them too (make the matches disjoint, e.g. by path or an exact header, or move this rule first)",
    ]);
    // Disjoint by path, method, exact header value, header presence; another cluster; a non-forward rule.
    worldOf(
      withRules(`      - match: { prefix: /a }
        destinations: [{ service: s }]
      - match: { path: /b/c, methods: [GET] }
        destinations: [{ service: s }]
      - match: { headers: { x-t: { exact: "1" } } }
        destinations: [{ service: s }]
      - match: { headers: { x-p: { present: true } } }
        destinations: [{ service: s }]
      - match: { headers: { x-q: { exact: "1" } } }
        destinations: [{ service: s, subset: { v: "1" } }]
      - direct_response: { status: 200 }
      - match: { prefix: /b, methods: [POST], headers: { x-t: { exact: "2" }, x-p: { present: true, invert: true } } }
        destinations: [{ service: s }]
        fault: { abort: { http_status: 503, percent: 1 } }
`),
    );
  });
});
