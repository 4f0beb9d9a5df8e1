import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadMeshConfig, parseMeshConfig, validateMeshFile } from '../../../../control-plane/model/index.js';
import { errorsOf, fixture, worldOf } from './fixtures.js';

const BASE = `services:
  - name: orders
    protocol: http
    instances:
      - { id: orders-1, address: 127.0.0.1, port: 9011, sidecar_port: 15011, labels: { version: v1 } }
      - { id: orders-2, address: 127.0.0.1, port: 9012, sidecar_port: 15012, labels: { version: v2 } }
  - name: db
    protocol: tcp
    instances: [{ id: db-1, address: 127.0.0.1, port: 5432 }]
`;

describe('parseMeshConfig: valid configs', () => {
  test('demo fixture: services, route sets and node roles are indexed', async () => {
    const r = await loadMeshConfig(fixture('demo.yaml'));
    if (!r.ok) assert.fail(r.errors.join('\n'));
    const w = r.value;
    assert.equal(w.mesh.name, 'demo');
    assert.deepEqual([...w.services.keys()], ['users', 'orders', 'ledger']);
    assert.deepEqual([...w.nodes.keys()].sort(), ['edge', 'ledger-1', 'orders-1', 'orders-2', 'users-1']);
    const users = w.nodes.get('users-1');
    assert.ok(users?.role === 'sidecar');
    assert.equal(users.service.name, 'users');
    assert.equal(users.instance.sidecarPort, 15001);
    const edge = w.nodes.get('edge');
    assert.ok(edge?.role === 'gateway');
    assert.deepEqual(edge.gateway.listen, { address: '127.0.0.1', port: 8080 });
    const rules = w.routes.get('orders')?.rules ?? [];
    assert.equal(rules.length, 4);
    const canary = rules[0]!;
    assert.equal(canary.name, 'canary');
    assert.deepEqual(canary.match.path, { kind: 'prefix', value: '/api' });
    assert.deepEqual(canary.match.methods, ['GET', 'POST']);
    assert.deepEqual(canary.match.headers, [
      { name: 'x-canary', match: { kind: 'exact', value: '1' }, invert: false },
      { name: 'x-debug', match: null, invert: true },
    ]);
    assert.deepEqual(canary.match.query, [{ name: 'debug', match: { kind: 'exact', value: '1' } }]);
    assert.deepEqual(canary.action, {
      kind: 'forward',
      destinations: [
        { service: 'orders', subset: { version: 'v2' }, weight: 10 },
        { service: 'orders', subset: { version: 'v1' }, weight: 90 },
      ],
      rewritePrefix: '/v2',
      rewriteHost: 'orders.internal',
      timeoutMs: 2000,
      retries: null,
      maxStreamDurationMs: null,
      grpcTimeoutHeaderMaxMs: null,
      fault: null,
    });
    assert.deepEqual(canary.requestHeaders, { add: { 'x-from': 'mesh' }, set: { 'x-a': 'b' }, remove: ['x-debug'] });
    assert.deepEqual(rules[1]!.action, { kind: 'redirect', path: '/new', prefix: null, host: null, scheme: null, port: null, https: false, code: 301 });
    assert.deepEqual(rules[2]!.action, { kind: 'direct_response', status: 200, body: 'ok' });
    assert.equal(rules[3]!.action.kind === 'forward' && rules[3]!.action.timeoutMs, 0);
  });

  test('defaults: mesh name, lb, connect timeout, match, route timeout, labels', () => {
    const w = worldOf(`${BASE}routes:
  - service: orders
    rules:
      - destinations: [{ service: orders }]
`);
    assert.equal(w.mesh.name, 'default');
    const orders = w.services.get('orders')!;
    assert.deepEqual(orders.lb, { policy: 'round_robin', hashOn: null, panicThresholdPercent: null, localityWeighted: false });
    assert.equal(orders.circuitBreaker, null);
    assert.equal(orders.outlierDetection, null);
    assert.equal(orders.healthCheck, null);
    assert.equal(orders.connectTimeoutMs, 5000);
    assert.deepEqual(orders.dependencies, []);
    assert.deepEqual(w.services.get('db')!.instances[0]!.labels, {});
    assert.equal(w.services.get('db')!.instances[0]!.sidecarPort, null);
    const rule = w.routes.get('orders')!.rules[0]!;
    assert.deepEqual(rule.match, { path: { kind: 'prefix', value: '/' }, headers: [], query: [], methods: [] });
    assert.ok(rule.action.kind === 'forward');
    assert.equal(rule.action.timeoutMs, 15000);
    assert.equal(rule.action.grpcTimeoutHeaderMaxMs, null);
    assert.equal(rule.action.retries, null);
    assert.deepEqual(rule.action.destinations, [{ service: 'orders', subset: null, weight: null }]);
    assert.deepEqual(w.mesh.gateways, []);
  });

  test('durations: ms, s, fractional s, m', () => {
    for (const [text, ms] of [['250ms', 250], ['2s', 2000], ['1.5s', 1500], ['1m', 60000]] as const) {
      const w = worldOf(BASE.replace('protocol: tcp', `protocol: tcp\n    connect_timeout: ${text}`));
      assert.equal(w.services.get('db')!.connectTimeoutMs, ms, text);
    }
  });

  test('the World is deep-frozen', () => {
    const w = worldOf(BASE);
    assert.ok(Object.isFrozen(w));
    assert.ok(Object.isFrozen(w.mesh.services[0]!.instances[0]!.labels));
    assert.throws(() => {
      (w.mesh.services[0] as { name: string }).name = 'x';
    }, TypeError);
  });

  test('gateway listen accepts IPv6 and wildcard addresses', () => {
    const w = worldOf(`${BASE}gateways:
  - { name: edge6, listen: "[::1]:8443", routes: [] }
  - { name: edge4, listen: "0.0.0.0:8080", routes: [] }
`);
    const g = w.nodes.get('edge6');
    assert.ok(g?.role === 'gateway');
    assert.deepEqual(g.gateway.listen, { address: '::1', port: 8443 });
  });

  test('a dependency may name a service declared further down', () => {
    const w = worldOf(`services:
  - name: a
    protocol: http
    instances: [{ id: a-1, address: 127.0.0.1, port: 9001 }]
    dependencies: [{ service: b, port: 15100 }]
  - name: b
    protocol: http
    instances: []
`);
    assert.deepEqual(w.services.get('a')!.dependencies, [{ service: 'b', port: 15100 }]);
  });
});

