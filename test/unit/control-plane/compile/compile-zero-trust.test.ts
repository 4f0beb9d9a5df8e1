// Zero-trust translation: mTLS modes on inbound listeners, mTLS on clusters, RBAC, the HTTPS gateway with
// jwt_authn and API keys, Secrets (ROOTCA, gateway certificates), the proxyless view, and no TLS without a CA.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadMeshConfig, parseMeshConfig, type World } from '../../../../control-plane/model/index.js';
import { compileNode, nodeIds, type CaView, type NodeResources } from '../../../../control-plane/compile/index.js';
import { buildChecked } from '../../../../control-plane/snapshot/snapshot-cache.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import { fixture } from '../model/fixtures.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- resources are plain JSON here

const CA: CaView = { trustDomain: 'zero-trust.test', trustBundlePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' };

async function zeroTrust(): Promise<World> {
  const r = await loadMeshConfig(fixture('zero-trust.yaml'));
  if (!r.ok) assert.fail(r.errors.join('\n'));
  return r.value;
}

function get(res: NodeResources, url: keyof NodeResources, name: string): Obj {
  const r = res[url].find((x) => x.name === name);
  assert.ok(r, `${name} in ${url}`);
  return r.resource as Obj;
}

const names = (res: NodeResources, url: keyof NodeResources): string[] => res[url].map((r) => r.name);
const hcmOf = (chain: Obj): Obj => chain.filters.at(-1).typed_config;
/** Every transport_socket anywhere in a node's resources. */
const sockets = (res: NodeResources): string[] => JSON.stringify(res).match(/"transport_socket"/g) ?? [];

describe('compile: sidecar inbound per mTLS mode', () => {
  test('STRICT: one TLS chain requiring a client certificate of the trust domain; XFCC set from the peer', async () => {
    const l = get(compileNode(await zeroTrust(), 'catalog-1', CA), TypeUrl.Listener, 'inbound|15011');
    assert.equal(l.listener_filters, undefined);
    assert.equal(l.filter_chains.length, 1);
    const [chain] = l.filter_chains;
    assert.equal(chain.filter_chain_match, undefined);
    const tls = chain.transport_socket.typed_config;
    assert.equal(tls['@type'], TypeUrl.DownstreamTlsContext);
    assert.deepEqual(tls.require_client_certificate, { value: true });
    assert.deepEqual(tls.common_tls_context.alpn_protocols, ['h2', 'http/1.1']);
    assert.deepEqual(tls.common_tls_context.tls_params, { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' });
    assert.deepEqual(tls.common_tls_context.tls_certificate_sds_secret_configs[0].name, 'default');
    assert.equal(tls.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.api_config_source.grpc_services[0].envoy_grpc.cluster_name, 'sds-grpc');
    const cvc = tls.common_tls_context.combined_validation_context;
    assert.deepEqual(cvc.default_validation_context.match_typed_subject_alt_names, [{ san_type: 'URI', matcher: { prefix: 'spiffe://zero-trust.test/' } }]);
    assert.deepEqual(cvc.validation_context_sds_secret_config, { name: 'ROOTCA', sds_config: { ads: {}, resource_api_version: 'V3' } });
    const hcm = hcmOf(chain);
    assert.equal(hcm.forward_client_cert_details, 'SANITIZE_SET');
    assert.deepEqual(hcm.set_current_client_cert_details, { subject: { value: true }, uri: true, dns: true });
    assert.deepEqual(hcm.http_filters.map((f: Obj) => f.name), ['envoy.filters.http.rbac', 'envoy.filters.http.router']);
  });

  test('PERMISSIVE: tls_inspector, a TLS chain and a plaintext chain (XFCC sanitized)', async () => {
    const l = get(compileNode(await zeroTrust(), 'web-1', CA), TypeUrl.Listener, 'inbound|15001');
    assert.deepEqual(l.listener_filters, [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TypeUrl.TlsInspector } }]);
    const [tlsChain, plain] = l.filter_chains;
    assert.deepEqual(tlsChain.filter_chain_match, { transport_protocol: 'tls' });
    assert.ok(tlsChain.transport_socket);
    assert.equal(hcmOf(tlsChain).forward_client_cert_details, 'SANITIZE_SET');
    assert.deepEqual(plain.filter_chain_match, { transport_protocol: 'raw_buffer' });
    assert.equal(plain.transport_socket, undefined);
    assert.equal(hcmOf(plain).forward_client_cert_details, 'SANITIZE');
    assert.equal(hcmOf(plain).set_current_client_cert_details, undefined);
  });

  test('DISABLE: the plaintext listener of before, with its IP-only policy', async () => {
    const res = compileNode(await zeroTrust(), 'orders-1', CA);
    const l = get(res, TypeUrl.Listener, 'inbound|15021');
    assert.equal(l.filter_chains.length, 1);
    assert.equal(l.filter_chains[0].transport_socket, undefined);
    assert.equal(hcmOf(l.filter_chains[0]).forward_client_cert_details, undefined);
    const rbac = hcmOf(l.filter_chains[0]).http_filters[0].typed_config;
    assert.deepEqual(rbac.rules, {
      action: 'DENY',
      policies: { 'rules[0]': { permissions: [{ any: true }], principals: [{ direct_remote_ip: { address_prefix: '192.0.2.0', prefix_len: { value: 24 } } }] } },
    });
    assert.deepEqual(res[TypeUrl.Secret], [], 'nothing validates peers: no ROOTCA');
  });

  test('tcp STRICT: TLS without ALPN, network RBAC before tcp_proxy', async () => {
    const l = get(compileNode(await zeroTrust(), 'ledger-1', CA), TypeUrl.Listener, 'inbound|15031');
    const [chain] = l.filter_chains;
    assert.equal(chain.transport_socket.typed_config.common_tls_context.alpn_protocols, undefined);
    assert.deepEqual(chain.filters.map((f: Obj) => f.name), ['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
    assert.deepEqual(chain.filters[0].typed_config, {
      '@type': TypeUrl.NetworkRbac,
      stat_prefix: 'inbound_15031',
      rules: {
        action: 'ALLOW',
        policies: {
          'rules[0]': {
            permissions: [{ destination_port: 15031 }],
            principals: [{ authenticated: { principal_name: { exact: 'spiffe://zero-trust.test/ns/default/sa/web' } } }],
          },
        },
      },
    });
  });

  test('RBAC: from entries are principals (service, gateway, namespace, principal, ip), to entries permissions; paths normalized first', async () => {
    const l = get(compileNode(await zeroTrust(), 'catalog-1', CA), TypeUrl.Listener, 'inbound|15011');
    const hcm = hcmOf(l.filter_chains[0]);
    assert.deepEqual([hcm.normalize_path, hcm.merge_slashes], [{ value: true }, true]);
    const p = hcm.http_filters[0].typed_config.rules.policies;
    assert.deepEqual(Object.keys(p), ['rules[0]', 'rules[1]', 'rules[2]']);
    assert.deepEqual(p['rules[0]'].principals, [
      { authenticated: { principal_name: { exact: 'spiffe://zero-trust.test/ns/default/sa/web' } } },
      { authenticated: { principal_name: { exact: 'spiffe://zero-trust.test/ns/shop/sa/edge' } } },
      { authenticated: { principal_name: { prefix: 'spiffe://zero-trust.test/ns/ops/' } } },
    ]);
    assert.deepEqual(p['rules[1]'], {
      permissions: [{ and_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'POST' } } }, { destination_port: 15011 }] } }],
      principals: [{ authenticated: { principal_name: { exact: 'spiffe://zero-trust.test/ns/ops/sa/admin' } } }],
    });
    assert.deepEqual(p['rules[2]'].permissions, [{ url_path: { path: { exact: '/healthz' } } }]);
  });
});

