import assert from 'node:assert/strict';
import { test } from 'node:test';
import { packAny } from '../../../../../src/xds/protos.js';
import { decodeResource } from '../../../../../src/xds/resources/index.js';
import type { ClusterConfig, EndpointsConfig, ListenerConfig, RouteConfigData } from '../../../../../src/xds/resources/types.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { cla, edsCluster, listener, routeConfig } from './fixtures.js';

test('decodeResource dispatches by type URL and names the resource', () => {
  const l = decodeResource(TypeUrl.Listener, packAny(TypeUrl.Listener, listener('http')));
  assert.ok(l.ok);
  assert.equal(l.value.name, 'http');
  assert.equal((l.value.config as ListenerConfig).address?.port, 8080);
  const r = decodeResource(TypeUrl.RouteConfiguration, packAny(TypeUrl.RouteConfiguration, routeConfig('routes')));
  assert.ok(r.ok);
  assert.equal((r.value.config as RouteConfigData).virtualHosts.length, 1);
  const c = decodeResource(TypeUrl.Cluster, packAny(TypeUrl.Cluster, edsCluster('api')));
  assert.ok(c.ok);
  assert.equal((c.value.config as ClusterConfig).edsServiceName, 'api-svc');
  const e = decodeResource(TypeUrl.ClusterLoadAssignment, packAny(TypeUrl.ClusterLoadAssignment, cla('api-svc')));
  assert.ok(e.ok);
  assert.equal(e.value.name, 'api-svc');
  assert.equal((e.value.config as EndpointsConfig).localities[0]!.endpoints[0]!.address.port, 9001);
});

test('decodeResource errors name the resource and the field path', () => {
  const bad = decodeResource(TypeUrl.Cluster, packAny(TypeUrl.Cluster, edsCluster('api', { outlier_detection: { interval: {}, monitors: [{ name: 'm' }] } })));
  assert.deepEqual(bad, {
    ok: false,
    errors: ['Cluster "api": outlier_detection.monitors: not supported by Tessera', 'Cluster "api": outlier_detection.interval: must be greater than 0'],
  });
  const wrongType = decodeResource(TypeUrl.Cluster, packAny(TypeUrl.Listener, listener('x')));
  assert.equal(wrongType.ok, false);
  assert.match(wrongType.ok ? '' : wrongType.errors[0]!, /envoy\.config\.listener\.v3\.Listener in a envoy\.config\.cluster\.v3\.Cluster response/);
  const garbage = decodeResource(TypeUrl.Cluster, { type_url: TypeUrl.Cluster, value: Buffer.from([0xff, 0xff, 0xff]) });
  assert.equal(garbage.ok, false);
  assert.match(garbage.ok ? '' : garbage.errors[0]!, /cannot decode/);
  const secret = decodeResource(TypeUrl.Secret, packAny(TypeUrl.Secret, { name: 's' }));
  assert.deepEqual(secret, { ok: false, errors: [`Secret "s": exactly one of tls_certificate, validation_context is required`] });
});
