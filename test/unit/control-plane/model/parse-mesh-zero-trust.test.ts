// Mesh config, zero trust: trust domain, mTLS modes, identities, authorization policies, gateway TLS (certificate
// files), JWT providers, API keys and route auth — values, defaults and every error with its position.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadMeshConfig, parseMeshConfig, referencedFiles } from '../../../../control-plane/model/index.js';
import { createRoot, generateKeyPair, privateKeyPem } from '../../../../src/tls/x509.js';
import { errorsOf, fixture, worldOf } from './fixtures.js';

const BASE = `services:
  - name: web
    protocol: http
    instances: [{ id: web-1, address: 127.0.0.1, port: 9001, sidecar_port: 15001 }]
  - name: api
    protocol: http
    instances: [{ id: api-1, address: 127.0.0.1, port: 9002, sidecar_port: 15002 }]
`;

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A temp dir holding the zero-trust fixture's certificates and JWKS, plus `mesh.yaml` = `yaml`. */
async function meshDir(yaml: string): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'tessera-zt-'));
  dirs.push(d);
  for (const f of ['shop.pem', 'shop-key.pem', 'api.pem', 'api-key.pem', 'jwks.json']) await copyFile(fixture(`zero-trust/${f}`), path.join(d, f));
  await writeFile(path.join(d, 'mesh.yaml'), yaml);
  return d;
}

async function loadErrors(yaml: string): Promise<string[]> {
  const d = await meshDir(yaml);
  const r = await loadMeshConfig(path.join(d, 'mesh.yaml'));
  assert.equal(r.ok, false, 'expected the config to be rejected');
  return r.ok ? [] : r.errors.map((e) => e.replace(`${d}/`, ''));
}

function gateway(tls: string, extra = ''): string {
  return `${BASE}gateways:
  - name: edge
    listen: 127.0.0.1:8443
    tls:
${tls}${extra}    routes: [{ destinations: [{ service: web }] }]
`;
}

