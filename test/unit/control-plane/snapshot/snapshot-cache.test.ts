import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConsistency } from '../../../../control-plane/snapshot/consistency.js';
import { type NodeResources, Snapshot } from '../../../../control-plane/snapshot/snapshot.js';
import { SnapshotCache } from '../../../../control-plane/snapshot/snapshot-cache.js';
import { unpackAny } from '../../../../src/xds/protos.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import {
  apiListener,
  edsCluster,
  loadAssignment,
  routeConfig,
  socketListener,
} from '../../../helpers/ads-test-client.js';

function mesh(port = 8080): NodeResources {
  return {
    [TypeUrl.Cluster]: [{ name: 'web', resource: edsCluster('web') }],
    [TypeUrl.ClusterLoadAssignment]: [{ name: 'web', resource: loadAssignment('web', [['127.0.0.1', port]]) }],
    [TypeUrl.Listener]: [
      { name: 'web', resource: apiListener('web', 'web-route') },
      { name: 'out', resource: socketListener('out', 15001, 'web-route') },
    ],
    [TypeUrl.RouteConfiguration]: [{ name: 'web-route', resource: routeConfig('web-route', 'web') }],
  };
}

function build(r: NodeResources): Snapshot {
  const s = Snapshot.build(r);
  assert.ok(s.ok, s.ok ? '' : s.errors.join('\n'));
  return s.value;
}

describe('Snapshot', () => {
  it('encodes every resource with per-type and per-resource versions', () => {
    const s = build(mesh());
    assert.deepEqual(s.typeUrls(), [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration]);
    const web = s.resources(TypeUrl.Cluster).get('web')!;
    assert.equal(web.any.type_url, TypeUrl.Cluster);
    assert.equal(unpackAny(web.any).name, 'web');
    assert.match(web.version, /^[0-9a-f]{16}$/);
    assert.deepEqual([...s.resources(TypeUrl.Listener).keys()], ['out', 'web']);
    assert.equal(s.resources(TypeUrl.Secret).size, 0);
  });

  it('versions depend only on content: same input, same versions; a change moves only its type', () => {
    const a = build(mesh(8080));
    const b = build(mesh(8080));
    const c = build(mesh(9090));
    assert.ok(a.sameAs(b));
    assert.ok(!a.sameAs(c));
    assert.equal(a.version(TypeUrl.Cluster), c.version(TypeUrl.Cluster));
    assert.equal(a.version(TypeUrl.Listener), c.version(TypeUrl.Listener));
    assert.notEqual(a.version(TypeUrl.ClusterLoadAssignment), c.version(TypeUrl.ClusterLoadAssignment));
    assert.notEqual(
      a.resources(TypeUrl.ClusterLoadAssignment).get('web')!.version,
      c.resources(TypeUrl.ClusterLoadAssignment).get('web')!.version,
    );
  });

  it('reports unknown fields and duplicate names, naming the type and resource', () => {
    const r = Snapshot.build({
      [TypeUrl.Cluster]: [
        { name: 'a', resource: { name: 'a', lb_polcy: 'ROUND_ROBIN' } },
        { name: 'b', resource: { name: 'b' } },
        { name: 'b', resource: { name: 'b' } },
      ],
    });
    assert.equal(r.ok, false);
    const errors = r.ok ? [] : r.errors;
    assert.equal(errors.length, 2);
    assert.match(errors[0]!, /^CDS\[a\]: .*lb_polcy/);
    assert.match(errors[1]!, /^CDS\[b\]: duplicate/);
  });
});

describe('checkConsistency', () => {
  it('accepts a complete snapshot', () => {
    assert.deepEqual(checkConsistency(build(mesh())), []);
  });

  it('rejects missing RDS names (api_listener and filter chains) and EDS clusters without assignments', () => {
    const r = mesh();
    r[TypeUrl.RouteConfiguration] = [];
    r[TypeUrl.Cluster] = [
      { name: 'web', resource: edsCluster('web') },
      { name: 'svc', resource: edsCluster('svc', 'svc-eds') },
      { name: 'static', resource: { name: 'static', type: 'STATIC', connect_timeout: { seconds: 1 } } },
    ];
    const errors = checkConsistency(build(r));
    assert.deepEqual(errors, [
      'LDS[out].filter_chains[0].filters[0]: route_config_name "web-route" has no RouteConfiguration',
      'LDS[web].api_listener: route_config_name "web-route" has no RouteConfiguration',
      'CDS[svc].eds_cluster_config: service "svc-eds" has no ClusterLoadAssignment',
    ]);
  });
});

describe('SnapshotCache', () => {
  it('stores a valid snapshot and notifies node and global listeners', () => {
    const cache = new SnapshotCache();
    const seen: Array<string | null> = [];
    const all: Array<string | null> = [];
    const off = cache.onChange('n1', (id) => seen.push(id));
    cache.onChange(null, (id) => all.push(id));
    assert.deepEqual(cache.set('n1', mesh()), []);
    assert.ok(cache.get('n1'));
    assert.equal(cache.get('n2'), null);
    cache.set('n2', mesh());
    assert.deepEqual(seen, ['n1']);
    assert.deepEqual(all, ['n1', 'n2']);
    cache.set('n1', mesh()); // identical: no notification
    assert.deepEqual(seen, ['n1']);
    off();
    cache.set('n1', mesh(1));
    assert.deepEqual(seen, ['n1']);
    assert.deepEqual(cache.nodeIds(), ['n1', 'n2']);
  });

  it('does not store a snapshot with errors, and keeps the previous one', () => {
    const cache = new SnapshotCache();
    cache.set('n1', mesh());
    const before = cache.get('n1');
    let calls = 0;
    cache.onChange('n1', () => calls++);
    const bad = mesh();
    bad[TypeUrl.ClusterLoadAssignment] = [];
    const errors = cache.set('n1', bad);
    assert.equal(errors.length, 1);
    assert.equal(cache.get('n1'), before);
    assert.equal(calls, 0);
  });

  it('serves the fallback to nodes without their own snapshot and notifies only those', () => {
    const cache = new SnapshotCache();
    cache.set('own', mesh(1));
    const calls: string[] = [];
    cache.onChange('own', () => calls.push('own'));
    cache.onChange('proxyless', () => calls.push('proxyless'));
    assert.deepEqual(cache.setFallback(mesh(2)), []);
    assert.deepEqual(calls, ['proxyless']);
    assert.equal(cache.get('proxyless'), cache.fallback());
    assert.notEqual(cache.get('own'), cache.fallback());
    cache.clear('own');
    assert.deepEqual(calls, ['proxyless', 'own']);
    assert.equal(cache.get('own'), cache.fallback());
  });
});
