import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bootstrapFromFlags, loadBootstrap, parseBootstrap } from '../../../../src/config/bootstrap.js';
import type { ForwardActionConfig, HcmConfig } from '../../../../src/xds/resources/types.js';

const YAML_OK = `# Envoy-style bootstrap
node:
  id: sidecar-1
  cluster: web
  metadata: { team: payments, replicas: 2 }
  locality: { region: eu, subZone: b }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 9901 } }
dynamic_resources:
  ads_config:
    api_type: DELTA_GRPC
    transport_api_version: V3
    grpc_services:
      - envoy_grpc: { cluster_name: xds_cluster }
  lds_config: { ads: {}, resource_api_version: V3 }
  cdsConfig: { ads: {}, resourceApiVersion: V3 }
static_resources:
  clusters:
    - name: xds_cluster
      type: STATIC
      connect_timeout: 1s
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: { http2_protocol_options: {} }
      load_assignment:
        cluster_name: xds_cluster
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 18000 } } }
    - name: local_app
      connectTimeout: 0.250s
      lbPolicy: LEAST_REQUEST
      perConnectionBufferLimitBytes: 4096
      loadAssignment:
        clusterName: local_app
        endpoints:
          - lbEndpoints:
              - endpoint: { address: { socketAddress: { address: 127.0.0.1, portValue: 8081 } } }
                loadBalancingWeight: 2
  listeners:
    - name: inbound
      address: { socket_address: { address: 0.0.0.0, port_value: 15006 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                statPrefix: inbound
                streamIdleTimeout: 30s
                useRemoteAddress: true
                routeConfig:
                  name: local
                  virtualHosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: { prefix: / }
                          route: { cluster: local_app, timeout: 2.5s }
                httpFilters:
                  - name: envoy.filters.http.router
                    typedConfig: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;

test('YAML bootstrap: node, admin, ADS (delta), static cluster and listener through the xDS validators', () => {
  const r = parseBootstrap(YAML_OK, 'bootstrap.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const b = r.value;
  assert.deepEqual(b.node, { id: 'sidecar-1', cluster: 'web', metadata: { team: 'payments', replicas: 2 }, locality: { region: 'eu', zone: '', subZone: 'b' } });
  assert.deepEqual(b.admin, { address: '127.0.0.1', port: 9901 });
  assert.deepEqual(b.ads, { apiType: 'DELTA_GRPC', server: { address: '127.0.0.1', port: 18000 }, initialMetadata: [], tls: null });
  assert.deepEqual(b.staticClusters.map((c) => c.name), ['local_app']);
  const c = b.staticClusters[0]!;
  assert.deepEqual([c.connectTimeoutMs, c.lbPolicy, c.perConnectionBufferLimitBytes], [250, 'LEAST_REQUEST', 4096]);
  assert.equal(c.loadAssignment?.localities[0]?.endpoints[0]?.weight, 2);
  const l = b.staticListeners[0]!;
  assert.equal(l.name, 'inbound');
  const h = l.filterChains[0]!.network as HcmConfig;
  assert.equal(h.streamIdleTimeoutMs, 30_000);
  assert.equal(h.useRemoteAddress, true);
  assert.equal((h.routeConfig?.virtualHosts[0]?.routes[0]?.action as ForwardActionConfig).timeoutMs, 2500);
  assert.ok(Object.isFrozen(b));
});

test('JSON bootstrap with camelCase keys and SotW ADS', () => {
  const json = JSON.stringify({
    node: { id: 'n1' },
    dynamicResources: {
      adsConfig: { apiType: 'GRPC', grpcServices: [{ envoyGrpc: { clusterName: 'xds' } }] },
      ldsConfig: { ads: {} },
      cdsConfig: { ads: {} },
    },
    staticResources: {
      clusters: [{ name: 'xds', type: 'STRICT_DNS', http2ProtocolOptions: {}, loadAssignment: { clusterName: 'xds', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: 'cp.local', portValue: 18000 } } } }] }] } }],
    },
  }, null, 2);
  const r = parseBootstrap(json, 'b.json');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.value.ads, { apiType: 'GRPC', server: { address: 'cp.local', port: 18000 }, initialMetadata: [], tls: null });
  assert.equal(r.value.admin, null);
  assert.deepEqual(r.value.staticClusters, []);
});

test('errors carry file:line:col and the field path', () => {
  const bad = YAML_OK.replace('                useRemoteAddress: true\n', '                useRemoteAddress: true\n                tracing: {}\n')
    .replace('      lbPolicy: LEAST_REQUEST', '      lbPolicy: CLUSTER_PROVIDED')
    .replace('  cluster: web', '  cluster: web\n  colour: blue');
  const r = parseBootstrap(bad, 'b.yaml');
  assert.equal(r.ok, false);
  const errors = r.ok ? [] : r.errors;
  const lines = bad.split('\n');
  const lineOf = (s: string) => lines.findIndex((l) => l.includes(s)) + 1;
  assert.ok(errors.includes(`b.yaml:${lineOf('colour')}:3: node.colour: unknown field`), JSON.stringify(errors));
  assert.ok(errors.includes(`b.yaml:${lineOf('lbPolicy')}:7: static_resources.clusters[1].lb_policy: CLUSTER_PROVIDED not supported by Tessera`), JSON.stringify(errors));
  assert.ok(
    errors.includes(`b.yaml:${lineOf('tracing: {}')}:17: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.tracing: not supported by Tessera`),
    JSON.stringify(errors),
  );
});

test('unknown keys, bad durations, unsupported top-level fields and a missing xDS cluster are reported', () => {
  const text = [
    'node: { id: a }',
    'layered_runtime: {}',
    'dynamic_resources:',
    '  ads_config: { api_type: REST, grpc_services: [ { envoy_grpc: { cluster_name: nowhere } } ] }',
    '  lds_config: { ads: {} }',
    '  cds_config: { path: /etc/cds.yaml }',
    'static_resources:',
    '  clusters:',
    '    - name: x',
    '      connect_timeout: 5 seconds',
    '      lb_polcy: ROUND_ROBIN',
  ].join('\n');
  const r = parseBootstrap(text, 'c.yaml');
  assert.equal(r.ok, false);
  const errors = r.ok ? [] : r.errors;
  const expected = [
    'c.yaml:2:1: layered_runtime: not supported by Tessera',
    'c.yaml:4:17: dynamic_resources.ads_config.api_type: must be GRPC or DELTA_GRPC, got REST',
    'c.yaml:6:17: dynamic_resources.cds_config.path: not supported by Tessera',
    'c.yaml:10:7: static_resources.clusters[0].connect_timeout: invalid duration "5 seconds" (expected e.g. "5s" or "0.250s")',
    'c.yaml:11:7: static_resources.clusters[0].lb_polcy: unknown field of envoy.config.cluster.v3.Cluster',
  ];
  for (const e of expected) assert.ok(errors.includes(e), `missing ${e} in ${JSON.stringify(errors)}`);
  assert.ok(errors.some((e) => e.includes('cluster "nowhere" is not among static_resources.clusters')), JSON.stringify(errors));
});

test('YAML syntax errors and a missing node are reported with positions', () => {
  const r = parseBootstrap('node: { id: a\n', 's.yaml');
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.errors[0]!, /^s\.yaml:\d+:\d+: /);
  const n = parseBootstrap('admin: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } }\n', 'n.yaml');
  assert.deepEqual(n.ok ? [] : n.errors, ['n.yaml:1:1: node: required']);
});

test('loadBootstrap reads a file; a missing file is an error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bootstrap-'));
  try {
    const p = join(dir, 'b.yaml');
    await writeFile(p, YAML_OK);
    const r = await loadBootstrap(p);
    assert.ok(r.ok);
    const missing = await loadBootstrap(join(dir, 'nope.yaml'));
    assert.equal(missing.ok, false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bootstrapFromFlags', () => {
  const b = bootstrapFromFlags({ nodeId: 'n', cluster: 'svc', xds: '127.0.0.1:18000', adminPort: 0, delta: true });
  assert.deepEqual(b.ads, { apiType: 'DELTA_GRPC', server: { address: '127.0.0.1', port: 18000 }, initialMetadata: [], tls: null });
  assert.deepEqual(b.admin, { address: '127.0.0.1', port: 0 });
  assert.equal(b.node.cluster, 'svc');
  assert.deepEqual(bootstrapFromFlags({ nodeId: 'n', xds: '[::1]:9' }).ads?.server, { address: '::1', port: 9 });
  assert.equal(bootstrapFromFlags({ nodeId: 'n', xds: 'cp:9' }).admin, null);
  assert.throws(() => bootstrapFromFlags({ nodeId: 'n', xds: 'nope' }), /xds: expected host:port/);
});

const ZT_BOOTSTRAP = (ca: string, extra = '') => `node: { id: api-1 }
dynamic_resources:
  ads_config:
    api_type: GRPC
    grpc_services:
      - envoy_grpc: { cluster_name: xds }
        initial_metadata: [ { key: Authorization, value: "Bearer tok.en.x" } ]
  lds_config: { ads: {} }
  cds_config: { ads: {} }
