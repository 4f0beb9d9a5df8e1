// Translation of protocols, destination policies and per-rule resilience (the resilience.yaml fixture and
// small inline meshes): what each node gets, and that a fault filter applies exactly to its rule's requests.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadMeshConfig, parseMeshConfig, type World } from '../../../../control-plane/model/index.js';
import { compileNode, type NodeResources } from '../../../../control-plane/compile/index.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';

/** xDS resources as the JSON-shaped objects the compiler emits (deep property access in assertions). */
type Obj = Record<string, any>;

const MESH_DIR = fileURLToPath(new URL('../../../../../test/fixtures/mesh/', import.meta.url));
const PROXYLESS_ID = 'grpc-client';
const PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

async function resilience(): Promise<World> {
  const r = await loadMeshConfig(`${MESH_DIR}resilience.yaml`);
  if (!r.ok) assert.fail(r.errors.join('\n'));
  return r.value;
}

function worldOf(text: string): World {
  const r = parseMeshConfig(text, 'mesh.yaml');
  if (!r.ok) assert.fail(r.errors.join('\n'));
  return r.value;
}

function byName(res: NodeResources, url: keyof NodeResources): Map<string, Obj> {
  return new Map(res[url].map((r) => [r.name, r.resource as Obj]));
}

function hcmOf(listener: Obj): Obj {
  return listener.api_listener ? listener.api_listener.api_listener : listener.filter_chains[0].filters[0].typed_config;
}

describe('compile: protocols', () => {
  test('http2/grpc clusters (EDS and the inbound one to the app) speak HTTP/2; http and tcp ones do not; HCMs stay AUTO', async () => {
    const w = await resilience();
    const web = compileNode(w, 'web-1');
    const clusters = byName(web, TypeUrl.Cluster);
    const h2 = { '@type': TypeUrl.HttpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } };
    for (const name of ['greeter', 'greeter|version=v1', 'greeter|version=v2', 'catalog']) {
      assert.deepEqual(clusters.get(name)!.typed_extension_protocol_options, { [PROTOCOL_OPTIONS]: h2 }, name);
    }
    for (const name of ['cache', 'inbound|web']) assert.equal(clusters.get(name)!.typed_extension_protocol_options, undefined, name);
    const inbound = byName(compileNode(w, 'greeter-1'), TypeUrl.Cluster).get('inbound|greeter')!;
    assert.deepEqual(inbound.typed_extension_protocol_options, { [PROTOCOL_OPTIONS]: h2 });
    for (const id of ['web-1', 'greeter-1', 'catalog-1', 'edge', PROXYLESS_ID]) {
      for (const l of compileNode(w, id)[TypeUrl.Listener]) {
        const f = (l.resource as Obj).filter_chains?.[0]?.filters?.[0];
        if (f && f.name !== 'envoy.filters.network.http_connection_manager') continue;
        assert.equal(hcmOf(l.resource as Obj).codec_type, 'AUTO', `${id} ${l.name}`);
      }
    }
  });

  test('grpc services: the default route has no timeout and honours grpc-timeout uncapped', async () => {
    const rc = byName(compileNode(await resilience(), 'web-1'), TypeUrl.RouteConfiguration).get('outbound|greeter')!;
    const def = rc.virtual_hosts[0].routes.at(-1);
    assert.equal(def.name, 'default');
    assert.deepEqual(def.route.timeout, { seconds: 0, nanos: 0 });
    assert.deepEqual(def.route.max_stream_duration, { grpc_timeout_header_max: { seconds: 0, nanos: 0 } });
    const catalog = byName(compileNode(await resilience(), 'web-1'), TypeUrl.RouteConfiguration).get('outbound|catalog')!;
    const cdef = catalog.virtual_hosts[0].routes.at(-1);
    assert.deepEqual(cdef.route.timeout, { seconds: 15, nanos: 0 });
    assert.equal(cdef.route.max_stream_duration, undefined);
  });
});