describe('compile: mTLS to destinations', () => {
  test("clusters carry the destination's exact SPIFFE ID and SNI; DISABLE and sidecar-less services stay plaintext", async () => {
    const res = compileNode(await zeroTrust(), 'web-1', CA);
    const catalog = get(res, TypeUrl.Cluster, 'catalog').transport_socket.typed_config;
    assert.equal(catalog['@type'], TypeUrl.UpstreamTlsContext);
    assert.equal(catalog.sni, 'catalog.shop.svc');
    assert.deepEqual(catalog.common_tls_context.alpn_protocols, ['http/1.1']);
    assert.deepEqual(catalog.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names, [
      { san_type: 'URI', matcher: { exact: 'spiffe://zero-trust.test/ns/shop/sa/catalog-sa' } },
    ]);
    assert.equal(get(res, TypeUrl.Cluster, 'ledger').transport_socket.typed_config.common_tls_context.alpn_protocols, undefined);
    assert.equal(get(res, TypeUrl.Cluster, 'orders').transport_socket, undefined, 'DISABLE');
    assert.equal(get(res, TypeUrl.Cluster, 'legacy').transport_socket, undefined, 'no sidecar');
    assert.equal(get(res, TypeUrl.Cluster, 'inbound|web').transport_socket, undefined, 'to its own app');
    assert.deepEqual(names(res, TypeUrl.Secret), ['ROOTCA']);
    assert.deepEqual(get(res, TypeUrl.Secret, 'ROOTCA'), { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: CA.trustBundlePem } } });
  });

  test('http2/grpc destinations get ALPN h2; a service with one sidecar-less instance gets no TLS', () => {
    const r = parseMeshConfig(
      `services:
  - name: a
    protocol: http
    instances: [{ id: a-1, address: 127.0.0.1, port: 9001 }]
    dependencies: [{ service: g, port: 15100 }, { service: m, port: 15101 }]
  - name: g
    protocol: grpc
    instances: [{ id: g-1, address: 127.0.0.1, port: 9002, sidecar_port: 15002 }]
  - name: m
    protocol: http
    instances: [{ id: m-1, address: 127.0.0.1, port: 9003, sidecar_port: 15003 }, { id: m-2, address: 127.0.0.2, port: 9003 }]
`,
      'm.yaml',
    );
    if (!r.ok) assert.fail(r.errors.join('\n'));
    const res = compileNode(r.value, 'a-1', { trustDomain: 'td', trustBundlePem: CA.trustBundlePem });
    assert.deepEqual(get(res, TypeUrl.Cluster, 'g').transport_socket.typed_config.common_tls_context.alpn_protocols, ['h2']);
    assert.equal(get(res, TypeUrl.Cluster, 'm').transport_socket, undefined);
    // a-1 has no inbound listener; its one TLS cluster still needs the bundle.
    assert.deepEqual(names(res, TypeUrl.Secret), ['ROOTCA']);
  });
});