static_resources:
  clusters:
    - name: xds
      type: STATIC
      load_assignment:
        cluster_name: xds
        endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 18000 } } } } ] } ]
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
          common_tls_context:
            validation_context:
              trusted_ca: { ${ca} }
              match_typed_subject_alt_names: [ { san_type: URI, matcher: { exact: "spiffe://mesh.test/ns/tessera-system/sa/control-plane" } } ]
${extra}`;

test('zero trust: the xDS cluster\'s UpstreamTlsContext and the token in initial_metadata; trusted_ca files are read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bootstrap-'));
  try {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    await writeFile(join(dir, 'root.pem'), pem);
    const p = join(dir, 'b.yaml');
    await writeFile(p, ZT_BOOTSTRAP(`filename: ${join(dir, 'root.pem')}`));
    const r = await loadBootstrap(p);
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    assert.deepEqual(r.value.ads?.initialMetadata, [{ key: 'authorization', value: 'Bearer tok.en.x' }]);
    assert.deepEqual(r.value.ads?.tls, { trustedCaPem: pem, trustedCaFile: join(dir, 'root.pem'), sanUris: ['spiffe://mesh.test/ns/tessera-system/sa/control-plane'] });
    await writeFile(p, ZT_BOOTSTRAP(`filename: ${join(dir, 'missing.pem')}`));
    const missing = await loadBootstrap(p);
    assert.match(missing.ok ? '' : missing.errors[0]!, /trusted_ca: .*missing\.pem/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('zero trust: what the xDS cluster\'s TLS may not carry is named', () => {
  const noCa = parseBootstrap(ZT_BOOTSTRAP('').replace('trusted_ca: {  }', 'trusted_ca: {}'), 'z.yaml');
  assert.match(noCa.ok ? '' : noCa.errors.join('\n'), /validation_context\.trusted_ca: required/);
  const certs = parseBootstrap(ZT_BOOTSTRAP('inline_string: x').replace('            validation_context:', '            tls_certificates: [ { certificate_chain: { inline_string: x } } ]\n            validation_context:'), 'z.yaml');
  assert.match(certs.ok ? '' : certs.errors.join('\n'), /common_tls_context\.tls_certificates: not supported by Tessera on the xDS cluster/);
  const dns = parseBootstrap(ZT_BOOTSTRAP('inline_string: x').replace('san_type: URI', 'san_type: DNS'), 'z.yaml');
  assert.match(dns.ok ? '' : dns.errors.join('\n'), /match_typed_subject_alt_names\[0\]: only san_type URI/);
  const flags = bootstrapFromFlags({ nodeId: 'n', xds: '127.0.0.1:1', token: 't', xdsTls: { trustedCaPem: 'P', sanUris: ['spiffe://a/b'] } });
  assert.deepEqual(flags.ads?.initialMetadata, [{ key: 'authorization', value: 'Bearer t' }]);
  assert.deepEqual(flags.ads?.tls, { trustedCaPem: 'P', trustedCaFile: null, sanUris: ['spiffe://a/b'] });
});

test('an error under a quoted map key (policies["p"]) is positioned without looping', () => {
  const y = `node: { id: n }
static_resources:
  listeners:
    - name: l
      address: { socket_address: { address: 127.0.0.1, port_value: 1 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.rbac
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
                stat_prefix: r
                rules: { action: DENY, policies: { p: { permissions: [ { url_path: { path: { prefix: /x } } } ], principals: [ { any: true } ] } } }
            - name: envoy.filters.network.tcp_proxy
              typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: c }
  clusters:
    - { name: c, type: STATIC, load_assignment: { cluster_name: c, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 2 } } } } ] } ] } }
`;
  const r = parseBootstrap(y, 'q.yaml');
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.errors[0]!, /^q\.yaml:\d+:\d+: static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.rules\.policies\["p"\]\.permissions\[0\]\.url_path: needs the HTTP filter/);
});