describe('mesh config: zero-trust fixture', () => {
  test('every zero-trust field is read into the World, files included', async () => {
    const r = await loadMeshConfig(fixture('zero-trust.yaml'));
    if (!r.ok) assert.fail(r.errors.join('\n'));
    const w = r.value;
    assert.deepEqual([w.mesh.trustDomain, w.mesh.mtls], ['zero-trust.test', 'PERMISSIVE']);
    const catalog = w.services.get('catalog')!;
    assert.deepEqual(catalog.identity, { namespace: 'shop', serviceAccount: 'catalog-sa' });
    assert.equal(catalog.mtls, 'STRICT');
    assert.deepEqual(w.services.get('web')!.identity, { namespace: 'default', serviceAccount: 'web' });
    assert.equal(w.services.get('web')!.mtls, null);
    assert.deepEqual(catalog.authorization, {
      action: 'ALLOW',
      rules: [
        {
          from: [{ kind: 'service', service: 'web' }, { kind: 'gateway', gateway: 'edge' }, { kind: 'namespace', namespace: 'ops' }],
          to: [{ paths: [{ kind: 'prefix', value: '/api/' }, { kind: 'exact', value: '/items' }], methods: ['GET', 'HEAD'], ports: [] }],
        },
        { from: [{ kind: 'principal', principal: 'spiffe://zero-trust.test/ns/ops/sa/admin' }], to: [{ paths: [], methods: ['POST'], ports: [15011] }] },
        { from: [{ kind: 'ip', address: '10.0.0.0', prefixLen: 8 }], to: [{ paths: [{ kind: 'exact', value: '/healthz' }], methods: [], ports: [] }] },
      ],
    });
    assert.deepEqual(w.services.get('ledger')!.authorization, { action: 'ALLOW', rules: [{ from: [{ kind: 'service', service: 'web' }], to: [{ paths: [], methods: [], ports: [15031] }] }] });
    const edge = w.mesh.gateways[0]!;
    assert.deepEqual(edge.identity, { namespace: 'shop', serviceAccount: 'edge' });
    assert.deepEqual(edge.tls!.hosts.map((h) => [h.credential, h.hosts]), [
      ['shop.example.com', ['shop.example.com', 'www.shop.example.com']],
      ['api.example.com', ['api.example.com', '*.example.com']],
    ]);
    assert.equal(edge.tls!.hosts[0]!.certChainPem, await readFile(fixture('zero-trust/shop.pem'), 'utf8'));
    assert.equal(edge.tls!.hosts[1]!.keyPem, await readFile(fixture('zero-trust/api-key.pem'), 'utf8'));
    assert.deepEqual(edge.tls!.httpRedirectListen, { address: '127.0.0.1', port: 8080 });
    assert.deepEqual(edge.tls!.hsts, { maxAgeSeconds: 31_536_000, includeSubdomains: true, preload: false });
    assert.deepEqual(edge.jwtProviders.map((p) => p.name), ['corp', 'partner']);
    const corp = edge.jwtProviders[0]!;
    assert.equal(corp.jwks.kind, 'inline');
    assert.deepEqual(JSON.parse(corp.jwks.kind === 'inline' ? corp.jwks.json : '{}'), JSON.parse(await readFile(fixture('zero-trust/jwks.json'), 'utf8')));
    assert.deepEqual(corp.claimToHeaders, [{ header: 'x-user', claim: 'sub' }, { header: 'x-tenant', claim: 'org.id' }]);
    assert.deepEqual(edge.jwtProviders[1]!.jwks, { kind: 'remote', uri: 'https://partner.example/.well-known/jwks.json', cacheDurationMs: 600_000, timeoutMs: 5000 });
    assert.deepEqual(edge.jwtProviders[1]!.fromHeaders, [{ name: 'x-partner-token', valuePrefix: '' }]);
    assert.deepEqual(edge.apiKeys, {
      consumers: [
        { id: 'acme', keysSha256: ['904fc520be4ca9db80d0ffcc6bf7e01b4148e33d45bb6b422ad2e607815fb508', 'be7df782af8078ebf81424068223c4993133431d522b67c61168fd9152097eb7'], metadata: { plan: 'gold' } },
        { id: 'globex', keysSha256: ['f2a455b59b858a04c51108416af2042203cb6ac35fa4141fba4148bc856e78d4'], metadata: { plan: 'silver' } },
      ],
      header: 'x-api-key',
      query: 'api_key',
      keepCredential: false,
      consumerHeader: 'x-consumer-id',
      forwardMetadata: ['plan'],
    });
    assert.deepEqual(edge.routes.map((r) => r.auth), [
      null,
      { jwt: ['corp', 'partner'], allowMissing: false, apiKey: null },
      { jwt: [], allowMissing: false, apiKey: { allowedConsumers: ['acme'] } },
      { jwt: ['corp'], allowMissing: true, apiKey: { allowedConsumers: [] } },
      null,
    ]);
    const dir = path.dirname(fixture('zero-trust.yaml'));
    assert.deepEqual(w.files, ['api-key.pem', 'api.pem', 'jwks.json', 'shop-key.pem', 'shop.pem'].map((f) => path.join(dir, 'zero-trust', f)));
    assert.deepEqual(referencedFiles(await readFile(fixture('zero-trust.yaml'), 'utf8'), fixture('zero-trust.yaml')), w.files);
  });

  test('defaults: no trust domain, PERMISSIVE, identity default/<name>, no auth; existing fixtures name no files', async () => {
    const w = worldOf(BASE);
    assert.deepEqual([w.mesh.trustDomain, w.mesh.mtls], [null, 'PERMISSIVE']);
    assert.deepEqual(w.services.get('api')!.identity, { namespace: 'default', serviceAccount: 'api' });
    assert.deepEqual([w.services.get('api')!.mtls, w.services.get('api')!.authorization], [null, null]);
    const gw = worldOf(`${BASE}gateways: [{ name: edge, listen: "127.0.0.1:8080", routes: [] }]\n`).mesh.gateways[0]!;
    assert.deepEqual([gw.identity, gw.tls, gw.jwtProviders, gw.apiKeys], [{ namespace: 'default', serviceAccount: 'edge' }, null, [], null]);
    for (const f of ['demo.yaml', 'minimal.yaml', 'resilience.yaml']) {
      const r = await loadMeshConfig(fixture(f));
      assert.ok(r.ok && r.value.files.length === 0 && r.value.mesh.trustDomain === null, f);
    }
  });

  test('api_keys: the header defaults to x-api-key, not when only query is given; keys may be upper-case hex', () => {
    const keys = (k: string): unknown =>
      worldOf(`${BASE}gateways:
  - name: edge
    listen: 127.0.0.1:8443
    api_keys: { ${k} consumers: [{ id: a, keys_sha256: [904FC520BE4CA9DB80D0FFCC6BF7E01B4148E33D45BB6B422AD2E607815FB508] }] }
    routes: [{ destinations: [{ service: web }], auth: { api_key: true } }]
`).mesh.gateways[0]!.apiKeys;
    assert.deepEqual(keys(''), {
      consumers: [{ id: 'a', keysSha256: ['904fc520be4ca9db80d0ffcc6bf7e01b4148e33d45bb6b422ad2e607815fb508'], metadata: {} }],
      header: 'x-api-key',
      query: null,
      keepCredential: false,
      consumerHeader: null,
      forwardMetadata: [],
    });
    assert.deepEqual((keys('query: k,') as { header: unknown; query: unknown }).header, null);
    const metaErrors = (fm: string): string[] =>
      errorsOf(`${BASE}gateways:
  - name: edge
    listen: 127.0.0.1:8443
    api_keys: { forward_metadata: ${fm}, consumer_header: x-consumer-plan, consumers: [{ id: a, keys_sha256: [${'a'.repeat(64)}], metadata: { plan: gold } }] }
    routes: []
`);
    assert.deepEqual(metaErrors('[plna]'), ["mesh.yaml:11:36: gateways[0].api_keys.forward_metadata[0]: no consumer has metadata 'plna' (did you mean 'plan'?)"]);
    assert.deepEqual(metaErrors('[plan]'), ['mesh.yaml:11:36: gateways[0].api_keys.forward_metadata[0]: is sent upstream as x-consumer-plan, which consumer_header also uses']);
  });
});

