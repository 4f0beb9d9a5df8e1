// Resource naming scheme shared by every translator (documented in docs/mesh-config.md) plus small proto helpers.
import type { Labels } from '../model/index.js';

export const ROUTER_FILTER = 'envoy.filters.http.router';
export const FAULT_FILTER = 'envoy.filters.http.fault';
export const PREVIOUS_HOSTS_PREDICATE = 'envoy.retry_host_predicates.previous_hosts';
export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
export const TCP_PROXY_FILTER = 'envoy.filters.network.tcp_proxy';
export const ADS_SOURCE = { ads: {}, resource_api_version: 'V3' } as const;

/** `<service>` or `<service>|k=v,k2=v2` with labels sorted by key. */
export function clusterName(service: string, subset: Labels | null): string {
  if (subset === null) return service;
  const parts = Object.keys(subset)
    .sort()
    .map((k) => `${k}=${subset[k]}`);
  return `${service}|${parts.join(',')}`;
}

export const inboundListenerName = (sidecarPort: number): string => `inbound|${sidecarPort}`;
export const inboundName = (service: string): string => `inbound|${service}`;
export const outboundListenerName = (port: number, service: string): string => `outbound|${port}|${service}`;
export const outboundRouteName = (service: string): string => `outbound|${service}`;
export const gatewayListenerName = (gateway: string, port: number): string => `gateway|${gateway}|${port}`;
export const gatewayRouteName = (gateway: string): string => `gateway|${gateway}`;
/** The route of a gateway's plain-HTTP listener that redirects everything to https. */
export const gatewayRedirectRouteName = (gateway: string): string => `gateway|${gateway}|https-redirect`;

/** Milliseconds as a google.protobuf.Duration. */
export function duration(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** A google.protobuf.UInt32Value (or any `{value}` wrapper). */
export function u32(value: number): { value: number } {
  return { value };
}

export function socketAddress(address: string, port: number): Record<string, unknown> {
  return { socket_address: { address, port_value: port } };
}

export function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** One resource ready for `encodeMessage(typeUrl, resource)`. */
export interface NamedResource {
  readonly name: string;
  readonly resource: Record<string, unknown>;
}