describe('compile: HTTPS gateway', () => {
  test('one chain per host group by SNI plus a default chain; secrets per group from the certificate files', async () => {
    const res = compileNode(await zeroTrust(), 'edge', CA);
    const l = get(res, TypeUrl.Listener, 'gateway|edge|8443');
    assert.deepEqual(l.listener_filters.map((f: Obj) => f.name), ['envoy.filters.listener.tls_inspector']);
    assert.deepEqual(
      l.filter_chains.map((c: Obj) => [c.filter_chain_match?.server_names ?? null, c.transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name]),
      [
        [['shop.example.com', 'www.shop.example.com'], 'edge/shop.example.com'],
        [['api.example.com', '*.example.com'], 'edge/api.example.com'],
        [null, 'edge/shop.example.com'],
      ],
    );
    const tls = l.filter_chains[0].transport_socket.typed_config;
    assert.equal(tls.require_client_certificate, undefined);
    assert.deepEqual(tls.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config, { ads: {}, resource_api_version: 'V3' });
    assert.deepEqual(names(res, TypeUrl.Secret), ['ROOTCA', 'edge/api.example.com', 'edge/shop.example.com']);
    assert.deepEqual(get(res, TypeUrl.Secret, 'edge/shop.example.com').tls_certificate, {
      certificate_chain: { inline_string: await readFile(fixture('zero-trust/shop.pem'), 'utf8') },
      private_key: { inline_string: await readFile(fixture('zero-trust/shop-key.pem'), 'utf8') },
    });
    const hcm = hcmOf(l.filter_chains[0]);
    assert.deepEqual(hcm.http_filters.map((f: Obj) => f.name), ['envoy.filters.http.jwt_authn', 'tessera.filters.http.api_key', 'envoy.filters.http.router']);
    assert.deepEqual(hcm.use_remote_address, { value: true });
    assert.deepEqual(hcm.normalize_path, { value: true });
  });

  test('the redirect listener requires TLS (to the HTTPS port); HSTS on the HTTPS virtual host', async () => {
    const res = compileNode(await zeroTrust(), 'edge', CA);
    const l = get(res, TypeUrl.Listener, 'gateway|edge|8080');
    assert.deepEqual(l.address, { socket_address: { address: '127.0.0.1', port_value: 8080 } });
    assert.equal(hcmOf(l.filter_chains[0]).rds.route_config_name, 'gateway|edge|https-redirect');
    const vh = get(res, TypeUrl.RouteConfiguration, 'gateway|edge|https-redirect').virtual_hosts[0];
    assert.equal(vh.require_tls, 'ALL');
    assert.deepEqual(vh.routes[0].redirect, { https_redirect: true, port_redirect: 8443, response_code: 'MOVED_PERMANENTLY' });
    assert.deepEqual(get(res, TypeUrl.RouteConfiguration, 'gateway|edge').virtual_hosts[0].response_headers_to_add, [
      { header: { key: 'strict-transport-security', value: 'max-age=31536000; includeSubDomains' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ]);
  });

  test('jwt_authn and API-key rules follow the routes one to one, in order; open routes stay open', async () => {
    const world = await zeroTrust();
    const hcm = hcmOf(get(compileNode(world, 'edge', CA), TypeUrl.Listener, 'gateway|edge|8443').filter_chains[0]);
    const jwt = hcm.http_filters[0].typed_config;
    const routes = get(compileNode(world, 'edge', CA), TypeUrl.RouteConfiguration, 'gateway|edge').virtual_hosts[0].routes;
    assert.deepEqual(jwt.rules.map((r: Obj) => r.match), routes.map((r: Obj) => r.match));
    assert.deepEqual(jwt.rules.map((r: Obj) => r.requires ?? null), [
      null,
      { requires_any: { requirements: [{ provider_name: 'corp' }, { provider_name: 'partner' }] } },
      null,
      { requires_any: { requirements: [{ provider_name: 'corp' }, { allow_missing: {} }] } },
      null,
    ]);
    assert.deepEqual(Object.keys(jwt.providers), ['corp', 'partner']);
    assert.equal(jwt.providers.partner.remote_jwks.http_uri.cluster, 'jwks|partner');
    const keys = hcm.http_filters[1].typed_config;
    assert.equal(keys['@type'], TypeUrl.ApiKeyAuth);
    assert.deepEqual(keys.rules.map((r: Obj) => r.match), routes.map((r: Obj) => r.match));
    assert.deepEqual(keys.rules.map((r: Obj) => [r.skip, r.allow_missing, r.allowed_consumers]), [
      [true, false, []],
      [true, false, []],
      [false, false, ['acme']],
      [false, true, []],
      [true, false, []],
    ]);
    assert.deepEqual(keys.sources, [{ header: 'x-api-key' }, { query: 'api_key' }]);
    assert.deepEqual([keys.consumer_header, keys.forward_metadata, keys.keep_credential], ['x-consumer-id', ['plan'], false]);
  });

  test('gateway to service clusters are mTLS with the service identity (not to DISABLE services)', async () => {
    const res = compileNode(await zeroTrust(), 'edge', CA);
    assert.ok(get(res, TypeUrl.Cluster, 'catalog|version=v2').transport_socket);
    assert.ok(get(res, TypeUrl.Cluster, 'web').transport_socket);
    assert.equal(get(res, TypeUrl.Cluster, 'orders').transport_socket, undefined);
  });
});

describe('compile: proxyless clients and the CA', () => {
  test('proxyless clients get only services they may call directly (no STRICT with a CA, none with authorization)', async () => {
    const world = await zeroTrust();
    assert.deepEqual(names(compileNode(world, 'grpc-client', CA), TypeUrl.Listener), ['legacy', 'web']);
    assert.deepEqual(names(compileNode(world, 'grpc-client', null), TypeUrl.Listener), ['legacy', 'web'], 'authorization applies with or without a CA');
    assert.equal(sockets(compileNode(world, 'grpc-client', CA)).length, 0);
    // A rule of a reachable service sending to a guarded one is left out, with its clusters.
    const r = parseMeshConfig(
      `services:
  - { name: a, protocol: http, instances: [{ id: a-1, address: 127.0.0.1, port: 9001, sidecar_port: 15001 }] }
  - name: b
    protocol: http
    mtls: STRICT
    instances: [{ id: b-1, address: 127.0.0.1, port: 9002, sidecar_port: 15002 }]
routes:
  - service: a
    rules: [{ match: { prefix: /b }, destinations: [{ service: b }] }]
`,
      'm.yaml',
    );
    if (!r.ok) assert.fail(r.errors.join('\n'));
    const res = compileNode(r.value, 'grpc-client', CA);
    assert.deepEqual(names(res, TypeUrl.Cluster), ['a']);
    assert.equal(get(res, TypeUrl.RouteConfiguration, 'a').virtual_hosts[0].routes.length, 1);
    // Without a CA, STRICT means nothing: b and the rule to it are served.
    const plain = compileNode(r.value, 'grpc-client', null);
    assert.deepEqual(names(plain, TypeUrl.Cluster), ['a', 'b']);
    assert.equal(get(plain, TypeUrl.RouteConfiguration, 'a').virtual_hosts[0].routes.length, 2);
  });

  test('without a CA: no mesh TLS and no ROOTCA anywhere; the gateway keeps HTTPS and its certificates; RBAC stays (fail closed)', async () => {
    const world = await zeroTrust();
    for (const id of nodeIds(world)) {
      const res = compileNode(world, id, null);
      assert.ok(!names(res, TypeUrl.Secret).includes('ROOTCA'), id);
      const expected = id === 'edge' ? 3 : 0; // the three HTTPS chains
      assert.equal(sockets(res).length, expected, id);
    }
    const edge = compileNode(world, 'edge', null);
    assert.deepEqual(names(edge, TypeUrl.Secret), ['edge/api.example.com', 'edge/shop.example.com']);
    const l = get(compileNode(world, 'catalog-1', null), TypeUrl.Listener, 'inbound|15011');
    assert.equal(l.filter_chains.length, 1);
    assert.equal(hcmOf(l.filter_chains[0]).http_filters[0].name, 'envoy.filters.http.rbac');
    assert.equal(
      hcmOf(l.filter_chains[0]).http_filters[0].typed_config.rules.policies['rules[0]'].principals[0].authenticated.principal_name.exact,
      'spiffe://zero-trust.test/ns/default/sa/web',
      "the file's trust domain names the principals",
    );
  });

  test('meshes without a trust domain compile exactly as before zero trust (and the same with the default argument)', async () => {
    for (const f of ['demo.yaml', 'minimal.yaml', 'resilience.yaml']) {
      const r = await loadMeshConfig(fixture(f));
      if (!r.ok) assert.fail(r.errors.join('\n'));
      for (const id of [...nodeIds(r.value), 'grpc-client']) {
        const res = compileNode(r.value, id);
        assert.deepEqual(res, compileNode(r.value, id, null));
        assert.deepEqual(res[TypeUrl.Secret], []);
        assert.equal(sockets(res).length, 0, `${f} ${id}`);
        // The committed golden is the byte-for-byte reference (compile-node.test.ts compares it too).
        const golden = await readFile(fixture(`../compile/${f.replace('.yaml', '')}.${id === 'grpc-client' ? 'proxyless' : id}.json`), 'utf8');
        assert.equal(`${JSON.stringify(res, null, 2)}\n`, golden, `${f} ${id}`);
      }
    }
  });

  test('with a CA, an existing mesh gets PERMISSIVE mTLS (the default mode) where every instance has a sidecar', async () => {
    const r = await loadMeshConfig(fixture('demo.yaml'));
    if (!r.ok) assert.fail(r.errors.join('\n'));
    const res = compileNode(r.value, 'users-1', { trustDomain: 'cluster.local', trustBundlePem: CA.trustBundlePem });
    assert.equal(get(res, TypeUrl.Listener, 'inbound|15001').filter_chains.length, 2);
    assert.ok(get(res, TypeUrl.Cluster, 'orders').transport_socket);
    assert.equal(get(res, TypeUrl.Cluster, 'ledger').transport_socket, undefined, 'ledger has no sidecar');
  });

  test('the snapshot refuses a listener or cluster naming a secret the node does not get', async () => {
    const res = compileNode(await zeroTrust(), 'web-1', CA);
    assert.deepEqual(buildChecked(res).errors, []);
    const { snapshot, errors } = buildChecked({ ...res, [TypeUrl.Secret]: [] });
    assert.equal(snapshot, null);
    assert.ok(errors.includes('LDS[inbound|15001].filter_chains[0].transport_socket.typed_config.common_tls_context.combined_validation_context.validation_context_sds_secret_config: secret "ROOTCA" has no Secret resource'), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith('CDS[catalog].transport_socket')));
    assert.ok(!errors.some((e) => e.includes('"default"')), 'the workload secret comes from the sidecar itself');
  });
});
