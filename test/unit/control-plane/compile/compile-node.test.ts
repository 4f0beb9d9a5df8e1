import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadMeshConfig, parseMeshConfig, type World } from '../../../../control-plane/model/index.js';
import { compileNode, nodeIds, type CaView, type NodeResources } from '../../../../control-plane/compile/index.js';
import { decodeMessage, encodeMessage } from '../../../../src/xds/protos.js';
import { TypeUrl, XDS_ORDER } from '../../../../src/xds/type-urls.js';
import { validateCluster, validateClusterLoadAssignment, validateListener, validateRouteConfiguration, validateSecret } from '../../../../src/xds/resources/index.js';

// Golden files: test/fixtures/compile/<fixture>.<node>.json; `UPDATE_GOLDEN=1` rewrites them.
const FIXTURES = new URL('../../../../../test/fixtures/', import.meta.url);
const MESH_DIR = fileURLToPath(new URL('mesh/', FIXTURES));
const GOLDEN_DIR = fileURLToPath(new URL('compile/', FIXTURES));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
/** The node id used for the proxyless golden file (any id the mesh does not name). */
const PROXYLESS_ID = 'grpc-client';

async function meshFixtures(): Promise<string[]> {
  return (await readdir(MESH_DIR)).filter((f) => f.endsWith('.yaml') && !f.startsWith('invalid')).sort();
}

async function loadFixture(file: string): Promise<World> {
  const r = await loadMeshConfig(`${MESH_DIR}${file}`);
  if (!r.ok) assert.fail(r.errors.join('\n'));
  return r.value;
}

/**
 * The CA a fixture is compiled against: a mesh that names its trust domain opts in (bundle: <stem>/root-ca.pem);
 * the others are compiled without a CA, which must leave their output exactly as before zero trust.
 */
async function caFor(world: World, file: string): Promise<CaView | null> {
  const td = world.mesh.trustDomain;
  if (td === null) return null;
  return { trustDomain: td, trustBundlePem: await readFile(`${MESH_DIR}${file.replace(/\.yaml$/, '')}/root-ca.pem`, 'utf8') };
}

function goldenTargets(world: World): Array<{ label: string; nodeId: string }> {
  return [...nodeIds(world).map((id) => ({ label: id, nodeId: id })), { label: 'proxyless', nodeId: PROXYLESS_ID }];
}

function names(res: NodeResources, url: keyof NodeResources): string[] {
  return res[url].map((r) => r.name);
}

describe('compileNode: golden files', async () => {
  const fixtures = await meshFixtures();
  if (UPDATE) await mkdir(GOLDEN_DIR, { recursive: true });
  const expectedFiles: string[] = [];
  for (const file of fixtures) {
    const world = await loadFixture(file);
    const ca = await caFor(world, file);
    const stem = file.replace(/\.yaml$/, '');
    for (const { label, nodeId } of goldenTargets(world)) {
      const golden = `${stem}.${label}.json`;
      expectedFiles.push(golden);
      test(`${file} → ${label}`, async () => {
        const actual = `${JSON.stringify(compileNode(world, nodeId, ca), null, 2)}\n`;
        if (UPDATE) await writeFile(`${GOLDEN_DIR}${golden}`, actual);
        const expected = await readFile(`${GOLDEN_DIR}${golden}`, 'utf8');
        assert.deepEqual(JSON.parse(actual), JSON.parse(expected));
      });
    }
  }
  test('no stale golden files', async () => {
    const present = (await readdir(GOLDEN_DIR)).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual(present, expectedFiles.sort());
  });
});