describe('compile: destination policies', () => {
  test('lb policies, hash policies on every route to the service, panic threshold and locality weighting', async () => {
    const w = await resilience();
    const web = compileNode(w, 'web-1');
    const clusters = byName(web, TypeUrl.Cluster);
    assert.equal(clusters.get('greeter')!.lb_policy, 'RING_HASH');
    assert.equal(clusters.get('greeter|version=v1')!.lb_policy, 'RING_HASH');
    assert.equal(clusters.get('catalog')!.lb_policy, 'MAGLEV');
    assert.equal(clusters.get('cache')!.lb_policy, 'RANDOM');
    assert.deepEqual(clusters.get('greeter')!.common_lb_config, { healthy_panic_threshold: { value: 25 }, locality_weighted_lb_config: {} });
    assert.equal(clusters.get('catalog')!.common_lb_config, undefined);
    const routes = byName(web, TypeUrl.RouteConfiguration);
    for (const r of routes.get('outbound|greeter')!.virtual_hosts[0].routes) {
      assert.deepEqual(r.route.hash_policy, [{ header: { header_name: 'x-user' } }], r.name);
    }
    for (const r of routes.get('outbound|catalog')!.virtual_hosts[0].routes) {
      assert.deepEqual(r.route.hash_policy, [{ cookie: { name: 'session', ttl: { seconds: 3600, nanos: 0 }, path: '/' } }]);
    }
    const edge = byName(compileNode(w, 'edge'), TypeUrl.RouteConfiguration).get('gateway|edge')!.virtual_hosts[0].routes;
    assert.deepEqual(edge[0].route.hash_policy, [{ query_parameter: { name: 'q' } }]);
    assert.deepEqual(edge[2].route.hash_policy, [{ header: { header_name: 'x-user' } }]);
    const sourceIp = worldOf(`services:
  - name: a
    protocol: http
    lb: { policy: maglev, hash_on: { source_ip: true } }
    instances: []
gateways: [{ name: gw, listen: "127.0.0.1:8080", routes: [{ destinations: [{ service: a }] }] }]
`);
    const r0 = byName(compileNode(sourceIp, 'gw'), TypeUrl.RouteConfiguration).get('gateway|gw')!.virtual_hosts[0].routes[0];
    assert.deepEqual(r0.route.hash_policy, [{ connection_properties: { source_ip: true } }]);
    // A service without hash_on adds no hash_policy.
    const plain = worldOf('services: [{ name: a, protocol: http, instances: [] }]\ngateways: [{ name: gw, listen: "127.0.0.1:8080", routes: [{ destinations: [{ service: a }] }] }]\n');
    assert.equal(byName(compileNode(plain, 'gw'), TypeUrl.RouteConfiguration).get('gateway|gw')!.virtual_hosts[0].routes[0].route.hash_policy, undefined);
  });

  test('circuit breakers: DEFAULT thresholds with only the configured limits', async () => {
    const clusters = byName(compileNode(await resilience(), 'web-1'), TypeUrl.Cluster);
    assert.deepEqual(clusters.get('catalog')!.circuit_breakers, { thresholds: [{ priority: 'DEFAULT', max_requests: { value: 1000 }, max_retries: { value: 5 } }] });
    assert.deepEqual(clusters.get('greeter|version=v2')!.circuit_breakers.thresholds[0].retry_budget, {
      budget_percent: { value: 20.5 },
      min_retry_concurrency: { value: 3 },
    });
    assert.equal(clusters.get('cache')!.circuit_breakers, undefined);
  });

  test('outlier detection: configured detectors enforced, the ones left out switched off', async () => {
    const clusters = byName(compileNode(await resilience(), 'web-1'), TypeUrl.Cluster);
    assert.deepEqual(clusters.get('catalog')!.outlier_detection, {
      consecutive_5xx: { value: 3 },
      enforcing_consecutive_5xx: { value: 100 },
      enforcing_success_rate: { value: 0 },
    });
    const od = clusters.get('greeter')!.outlier_detection;
    assert.deepEqual(od.enforcing_consecutive_gateway_failure, { value: 100 });
    assert.deepEqual(od.enforcing_success_rate, { value: 80 });
    assert.deepEqual(od.success_rate_stdev_factor, { value: 1900 });
    assert.deepEqual(od.enforcing_failure_percentage, { value: 100 });
    assert.equal(od.split_external_local_origin_errors, true);
    assert.deepEqual(od.enforcing_consecutive_local_origin_failure, { value: 100 });
    assert.deepEqual(od.enforcing_local_origin_success_rate, { value: 80 });
    assert.deepEqual(od.max_ejection_time, { seconds: 300, nanos: 0 });
  });

  test('health checks: grpc, http (HTTP/2 codec for http2 services, status ranges), tcp', async () => {
    const w = await resilience();
    const clusters = byName(compileNode(w, 'web-1'), TypeUrl.Cluster);
    assert.deepEqual(clusters.get('greeter')!.health_checks[0].grpc_health_check, { service_name: 'helloworld.Greeter', authority: 'greeter.internal' });
    assert.deepEqual(clusters.get('catalog')!.health_checks[0].http_health_check, {
      path: '/healthz',
      host: 'catalog.internal',
      expected_statuses: [
        { start: 200, end: 201 },
        { start: 204, end: 300 },
      ],
      codec_client_type: 'HTTP2',
    });
    assert.deepEqual(clusters.get('cache')!.health_checks, [
      {
        timeout: { seconds: 1, nanos: 0 },
        interval: { seconds: 2, nanos: 0 },
        unhealthy_threshold: { value: 3 },
        healthy_threshold: { value: 1 },
        tcp_health_check: {},
      },
    ]);
    const search = byName(compileNode(w, 'edge'), TypeUrl.Cluster).get('search')!;
    assert.deepEqual(search.health_checks[0].http_health_check, { path: '/ready' }); // http/1.1, default 200
  });

  test('proxyless clients get only what gRPC honours', async () => {
    const clusters = byName(compileNode(await resilience(), PROXYLESS_ID), TypeUrl.Cluster);
    assert.equal(clusters.get('greeter')!.lb_policy, 'RING_HASH');
    assert.equal(clusters.get('catalog')!.lb_policy, 'RING_HASH'); // maglev: gRPC has only RING_HASH
    for (const [name, c] of clusters) {
      for (const k of ['health_checks', 'common_lb_config', 'typed_extension_protocol_options']) assert.equal(c[k], undefined, `${name}.${k}`);
    }
    assert.deepEqual(clusters.get('greeter')!.circuit_breakers.thresholds[0].max_requests, { value: 200 });
    assert.ok(clusters.get('greeter')!.outlier_detection);
    const lr = worldOf('services: [{ name: a, protocol: grpc, lb: least_request, instances: [] }]\n');
    assert.equal(byName(compileNode(lr, PROXYLESS_ID), TypeUrl.Cluster).get('a')!.lb_policy, 'ROUND_ROBIN');
  });
});

