// Builders of valid xDS resources (protobufjs object form) for the validator and ADS client tests.
import assert from 'node:assert/strict';
import { Issues } from '../../../../../src/xds/resources/common.js';
import '../../../../../src/xds/resources/filters/all.js';
import { httpFilterConfigValidator } from '../../../../../src/xds/resources/filters/index.js';
import { decodeMessage, encodeMessage } from '../../../../../src/xds/protos.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';

export const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': TypeUrl.Router } };

/** Encodes then decodes, giving the exact shape an xDS client sees. */
export function decoded(typeUrl: string, obj: object): Record<string, unknown> {
  return decodeMessage(typeUrl, encodeMessage(typeUrl, obj));
}

export function hcm(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '@type': TypeUrl.HttpConnectionManager,
    stat_prefix: 'ingress',
    rds: { route_config_name: 'routes', config_source: { ads: {} } },
    http_filters: [ROUTER],
    ...extra,
  };
}

export function listener(name: string, typedConfig: Record<string, unknown> = hcm(), extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: typedConfig }] }],
    ...extra,
  };
}

export function routeConfig(name: string, routes: object[] = [{ match: { prefix: '/' }, route: { cluster: 'api' } }]): Record<string, unknown> {
  return { name, virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] };
}

export function edsCluster(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, service_name: `${name}-svc` }, connect_timeout: { seconds: 1 }, ...extra };
}

export function staticCluster(name: string, port = 9000): Record<string, unknown> {
  return {
    name,
    type: 'STATIC',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
}

export function cla(name: string, ports: number[] = [9001]): Record<string, unknown> {
  return {
    cluster_name: name,
    endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: p } } } })) }],
  };
}

/** Where an HCM's first HTTP filter config sits in a listener (the path validators report). */
export const FILTER_CONFIG_PATH = 'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config';

/**
 * Validator harness for one HTTP filter type: encodes `obj` as the real proto, decodes it as an xDS client would
 * and runs the registered validator; `valid` asserts no issue, `hasError` asserts one at `<path>.<expected>`.
 */
export function filterConfigHarness<T>(typeUrl: string): {
  validate(obj: object): { value: T; errors: string[] };
  valid(obj: object): T;
  hasError(obj: object, expected: string): void;
} {
  const validate = (obj: object): { value: T; errors: string[] } => {
    const issues = new Issues();
    const v = httpFilterConfigValidator(typeUrl)!(decoded(typeUrl, obj), FILTER_CONFIG_PATH, issues);
    return { value: v as T, errors: issues.list };
  };
  return {
    validate,
    valid(obj: object): T {
      const r = validate(obj);
      assert.deepEqual(r.errors, []);
      return r.value;
    },
    hasError(obj: object, expected: string): void {
      const { errors } = validate(obj);
      const want = `${FILTER_CONFIG_PATH}.${expected}`;
      assert.ok(errors.includes(want), `expected "${want}" in ${JSON.stringify(errors)}`);
    },
  };
}