describe('compileNode: every resource is a valid Envoy v3 message', async () => {
  for (const file of await meshFixtures()) {
    test(`${file}: encodes (no unknown keys), decodes back and re-encodes to the same bytes`, async () => {
      const world = await loadFixture(file);
      const ca = await caFor(world, file);
      let count = 0;
      for (const { nodeId } of goldenTargets(world)) {
        const res = compileNode(world, nodeId, ca);
        assert.deepEqual(Object.keys(res).sort(), [...XDS_ORDER].sort());
        for (const url of XDS_ORDER) {
          const list = res[url];
          assert.deepEqual(list.map((r) => r.name), [...list.map((r) => r.name)].sort(), `${nodeId} ${url} sorted`);
          for (const { name, resource } of list) {
            const bytes = encodeMessage(url, resource);
            const decoded = decodeMessage(url, bytes);
            assert.equal(decoded.name ?? decoded.cluster_name, name);
            assert.ok(encodeMessage(url, decoded).equals(bytes), `${nodeId} ${name} round trip`);
            count++;
          }
        }
      }
      assert.ok(count > 0);
    });
  }

  test('encodeMessage really rejects an unknown key (the check above can fail)', async () => {
    const world = await loadFixture('demo.yaml');
    const cluster = compileNode(world, 'users-1')[TypeUrl.Cluster][0]!.resource;
    assert.throws(() => encodeMessage(TypeUrl.Cluster, { ...cluster, lb_polcy: 'ROUND_ROBIN' }), /unknown field/);
  });
});

describe("compileNode: sidecar and gateway resources pass Tessera's own xDS validators (what the sidecar NACKs)", async () => {
  for (const file of await meshFixtures()) {
    test(file, async () => {
      const world = await loadFixture(file);
      const ca = await caFor(world, file);
      const validators: Record<string, (raw: Record<string, unknown>) => { ok: boolean; errors?: string[] }> = {
        [TypeUrl.Listener]: validateListener,
        [TypeUrl.RouteConfiguration]: validateRouteConfiguration,
        [TypeUrl.Cluster]: validateCluster,
        [TypeUrl.ClusterLoadAssignment]: validateClusterLoadAssignment,
        [TypeUrl.Secret]: validateSecret,
      };
      let checked = 0;
      const rejected: string[] = [];
      for (const id of nodeIds(world)) {
        const res = compileNode(world, id, ca);
        for (const [url, validate] of Object.entries(validators)) {
          for (const { name, resource } of res[url as keyof NodeResources]) {
            const out = validate(decodeMessage(url, encodeMessage(url, resource)));
            if (!out.ok) rejected.push(`${id} ${name}: ${(out.errors ?? []).join('; ')}`);
            checked++;
          }
        }
      }
      assert.deepEqual(rejected, []);
      assert.ok(checked > 0);
    });
  }
});

describe('compileNode: proxyless resources pass grpc-js-xds validation', () => {
  test('Listener, RouteConfiguration, Cluster and ClusterLoadAssignment decode without error (demo and resilience)', async () => {
    const xds = await import('@grpc/grpc-js-xds');
    xds.register(); // registers the router filter the Listener validation looks up
    const base = '@grpc/grpc-js-xds/build/src/xds-resource-type/';
    const { ListenerResourceType } = await import(`${base}listener-resource-type.js`);
    const { RouteConfigurationResourceType } = await import(`${base}route-config-resource-type.js`);
    const { ClusterResourceType } = await import(`${base}cluster-resource-type.js`);
    const { EndpointResourceType } = await import(`${base}endpoint-resource-type.js`);
    type Decoder = { get(): { decode(ctx: unknown, any: { type_url: string; value: Buffer }): { name: string; error?: string } } };
    const decoders: Array<[string, Decoder]> = [
      [TypeUrl.Listener, ListenerResourceType],
      [TypeUrl.RouteConfiguration, RouteConfigurationResourceType],
      [TypeUrl.Cluster, ClusterResourceType],
      [TypeUrl.ClusterLoadAssignment, EndpointResourceType],
    ];
    const ctx = { server: {}, bootstrap: { certificateProviders: {} } };
    // demo.yaml: 12 resources; resilience.yaml (ring hash, outlier detection, circuit breakers, retries,
    // max_stream_duration, fault filter + per-route overrides): 4 listeners, 4 routes, 6 clusters, 6 endpoints.
    for (const [file, expected] of [['demo.yaml', 12], ['resilience.yaml', 20]] as const) {
      const world = await loadFixture(file);
      const res = compileNode(world, PROXYLESS_ID);
      let checked = 0;
      for (const [url, decoder] of decoders) {
        for (const { name, resource } of res[url as keyof NodeResources]) {
          const out = decoder.get().decode(ctx, { type_url: url, value: encodeMessage(url, resource) });
          assert.equal(out.error, undefined, `${file} ${name}: ${out.error}`);
          assert.equal(out.name, name);
          checked++;
        }
      }
      assert.equal(checked, expected, file);
    }
  });
});