describe('mesh config: zero-trust errors name file, line, column and field', () => {
  test('mesh: trust domain, mtls mode, unknown key', () => {
    assert.deepEqual(errorsOf(`mesh: { name: m, trust_domain: Bad_TD, mtls: STRICTT, color: x }\n${BASE}`), [
      "mesh.yaml:1:32: mesh.trust_domain: must be a trust domain (lower-case letters, digits, '.', '_' and '-'), got 'Bad_TD'",
      "mesh.yaml:1:46: mesh.mtls: must be one of STRICT, PERMISSIVE, DISABLE (did you mean 'STRICT'?)",
      'mesh.yaml:1:55: mesh.color: unknown key (expected one of name, trust_domain, mtls)',
    ]);
  });

  test('the trust domain must match the running CA', () => {
    const text = `mesh: { trust_domain: other.test }\n${BASE}`;
    const bad = parseMeshConfig(text, 'mesh.yaml', { trustDomain: 'mesh.test' });
    assert.deepEqual(bad.ok ? [] : bad.errors, [
      "mesh.yaml:1:23: mesh.trust_domain: is 'other.test' but the control plane's CA serves trust domain 'mesh.test' (--trust-domain, or the file's value at start); restart it to change the trust domain",
    ]);
    const none = parseMeshConfig(text, 'mesh.yaml', { trustDomain: null });
    assert.match(none.ok ? '' : none.errors[0]!, /^mesh\.yaml:1:23: mesh\.trust_domain: 'other\.test' needs the mesh CA, and this control plane started without one/);
    assert.ok(parseMeshConfig(text, 'mesh.yaml', { trustDomain: 'other.test' }).ok);
    assert.ok(parseMeshConfig(BASE, 'mesh.yaml', { trustDomain: 'mesh.test' }).ok, 'a file without trust_domain takes the CA one');
  });

  test('identity and service mtls', () => {
    assert.deepEqual(errorsOf(`${BASE}    identity: { namespace: "a/b", service_acount: x }\n    mtls: strict\n`), [
      "mesh.yaml:8:28: services[1].identity.namespace: must match [A-Za-z0-9._-]+ (a SPIFFE ID path segment), got 'a/b'",
      "mesh.yaml:8:35: services[1].identity.service_acount: unknown key (did you mean 'service_account'?)",
      "mesh.yaml:9:11: services[1].mtls: must be one of STRICT, PERMISSIVE, DISABLE (did you mean 'STRICT'?)",
    ]);
  });

  test('STRICT needs a sidecar on every instance (the mesh default spares services without any sidecar)', () => {
    assert.deepEqual(
      errorsOf(`mesh: { mtls: STRICT }
services:
  - name: a
    protocol: http
    instances: [{ id: a-1, address: 127.0.0.1, port: 9001, sidecar_port: 15001 }, { id: a-2, address: 127.0.0.2, port: 9001 }]
  - name: b
    protocol: http
    instances: [{ id: b-1, address: 127.0.0.1, port: 9002 }]
  - name: c
    protocol: http
    mtls: STRICT
    instances: [{ id: c-1, address: 127.0.0.1, port: 9003 }]
`),
      [
        'mesh.yaml:3:5: services[0]: mtls is STRICT (the mesh default) but a-2 has no sidecar_port: callers would reach it without TLS (give every instance a sidecar_port, or set mtls: PERMISSIVE on this service)',
        'mesh.yaml:11:11: services[2].mtls: mtls is STRICT but c-1 has no sidecar_port: callers would reach it without TLS (give every instance a sidecar_port, or set mtls: PERMISSIVE on this service)',
      ],
    );
  });

  test('authorization: every kind of bad source and operation, with suggestions', () => {
    assert.deepEqual(
      errorsOf(`${BASE}    authorization:
      action: ALLOWW
      rules:
        - from: [{ service: wbe }, { service: web, namespace: x }, {}, { ip: 10.0.0.0/33 }, { principal: "http://x" }, { gateway: edj }]
          to: [{ paths: [api/*, /a*b], methods: [get], ports: [15003] }, {}]
        - from: []
`),
      [
        "mesh.yaml:9:15: services[1].authorization.action: must be one of ALLOW, DENY (did you mean 'ALLOW'?)",
        "mesh.yaml:11:29: services[1].authorization.rules[0].from[0].service: unknown service 'wbe' (did you mean 'web'?)",
        'mesh.yaml:11:36: services[1].authorization.rules[0].from[1]: has service and namespace; use one per entry (entries are alternatives)',
        'mesh.yaml:11:68: services[1].authorization.rules[0].from[2]: needs one of service, gateway, principal, namespace, ip',
        "mesh.yaml:11:78: services[1].authorization.rules[0].from[3].ip: must be an IP address or CIDR range like 10.0.0.0/8, got '10.0.0.0/33'",
        'mesh.yaml:11:106: services[1].authorization.rules[0].from[4].principal: "http://x" is not a SPIFFE ID (scheme must be spiffe://)',
        "mesh.yaml:11:131: services[1].authorization.rules[0].from[5].gateway: unknown gateway 'edj'",
        "mesh.yaml:12:26: services[1].authorization.rules[0].to[0].paths[0]: must start with '/'",
        "mesh.yaml:12:33: services[1].authorization.rules[0].to[0].paths[1]: '*' is only allowed as a last '/*' segment (a prefix match), got '/a*b'",
        "mesh.yaml:12:50: services[1].authorization.rules[0].to[0].methods[0]: must match an upper-case HTTP method, got 'get'",
        "mesh.yaml:12:64: services[1].authorization.rules[0].to[0].ports[0]: no instance of 'api' has sidecar_port 15003 (ports are the sidecars' inbound ports)",
        'mesh.yaml:12:74: services[1].authorization.rules[0].to[1]: needs at least one of paths, methods, ports',
        'mesh.yaml:13:17: services[1].authorization.rules[1].from: must list at least one source (leave the key out to match any)',
      ],
    );
  });

  test('authorization: a service may name services declared later and gateways; unknown ones list the declared names', () => {
    const w = worldOf(`services:
  - name: api
    protocol: http
    instances: [{ id: api-1, address: 127.0.0.1, port: 9002, sidecar_port: 15002 }]
    authorization: { rules: [{ from: [{ service: web }, { gateway: edge }] }] }
  - name: web
    protocol: http
    instances: []
gateways: [{ name: edge, listen: "127.0.0.1:8080", routes: [] }]
`);
    assert.deepEqual(w.services.get('api')!.authorization!.rules[0]!.from, [{ kind: 'service', service: 'web' }, { kind: 'gateway', gateway: 'edge' }]);
    assert.deepEqual(errorsOf(`${BASE}    authorization: { rules: [{ from: [{ service: zzz }] }] }\n`), [
      "mesh.yaml:8:50: services[1].authorization.rules[0].from[0].service: unknown service 'zzz' (declared: api, web)",
    ]);
  });

  test('authorization by identity needs mTLS to the service; by IP it does not', () => {
    assert.deepEqual(errorsOf(`${BASE}    mtls: DISABLE\n    authorization:\n      rules:\n        - from: [{ service: web }, { ip: 10.0.0.0/8 }]\n`), [
      "mesh.yaml:11:29: services[1].authorization.rules[0].from[0].service: needs mTLS to 'api', whose mtls is DISABLE (services[1].mtls): callers' identities are only known over mTLS",
    ]);
    const viaMesh = errorsOf(`mesh: { mtls: DISABLE }\n${BASE}    authorization: { rules: [{ from: [{ namespace: ops }] }] }\n`);
    assert.match(viaMesh[0]!, /from\[0\]\.namespace: needs mTLS to 'api', whose mtls is DISABLE \(the mesh default\)/);
    const ok = worldOf(`${BASE}    mtls: DISABLE\n    authorization: { action: DENY, rules: [{ from: [{ ip: "::1" }] }] }\n`);
    assert.deepEqual(ok.services.get('api')!.authorization, { action: 'DENY', rules: [{ from: [{ kind: 'ip', address: '::1', prefixLen: 128 }], to: [] }] });
  });

  test('authorization on tcp services: ports only, and every instance needs a sidecar', () => {
    assert.deepEqual(
      errorsOf(`services:
  - name: db
    protocol: tcp
    instances: [{ id: db-1, address: 127.0.0.1, port: 5432, sidecar_port: 15432 }, { id: db-2, address: 127.0.0.2, port: 5432 }]
    authorization:
      rules:
        - to: [{ paths: [/x], ports: [15432] }]
`),
      [
        "mesh.yaml:6:7: services[0].authorization: needs a sidecar_port on every instance of 'db' (db-2 has none: its callers reach the app directly, past any policy)",
        "mesh.yaml:7:25: services[0].authorization.rules[0].to[0].paths: 'db' is a tcp service: only ports apply (paths need HTTP)",
      ],
    );
  });

  test('gateway tls, jwt_providers, api_keys and route auth', () => {
    assert.deepEqual(
      errorsOf(`${BASE}gateways:
  - name: edge
    listen: 127.0.0.1:8443
    tls:
      hosts:
        - hosts: [Shop.Example.com, "bad host"]
          cert_file: certs/shop.pem
          key_file: certs/shop-key.pem
        - hosts: [shop.example.com]
      hsts: { max_age: 1w, preload: true }
    jwt_providers:
      corp: { issuer: x, jwks_uri: "http://idp.example/jwks", jwks: "{}" }
      "bad name": { jwks: { keys: [] } }
      other: { jwks_uri: "https://idp.example/jwks", forward_payload_header: host, claim_to_headers: { "x-a": "a..b" } }
    api_keys:
      consumers:
        - { id: a, keys_sha256: [e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855], metadata: { plan: gold, consumer_id: x } }
        - { id: a, keys_sha256: [abc] }
    routes:
      - match: { prefix: /a }
        destinations: [{ service: web }]
        auth: { jwt: [crop], api_key: { allowed_consumers: [b] } }
      - match: { prefix: /b }
        direct_response: { status: 200 }
        auth: { allow_missing: true }
routes:
  - service: api
    rules:
      - destinations: [{ service: api }]
        auth: { jwt: [corp] }
`),
      [
        "mesh.yaml:13:37: gateways[0].tls.hosts[0].hosts[1]: must be a host name (a leading '*.' wildcard is allowed), got 'bad host'",
        'mesh.yaml:14:22: gateways[0].tls.hosts[0].cert_file: cannot read certs/shop.pem: not loaded (files named by the config are read by loadMeshConfig)',
        'mesh.yaml:15:21: gateways[0].tls.hosts[0].key_file: cannot read certs/shop-key.pem: not loaded (files named by the config are read by loadMeshConfig)',
        'mesh.yaml:16:11: gateways[0].tls.hosts[1].cert_file: is required',
        'mesh.yaml:16:11: gateways[0].tls.hosts[1].key_file: is required',
        "mesh.yaml:16:19: gateways[0].tls.hosts[1].hosts[0]: 'shop.example.com' is already served by gateways[0].tls.hosts[0]",
        'mesh.yaml:17:24: gateways[0].tls.hsts.max_age: must be whole seconds or a duration like 180d or 1y (s, m, h, d, y)',
        'mesh.yaml:17:37: gateways[0].tls.hsts.preload: needs include_subdomains: true and max_age of at least 1y (the preload list refuses less)',
        'mesh.yaml:19:13: gateways[0].jwt_providers.corp: has jwks_uri and jwks; use exactly one',
        'mesh.yaml:20:7: gateways[0].jwt_providers.bad name: provider names must match [A-Za-z0-9._-]+',
        "mesh.yaml:21:78: gateways[0].jwt_providers.other.forward_payload_header: 'host' cannot be set (not a header name, or host)",
        "mesh.yaml:21:111: gateways[0].jwt_providers.other.claim_to_headers.x-a: must match a claim name (a.b for nested claims), got 'a..b'",
        'mesh.yaml:24:34: gateways[0].api_keys.consumers[0].keys_sha256[0]: is the SHA-256 of the empty key',
        "mesh.yaml:24:125: gateways[0].api_keys.consumers[0].metadata.consumer_id: 'consumer_id' is reserved (the API-key filter sets it)",
        "mesh.yaml:25:17: gateways[0].api_keys.consumers[1].id: consumer 'a' is listed twice",
        "mesh.yaml:25:34: gateways[0].api_keys.consumers[1].keys_sha256[0]: must match 64 hex digits (the SHA-256 of the key), got 'abc'",
        "mesh.yaml:29:23: gateways[0].routes[0].auth.jwt[0]: unknown JWT provider 'crop' (did you mean 'corp'?)",
        "mesh.yaml:29:61: gateways[0].routes[0].auth.api_key.allowed_consumers[0]: unknown consumer 'b' (did you mean 'a'?)",
        'mesh.yaml:32:15: gateways[0].routes[1].auth: needs jwt or api_key (leave auth out for an open route)',
        'mesh.yaml:37:15: routes[0].rules[0].auth: end-user authentication applies to gateway routes only (mesh callers are authorized with services[].authorization)',
      ],
    );
  });

  test('route auth on a gateway without providers or keys; JWKS over plain http; key limits; metadata names', () => {
    assert.deepEqual(errorsOf(`${BASE}gateways:\n  - name: edge\n    listen: 127.0.0.1:8443\n    routes:\n      - destinations: [{ service: web }]\n        auth: { jwt: [corp], api_key: true }\n`), [
      'mesh.yaml:13:23: gateways[0].routes[0].auth.jwt[0]: gateways[0] has no jwt_providers',
      'mesh.yaml:13:39: gateways[0].routes[0].auth.api_key: gateways[0] has no api_keys',
    ]);
    const k1 = '904fc520be4ca9db80d0ffcc6bf7e01b4148e33d45bb6b422ad2e607815fb508';
    const k2 = 'be7df782af8078ebf81424068223c4993133431d522b67c61168fd9152097eb7';
    const k3 = 'f2a455b59b858a04c51108416af2042203cb6ac35fa4141fba4148bc856e78d4';
    assert.deepEqual(
      errorsOf(`${BASE}gateways:
  - name: edge
    listen: 127.0.0.1:8443
    jwt_providers:
      corp: { jwks_uri: "http://idp.example/jwks" }
      local: { jwks_uri: "http://127.0.0.1:9999/jwks" }
      bad: { jwks: { keys: [{ kty: RSA, n: AQAB, e: AQAB }] } }
    api_keys:
      header: x-key
      consumer_header: x-key
      forward_metadata: [id]
      consumers:
        - { id: a, keys_sha256: [${k1}, ${k2}, ${k3}], metadata: { plan: gold, id: "1" } }
        - { id: b, keys_sha256: [${k1}] }
    routes: []
`),
      [
        'mesh.yaml:12:25: gateways[0].jwt_providers.corp.jwks_uri: must use https (keys fetched over plain http could be swapped in transit); http is allowed for loopback only',
        'mesh.yaml:14:20: gateways[0].jwt_providers.bad.jwks: keys[0]: RSA modulus shorter than 2048 bits',
        "mesh.yaml:17:24: gateways[0].api_keys.consumer_header: 'x-key' is both where the key is read and where the consumer id is sent",
        'mesh.yaml:20:33: gateways[0].api_keys.consumers[0].keys_sha256: at most 2 keys per consumer (the current one and the next, for rotation)',
        "mesh.yaml:21:34: gateways[0].api_keys.consumers[1].keys_sha256[0]: the same key digest is already a's",
      ],
    );
  });

  test('certificate files: read relative to the mesh file, checked against each other and the host names', async () => {
    const group = (cert: string, key: string, hosts = '[shop.example.com]'): string =>
      `      hosts:\n        - hosts: ${hosts}\n          cert_file: ${cert}\n          key_file: ${key}\n`;
    assert.deepEqual(await loadErrors(gateway(group('missing.pem', 'shop-key.pem'))), [
      'mesh.yaml:14:22: gateways[0].tls.hosts[0].cert_file: cannot read missing.pem: ENOENT',
    ]);
    assert.deepEqual(await loadErrors(gateway(group('shop.pem', 'api-key.pem'))), [
      'mesh.yaml:15:21: gateways[0].tls.hosts[0].key_file: is not the key of the certificate in cert_file',
    ]);
    assert.deepEqual(await loadErrors(gateway(group('shop.pem', 'shop-key.pem', '[shop.example.com, api.example.com, "*.shop.example.com"]'))), [
      "mesh.yaml:13:37: gateways[0].tls.hosts[0].hosts[1]: the certificate in cert_file does not cover 'api.example.com' (it names DNS:shop.example.com, DNS:www.shop.example.com)",
      "mesh.yaml:13:54: gateways[0].tls.hosts[0].hosts[2]: the certificate in cert_file does not cover '*.shop.example.com' (it names DNS:shop.example.com, DNS:www.shop.example.com)",
    ]);
    const notPem = await loadErrors(gateway(group('jwks.json', 'jwks.json')));
    assert.deepEqual(notPem.map((e) => e.replace(/PKCS#1\): .*/, 'PKCS#1): …')), [
      'mesh.yaml:14:22: gateways[0].tls.hosts[0].cert_file: holds no PEM CERTIFICATE block',
      'mesh.yaml:15:21: gateways[0].tls.hosts[0].key_file: is not a PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1): …',
    ]);
    // An expired certificate with its key.
    const keys = await generateKeyPair();
    const d = await meshDir(gateway(group('old.pem', 'old-key.pem', '[old.example.com]')));
    await writeFile(path.join(d, 'old.pem'), await createRoot('old.example.com', -1, keys));
    await writeFile(path.join(d, 'old-key.pem'), await privateKeyPem(keys.privateKey));
    const r = await loadMeshConfig(path.join(d, 'mesh.yaml'));
    assert.match(r.ok ? '' : r.errors[0]!, /mesh\.yaml:14:22: gateways\[0\]\.tls\.hosts\[0\]\.cert_file: the certificate expired on \d{4}-/);
    // JWKS from a file: the same checks as inline keys.
    const jwksErrors = await loadErrors(`${BASE}gateways:\n  - name: edge\n    listen: 127.0.0.1:8443\n    jwt_providers: { corp: { jwks_file: shop.pem } }\n    routes: []\n`);
    assert.match(jwksErrors[0]!, /^mesh\.yaml:11:41: gateways\[0\]\.jwt_providers\.corp\.jwks_file: invalid JSON: /);
  });

  test('the http redirect listener counts as a bound port', async () => {
    const d = await meshDir(
      gateway('      hosts: [{ hosts: [shop.example.com], cert_file: shop.pem, key_file: shop-key.pem }]\n      http_redirect_listen: 127.0.0.1:9001\n'),
    );
    const r = await loadMeshConfig(path.join(d, 'mesh.yaml'));
    assert.deepEqual(r.ok ? [] : r.errors.map((e) => e.replace(`${d}/`, '')), [
      'mesh.yaml:13:29: gateways[0].tls.http_redirect_listen: port 9001 on 127.0.0.1 is bound twice: gateway edge (http redirect) and app of web-1 (services[0].instances[0].port)',
    ]);
  });
});