describe('parseMeshConfig: errors name file, line, column and field', () => {
  test('invalid fixture reports every error in file order', async () => {
    const errors = await validateMeshFile(fixture('invalid.yaml'));
    const f = fixture('invalid.yaml');
    assert.deepEqual(
      errors.map((e) => e.replace(f, 'invalid.yaml')),
      [
        "invalid.yaml:4:9: services[0].lb: must be one of round_robin, least_request, random, ring_hash, maglev (did you mean 'random'?)",
        "invalid.yaml:5:5: services[0].conect_timeout: unknown key (did you mean 'connect_timeout'?)",
        "invalid.yaml:8:18: services[0].instances[0].address: must be an IP literal, got 'localhost'",
        'invalid.yaml:9:15: services[0].instances[0].port: must be an integer 1-65535',
        "invalid.yaml:11:13: services[0].instances[1].id: node id 'users-1' is already used by services[0].instances[0]",
        "invalid.yaml:16:18: services[0].dependencies[0].service: unknown service 'payments' (declared: users)",
        "invalid.yaml:18:11: services[1].name: duplicate service 'users' (first declared on line 2)",
        "invalid.yaml:19:15: services[1].protocol: must be one of http, http2, grpc, tcp (did you mean 'grpc'?)",
        "invalid.yaml:24:26: routes[0].rules[0].match.prefix: must start with '/'",
        'invalid.yaml:24:47: routes[0].rules[0].match.headers.x-a: has exact and prefix; use exactly one',
        "invalid.yaml:26:39: routes[0].rules[0].destinations[0].subset: no instance of 'users' has labels {version: v9}",
        'invalid.yaml:27:13: routes[0].rules[0].destinations[1].weight: is required when a rule has several destinations',
        'invalid.yaml:28:18: routes[0].rules[0].timeout: must be a duration like 250ms, 2s or 1m (0 disables)',
        'invalid.yaml:29:9: routes[0].rules[1]: needs one of destinations, redirect or direct_response',
        "invalid.yaml:31:11: gateways[0].name: node id 'users-1' is already used by services[0].instances[0]",
        'invalid.yaml:32:13: gateways[0].listen: port 15001 on 127.0.0.1 is bound twice: gateway users-1 and sidecar inbound of users-1 (services[0].instances[0].sidecar_port)',
        'invalid.yaml:34:19: gateways[0].routes[0].redirect: needs at least one of path, prefix, host, scheme, port, https',
        'invalid.yaml:34:27: gateways[0].routes[0].redirect.code: must be one of 301, 302, 303, 307, 308',
      ],
    );
  });

  test('the example from the brief: a bad instance port', () => {
    const errors = errorsOf(BASE.replace('port: 9012', 'port: 0'));
    assert.deepEqual(errors, ['mesh.yaml:6:51: services[0].instances[1].port: must be an integer 1-65535']);
  });

  test('YAML syntax errors and duplicate keys carry positions', () => {
    assert.match(errorsOf('services: [\n')[0]!, /^mesh\.yaml:\d+:\d+: /);
    const dup = errorsOf('services: []\nservices: []\n');
    assert.equal(dup.length, 1);
    assert.match(dup[0]!, /^mesh\.yaml:2:1: Map keys must be unique/);
  });

  test('empty file, wrong root type, missing services', () => {
    assert.deepEqual(errorsOf(''), ['mesh.yaml:1:1: the file is empty; expected a mapping with `services`']);
    assert.deepEqual(errorsOf('- a\n'), ['mesh.yaml:1:1: must be a mapping']);
    assert.deepEqual(errorsOf('mesh: { name: x }\n'), ['mesh.yaml:1:1: services: is required']);
  });

  test('unknown keys at every level, with or without a suggestion', () => {
    const errors = errorsOf(`${BASE}routes:
  - service: orders
    rules:
      - mach: { prefix: / }
        destinations: [{ service: orders, wieght: 1 }]
gateways:
  - { name: gw, listen: "127.0.0.1:8080", routes: [], color: blue }
`);
    assert.deepEqual(errors, [
      "mesh.yaml:13:9: routes[0].rules[0].mach: unknown key (did you mean 'match'?)",
      "mesh.yaml:14:43: routes[0].rules[0].destinations[0].wieght: unknown key (did you mean 'weight'?)",
      'mesh.yaml:16:55: gateways[0].color: unknown key (expected one of name, listen, identity, tls, jwt_providers, api_keys, routes)',
    ]);
  });

  test('bad types', () => {
    const errors = errorsOf(`services:
  - name: Users
    protocol: http
    connect_timeout: 5
    instances:
      - { id: u-1, address: 127.0.0.1, port: "80", labels: { version: 2 } }
    dependencies: nope
`);
    assert.deepEqual(errors, [
      "mesh.yaml:2:11: services[0].name: must match [a-z0-9-]+ (at most 63 characters), got 'Users'",
      'mesh.yaml:4:22: services[0].connect_timeout: must be a duration like 250ms, 2s or 1m',
      'mesh.yaml:6:46: services[0].instances[0].port: must be an integer 1-65535',
      'mesh.yaml:6:71: services[0].instances[0].labels.version: must be a string (quote it)',
      'mesh.yaml:7:19: services[0].dependencies: must be a list',
    ]);
  });

  test('ports bound twice on one host: sidecar ports, outbound listeners of co-located instances, gateways', () => {
    const errors = errorsOf(`services:
  - name: a
    protocol: http
    instances:
      - { id: a-1, address: 127.0.0.1, port: 9001, sidecar_port: 15001 }
      - { id: a-2, address: 127.0.0.2, port: 9002, sidecar_port: 15001 }
      - { id: a-3, address: 10.0.0.1, port: 9001, sidecar_port: 15001 }
    dependencies: [{ service: a, port: 9001 }]
gateways:
  - { name: gw, listen: "0.0.0.0:15001", routes: [] }
`);
    assert.deepEqual(errors, [
      'mesh.yaml:5:9: services[0].instances[0]: port 9001 on 127.0.0.1 is bound twice: outbound listener of a-1 (dependency a) and app of a-1 (services[0].instances[0].port)',
      'mesh.yaml:6:9: services[0].instances[1]: port 9001 on 127.0.0.1 is bound twice: outbound listener of a-2 (dependency a) and app of a-1 (services[0].instances[0].port)',
      'mesh.yaml:10:25: gateways[0].listen: port 15001 on 0.0.0.0 is bound twice: gateway gw and sidecar inbound of a-1 (services[0].instances[0].sidecar_port)',
    ]);
  });

  test('references: unknown service, tcp service in HTTP routes, subset without instances, duplicate rule set', () => {
    const errors = errorsOf(`${BASE}routes:
  - service: db
    rules: []
  - service: orders
    rules:
      - destinations:
          - { service: nope, weight: 1 }
          - { service: orders, subset: { version: v3 }, weight: 1 }
          - { service: orders, subset: {}, weight: 1 }
  - service: orders
    rules: []
`);
    assert.deepEqual(errors, [
      "mesh.yaml:11:14: routes[0].service: service 'db' is tcp; HTTP routes need an http, http2 or grpc service",
      "mesh.yaml:16:24: routes[1].rules[0].destinations[0].service: unknown service 'nope' (declared: db, orders)",
      "mesh.yaml:17:40: routes[1].rules[0].destinations[1].subset: no instance of 'orders' has labels {version: v3}",
      'mesh.yaml:18:40: routes[1].rules[0].destinations[2].subset: must name at least one label (omit it to target the whole service)',
      "mesh.yaml:19:14: routes[2].service: 'orders' already has rules in routes[1]",
    ]);
  });

  test('weights: must be integers, must not all be zero; duplicate destinations', () => {
    const errors = errorsOf(`${BASE}routes:
  - service: orders
    rules:
      - destinations:
          - { service: orders, subset: { version: v1 }, weight: 0 }
          - { service: orders, subset: { version: v2 }, weight: 0 }
      - destinations:
          - { service: orders, weight: 1.5 }
      - destinations:
          - { service: orders, weight: 1 }
          - { service: orders, weight: 2 }
`);
    assert.deepEqual(errors, [
      'mesh.yaml:14:11: routes[0].rules[0].destinations: weights must add up to more than 0',
      'mesh.yaml:17:40: routes[0].rules[1].destinations[0].weight: must be an integer 0-1000000',
      'mesh.yaml:20:13: routes[0].rules[2].destinations[1]: duplicates an earlier destination (same service and subset)',
    ]);
  });

  test('matchers, actions and header mutations', () => {
    const errors = errorsOf(`${BASE}routes:
  - service: orders
    rules:
      - match: { prefix: /a, path: /b }
        direct_response: { status: 200 }
      - match: { regex: "(?=x)", headers: { x-a: { present: false } }, query: { q: { exact: "1", invert: true } }, methods: [get] }
        direct_response: { status: 99 }
      - match: { regex: "/a.*" }
        destinations: [{ service: orders }]
        rewrite: { prefix: /b }
      - redirect: { path: /a, prefix: /b }
        timeout: 1s
      - destinations: [{ service: orders }]
        redirect: { path: /x }
      - destinations: [{ service: orders }]
        headers: { request: { add: { Host: x }, set: { "bad name": y }, remove: [":path"] } }
`);
    assert.deepEqual(errors, [
      'mesh.yaml:13:16: routes[0].rules[0].match: has prefix and path; use exactly one of prefix, path, regex',
      'mesh.yaml:15:25: routes[0].rules[1].match.regex: lookaround is not RE2 syntax',
      'mesh.yaml:15:61: routes[0].rules[1].match.headers.x-a.present: must be true (use invert: true to require absence)',
      "mesh.yaml:15:98: routes[0].rules[1].match.query.q.invert: unknown key (expected one of exact, prefix, suffix, regex, present)",
      "mesh.yaml:15:126: routes[0].rules[1].match.methods[0]: must match an upper-case HTTP method, got 'get'",
      'mesh.yaml:16:36: routes[0].rules[1].direct_response.status: must be an integer 200-599',
      'mesh.yaml:19:28: routes[0].rules[2].rewrite.prefix: needs a prefix or path match, not regex',
      'mesh.yaml:20:19: routes[0].rules[3].redirect: has both path and prefix; use one',
      'mesh.yaml:21:18: routes[0].rules[3].timeout: only applies to a rule with destinations',
      'mesh.yaml:22:9: routes[0].rules[4]: has both destinations and redirect; use exactly one',
      'mesh.yaml:25:38: routes[0].rules[5].headers.request.add.Host: host cannot be changed here; use rewrite.host',
      "mesh.yaml:25:56: routes[0].rules[5].headers.request.set.bad name: 'bad name' is not a valid header name",
      "mesh.yaml:25:82: routes[0].rules[5].headers.request.remove[0]: ':path' is not a valid header name",
    ]);
  });

  test('loadMeshConfig and validateMeshFile on a missing file give one error naming it', async () => {
    const errors = await validateMeshFile('/nonexistent/mesh.yaml');
    assert.deepEqual(errors, ['/nonexistent/mesh.yaml: cannot read: ENOENT']);
    assert.deepEqual(await validateMeshFile(fixture('demo.yaml')), []);
  });

  test('every mesh fixture except invalid.yaml is valid', async () => {
    for (const name of ['demo.yaml', 'minimal.yaml']) {
      const text = await readFile(fixture(name), 'utf8');
      const r = parseMeshConfig(text, name);
      assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    }
  });
});
