// Envoy bootstrap documents for integration tests, built as plain objects (JSON is valid bootstrap YAML).
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const HPO = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export type Json = Record<string, unknown>;

export function socketAddress(port: number): Json {
  return { socket_address: { address: '127.0.0.1', port_value: port } };
}

/** A listener with one HCM whose single virtual host has `routes`; `hcm` adds or overrides HCM fields. */
export function httpListener(name: string, port: number, routes: Json[], hcm: Json = {}, httpFilters: Json[] = []): Json {
  return {
    name,
    address: socketAddress(port),
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: name,
              route_config: { name: `${name}-routes`, virtual_hosts: [{ name: 'all', domains: ['*'], routes }] },
              http_filters: [...httpFilters, { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
              ...hcm,
            },
          },
        ],
      },
    ],
  };
}

/** A listener whose one filter chain runs `networkFilters` (e.g. network RBAC) and then tcp_proxy to `cluster`. */
export function tcpListener(name: string, port: number, cluster: string, networkFilters: Json[] = []): Json {
  const tcp = { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: name, cluster } };
  return { name, address: socketAddress(port), filter_chains: [{ filters: [...networkFilters, tcp] }] };
}

/** A STATIC cluster over loopback ports; `http2` makes upstream connections h2c; `extra` adds Cluster fields. */
export function staticCluster(name: string, ports: number[], opts: { http2?: boolean; extra?: Json } = {}): Json {
  const c: Json = {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: socketAddress(p) } })) }] },
    ...opts.extra,
  };
  if (opts.http2) {
    c.typed_extension_protocol_options = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HPO, explicit_http_config: { http2_protocol_options: {} } },
    };
  }
  return c;
}

export function bootstrap(nodeId: string, adminPort: number, listeners: Json[], clusters: Json[]): Json {
  return {
    node: { id: nodeId, cluster: 'test' },
    admin: { address: socketAddress(adminPort) },
    static_resources: { listeners, clusters },
  };
}

/** Writes a bootstrap into `dir` and returns its path. */
export function writeBootstrap(dir: string, name: string, b: Json): string {
  const p = path.join(dir, `${name}.json`);
  writeFileSync(p, JSON.stringify(b, null, 2));
  return p;
}