describe('compile: retries, stream timeouts and faults', () => {
  test('retry policy, previous-hosts predicate, max_stream_duration', async () => {
    const routes = byName(compileNode(await resilience(), 'web-1'), TypeUrl.RouteConfiguration).get('outbound|greeter')!.virtual_hosts[0].routes;
    const chaos = routes[0].route;
    assert.equal(chaos.retry_policy.retry_on, 'unavailable,cancelled,deadline-exceeded,resource-exhausted,internal,reset');
    assert.deepEqual(chaos.retry_policy.num_retries, { value: 2 });
    assert.deepEqual(chaos.retry_policy.retry_host_predicate, [
      { name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': TypeUrl.PreviousHostsPredicate } },
    ]);
    assert.equal(chaos.retry_policy.host_selection_retry_max_attempts, 3);
    assert.deepEqual(chaos.max_stream_duration, { max_stream_duration: { seconds: 30, nanos: 0 }, grpc_timeout_header_max: { seconds: 10, nanos: 0 } });
    const main = routes[1].route;
    assert.deepEqual(main.retry_policy, {
      retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
      num_retries: { value: 3 },
      retriable_status_codes: [503],
    });
  });

  test('proxies: one fault filter per (rule, destination cluster) before the router; HCMs without faults keep only the router', async () => {
    const w = await resilience();
    const listeners = byName(compileNode(w, 'web-1'), TypeUrl.Listener);
    const names = (l: string): string[] => hcmOf(listeners.get(l)!).http_filters.map((f: Obj) => f.name);
    assert.deepEqual(names('outbound|15101|greeter'), ['envoy.filters.http.fault|0|greeter|version=v2', 'envoy.filters.http.router']);
    assert.deepEqual(names('outbound|15102|catalog'), ['envoy.filters.http.fault|0|catalog', 'envoy.filters.http.fault|1|catalog', 'envoy.filters.http.router']);
    assert.deepEqual(names('inbound|15001'), ['envoy.filters.http.router']);
    const weighted = worldOf(`services: [{ name: a, protocol: http, instances: [{ id: a-1, address: 127.0.0.1, port: 9001, labels: { v: "1" } }] }]
gateways:
  - name: gw
    listen: 127.0.0.1:8080
    routes:
      - match: { path: "/a.b" }
        destinations: [{ service: a, subset: { v: "1" }, weight: 1 }, { service: a, weight: 3 }]
        fault: { delay: { fixed: 1s, percent: 12.3456 } }
`);
    const gw = hcmOf(byName(compileNode(weighted, 'gw'), TypeUrl.Listener).get('gateway|gw|8080')!).http_filters;
    assert.deepEqual(
      gw.map((f: Obj) => [f.name, f.typed_config.upstream_cluster]),
      [
        ['envoy.filters.http.fault|0|a|v=1', 'a|v=1'],
        ['envoy.filters.http.fault|0|a', 'a'],
        ['envoy.filters.http.router', undefined],
      ],
    );
    assert.deepEqual(gw[0].typed_config.headers, [{ name: ':path', string_match: { safe_regex: { regex: '/a\\.b(\\?.*)?' } } }]);
    assert.deepEqual(gw[0].typed_config.delay.percentage, { numerator: 123_456, denominator: 'MILLION' });
    assert.equal(byName(compileNode(weighted, 'gw'), TypeUrl.RouteConfiguration).get('gateway|gw')!.virtual_hosts[0].routes[0].typed_per_filter_config, undefined);
  });

  test('proxyless: a no-op fault filter in the HCM and a per-route override on the rules with a fault', async () => {
    const res = compileNode(await resilience(), PROXYLESS_ID);
    const listeners = byName(res, TypeUrl.Listener);
    const filters = (s: string): string[] => hcmOf(listeners.get(s)!).http_filters.map((f: Obj) => f.name);
    assert.deepEqual(filters('greeter'), ['envoy.filters.http.fault', 'envoy.filters.http.router']);
    assert.deepEqual(hcmOf(listeners.get('greeter')!).http_filters[0].typed_config, { '@type': TypeUrl.HttpFault });
    assert.deepEqual(filters('search'), ['envoy.filters.http.router']); // its fault is on a gateway rule only
    const routes = byName(res, TypeUrl.RouteConfiguration).get('greeter')!.virtual_hosts[0].routes;
    assert.deepEqual(routes[0].typed_per_filter_config, {
      'envoy.filters.http.fault': {
        '@type': TypeUrl.HttpFault,
        delay: { fixed_delay: { seconds: 0, nanos: 100_000_000 }, percentage: { numerator: 50, denominator: 'HUNDRED' } },
        abort: { grpc_status: 14, percentage: { numerator: 5000, denominator: 'MILLION' } },
      },
    });
    assert.equal(routes[1].typed_per_filter_config, undefined);
  });

  test('a fault filter applies exactly to the requests its rule routes to its cluster', async () => {
    const w = await resilience();
    const cases: Array<{ node: string; listener: string; route: string; requests: Req[] }> = [
      {
        node: 'web-1',
        listener: 'outbound|15101|greeter',
        route: 'outbound|greeter',
        requests: cross(['/helloworld.Greeter/SayHello', '/helloworld.Greeter/', '/other.Svc/Call'], ['POST'], [{}, { 'x-chaos': '1' }, { 'x-chaos': '2' }]),
      },
      {
        node: 'web-1',
        listener: 'outbound|15102|catalog',
        route: 'outbound|catalog',
        requests: cross(['/items', '/items?x=1', '/items/', '/items/12', '/items/12?y=/items', '/items/ab', '/itemsx', '/'], ['GET', 'POST', 'PUT'], [{}]),
      },
      {
        node: 'edge',
        listener: 'gateway|edge|8080',
        route: 'gateway|edge',
        requests: cross(['/search', '/search?q=1', '/searchx', '/greeter/x', '/'], ['GET'], [{}, { 'x-chaos': '' }, { 'x-chaos': 'yes' }]),
      },
    ];
    let faulted = 0;
    let clean = 0;
    for (const c of cases) {
      const res = compileNode(w, c.node);
      const filters = hcmOf(byName(res, TypeUrl.Listener).get(c.listener)!).http_filters.filter((f: Obj) => f.name !== 'envoy.filters.http.router');
      const routes = byName(res, TypeUrl.RouteConfiguration).get(c.route)!.virtual_hosts[0].routes as Obj[];
      for (const req of c.requests) {
        const i = routes.findIndex((r) => routeMatches(r.match, req));
        const route = i < 0 ? null : routes[i]!;
        const clusters: Array<string | null> = !route?.route
          ? [null]
          : route.route.cluster
            ? [route.route.cluster]
            : route.route.weighted_clusters.clusters.map((x: Obj) => x.name);
        for (const cluster of clusters) {
          const applied = filters.filter((f: Obj) => cluster !== null && f.typed_config.upstream_cluster === cluster && (f.typed_config.headers ?? []).every((h: Obj) => headerMatches(h, req)));
          const expected = filters.filter((f: Obj) => f.name === `envoy.filters.http.fault|${i}|${cluster}`);
          assert.deepEqual(applied.map((f: Obj) => f.name), expected.map((f: Obj) => f.name), `${c.node} ${JSON.stringify(req)} → ${route?.name ?? i} ${cluster}`);
          if (expected.length > 0) faulted++;
          else clean++;
        }
      }
    }
    assert.ok(faulted >= 6 && clean >= 20, `faulted ${faulted}, clean ${clean}`);
  });
});

// ---------- a small Envoy matcher model for the property test above ----------

interface Req {
  readonly path: string; // with query
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
}

function cross(paths: string[], methods: string[], headers: Array<Record<string, string>>): Req[] {
  return paths.flatMap((path) => methods.flatMap((method) => headers.map((h) => ({ path, method, headers: h }))));
}

function fullMatch(regex: string, s: string): boolean {
  return new RegExp(`^(?:${regex})$`).test(s);
}

function stringMatches(m: Obj, v: string): boolean {
  if ('exact' in m) return v === m.exact;
  if ('prefix' in m) return v.startsWith(m.prefix);
  if ('suffix' in m) return v.endsWith(m.suffix);
  if ('safe_regex' in m) return fullMatch(m.safe_regex.regex, v);
  throw new Error(`matcher ${JSON.stringify(m)}`);
}

function headerValue(req: Req, name: string): string | undefined {
  if (name === ':path') return req.path;
  if (name === ':method') return req.method;
  return req.headers[name];
}

/** envoy.config.route.v3.HeaderMatcher: a value matcher on an absent header fails (then inverted). */
function headerMatches(h: Obj, req: Req): boolean {
  const v = headerValue(req, h.name);
  const m = h.present_match ? v !== undefined : v !== undefined && stringMatches(h.string_match, v);
  return h.invert_match ? !m : m;
}

/** envoy.config.route.v3.RouteMatch: path forms see the path without its query string. */
function routeMatches(m: Obj, req: Req): boolean {
  const path = req.path.split('?')[0]!;
  const pathOk = 'prefix' in m ? path.startsWith(m.prefix) : 'path' in m ? path === m.path : fullMatch(m.safe_regex.regex, path);
  return pathOk && (m.headers ?? []).every((h: Obj) => headerMatches(h, req)) && m.query_parameters === undefined;
}