describe('compileNode: translation details', () => {
  test('sidecar: resource names follow the naming scheme', async () => {
    const world = await loadFixture('demo.yaml');
    const res = compileNode(world, 'users-1');
    assert.deepEqual(names(res, TypeUrl.Listener), ['inbound|15001', 'outbound|15101|orders', 'outbound|15102|ledger']);
    assert.deepEqual(names(res, TypeUrl.RouteConfiguration), ['inbound|users', 'outbound|orders']);
    assert.deepEqual(names(res, TypeUrl.Cluster), ['inbound|users', 'ledger', 'orders', 'orders|version=v1', 'orders|version=v2']);
    assert.deepEqual(names(res, TypeUrl.ClusterLoadAssignment), ['ledger', 'orders', 'orders|version=v1', 'orders|version=v2']);
    assert.deepEqual(res[TypeUrl.Secret], [], 'no CA, no gateway certificates: no secrets');
  });

  test('mesh endpoints are sidecar ports; proxyless endpoints are app ports; subsets filter by labels', async () => {
    const world = await loadFixture('demo.yaml');
    const ports = (res: NodeResources, cluster: string): number[] => {
      const cla = res[TypeUrl.ClusterLoadAssignment].find((r) => r.name === cluster)!.resource as {
        endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }> }>;
      };
      return cla.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.port_value));
    };
    const mesh = compileNode(world, 'users-1');
    assert.deepEqual(ports(mesh, 'orders'), [15011, 15012]);
    assert.deepEqual(ports(mesh, 'orders|version=v2'), [15012]);
    assert.deepEqual(ports(mesh, 'ledger'), [9021]); // no sidecar_port: straight to the app
    const direct = compileNode(world, 'someone-else');
    assert.deepEqual(ports(direct, 'orders'), [9011, 9012]);
    assert.deepEqual(ports(direct, 'orders|version=v1'), [9011]);
  });

  test('subset cluster names sort label keys', () => {
    const r = parseMeshConfig(
      `services:
  - name: a
    protocol: http
    instances: [{ id: a-1, address: 127.0.0.1, port: 9001, labels: { zone: z1, app: x } }]
gateways:
  - name: gw
    listen: 127.0.0.1:8080
    routes: [{ destinations: [{ service: a, subset: { zone: z1, app: x } }] }]
`,
      'm.yaml',
    );
    if (!r.ok) assert.fail(r.errors.join('\n'));
    const res = compileNode(r.value, 'gw');
    assert.deepEqual(names(res, TypeUrl.Cluster), ['a|app=x,zone=z1']);
    const rc = res[TypeUrl.RouteConfiguration][0]!.resource as { virtual_hosts: Array<{ routes: Array<{ route: { cluster: string } }> }> };
    assert.equal(rc.virtual_hosts[0]!.routes[0]!.route.cluster, 'a|app=x,zone=z1');
  });

  test('proxyless: no redirect/direct_response routes (grpc-js-xds rejects them), ends with the default route', async () => {
    const world = await loadFixture('demo.yaml');
    const rc = compileNode(world, PROXYLESS_ID)[TypeUrl.RouteConfiguration].find((r) => r.name === 'orders')!.resource as {
      virtual_hosts: Array<{ routes: Array<Record<string, unknown>> }>;
    };
    const routes = rc.virtual_hosts[0]!.routes;
    assert.ok(routes.every((r) => 'route' in r));
    assert.equal(routes.length, 3);
    assert.deepEqual(routes.at(-1), { name: 'default', match: { prefix: '/' }, route: { cluster: 'orders', timeout: { seconds: 15, nanos: 0 } } });
  });

  test('pure and deterministic: same input, same output; the World is not modified', async () => {
    const world = await loadFixture('demo.yaml');
    for (const id of [...nodeIds(world), PROXYLESS_ID]) {
      assert.deepEqual(compileNode(world, id), compileNode(world, id));
    }
    assert.deepEqual(nodeIds(world), ['edge', 'ledger-1', 'orders-1', 'orders-2', 'users-1']);
  });
});
