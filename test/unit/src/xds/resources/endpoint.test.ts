import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Result } from '../../../../../src/core/result.js';
import { validateClusterLoadAssignment } from '../../../../../src/xds/resources/endpoint.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { decoded } from './fixtures.js';

function validate(obj: object) {
  return validateClusterLoadAssignment(decoded(TypeUrl.ClusterLoadAssignment, obj));
}

function hasError(r: Result<unknown>, expected: string): void {
  assert.equal(r.ok, false, 'expected validation to fail');
  const errors = r.ok ? [] : r.errors;
  assert.ok(errors.includes(expected), `expected error "${expected}" in ${JSON.stringify(errors)}`);
}

const ep = (address: string, port: number, extra: object = {}) => ({ endpoint: { address: { socket_address: { address, port_value: port } } }, ...extra });

test('localities, priorities, weights, health and envoy.lb labels', () => {
  const r = validate({
    cluster_name: 'api',
    endpoints: [
      {
        locality: { region: 'eu', zone: 'eu-1', sub_zone: 'a' },
        load_balancing_weight: { value: 3 },
        lb_endpoints: [
          ep('10.0.0.1', 80, {
            health_status: 'HEALTHY',
            load_balancing_weight: { value: 5 },
            metadata: { filter_metadata: { 'envoy.lb': { fields: { version: { stringValue: 'v2' }, canary: { boolValue: true } } } } },
          }),
          ep('::1', 81, { health_status: 'DRAINING' }),
        ],
      },
      { priority: 1, lb_endpoints: [ep('10.0.0.2', 80)] },
    ],
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const [l0, l1] = r.value.localities;
  assert.deepEqual(l0!.locality, { region: 'eu', zone: 'eu-1', subZone: 'a' });
  assert.deepEqual([l0!.weight, l0!.priority, l1!.weight, l1!.priority], [3, 0, 1, 1]);
  assert.deepEqual(l0!.endpoints[0], { address: { address: '10.0.0.1', port: 80 }, healthStatus: 'HEALTHY', weight: 5, labels: { version: 'v2' } });
  assert.deepEqual(l0!.endpoints[1], { address: { address: '::1', port: 81 }, healthStatus: 'DRAINING', weight: 1, labels: {} });
  assert.equal(l1!.endpoints[0]!.healthStatus, 'UNKNOWN');
});

test('invalid and unsupported endpoint shapes name their paths', () => {
  hasError(validate({ endpoints: [] }), 'cluster_name: required');
  hasError(validate({ cluster_name: 'a', endpoints: [{ priority: 1, lb_endpoints: [ep('10.0.0.1', 80)] }] }), 'endpoints: priorities must be contiguous from 0, missing priority 0');
  hasError(validate({ cluster_name: 'a', endpoints: [{ lb_endpoints: [ep('api.local', 80)] }] }), 'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: must be an IP literal, got "api.local"');
  hasError(validate({ cluster_name: 'a', endpoints: [{ lb_endpoints: [ep('10.0.0.1', 70000)] }] }), 'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: out of range: 70000');
  hasError(validate({ cluster_name: 'a', endpoints: [{ lb_endpoints: [{ endpoint_name: 'x' }] }] }), 'endpoints[0].lb_endpoints[0].endpoint_name: not supported by Tessera');
  hasError(validate({ cluster_name: 'a', policy: { drop_overloads: [{ category: 'x' }] } }), 'policy.drop_overloads: not supported by Tessera');
  hasError(validate({ cluster_name: 'a', endpoints: [{ load_balancing_weight: { value: 0 }, lb_endpoints: [] }] }), 'endpoints[0].load_balancing_weight: must be at least 1');
  hasError(validate({ cluster_name: 'a', endpoints: [{ lb_endpoints: [ep('10.0.0.1', 80, { load_balancing_weight: { value: 0 } })] }] }), 'endpoints[0].lb_endpoints[0].load_balancing_weight: must be at least 1');
});

test('policy.overprovisioning_factor: default 140, explicit values, at least 1', () => {
  const d = validate({ cluster_name: 'a' });
  assert.ok(d.ok, JSON.stringify(!d.ok && d.errors));
  assert.equal(d.value.overprovisioningFactor, 140);
  const e = validate({ cluster_name: 'a', policy: { overprovisioning_factor: { value: 100 } } });
  assert.ok(e.ok, JSON.stringify(!e.ok && e.errors));
  assert.equal(e.value.overprovisioningFactor, 100);
  hasError(validate({ cluster_name: 'a', policy: { overprovisioning_factor: { value: 0 } } }), 'policy.overprovisioning_factor: must be in [1, 4294967295], got 0');
});
