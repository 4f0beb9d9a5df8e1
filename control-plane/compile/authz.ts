// A service's `authorization` as Envoy RBAC: envoy.filters.http.rbac on its inbound HCM, or
// envoy.filters.network.rbac before tcp_proxy for tcp services. One policy per rule, named after it.
import { TypeUrl } from '../../src/xds/type-urls.js';
import type { AuthorizationPolicy, AuthzOperation, AuthzSource, ServiceConfig, WorkloadIdentity, World } from '../model/index.js';
import { spiffeIdOf } from './tls.js';

export const HTTP_RBAC_FILTER = 'envoy.filters.http.rbac';
export const NETWORK_RBAC_FILTER = 'envoy.filters.network.rbac';

type Obj = Record<string, unknown>;

function gatewayIdentity(world: World, name: string): WorkloadIdentity {
  return world.mesh.gateways.find((g) => g.name === name)!.identity;
}

/** Several alternatives as one matcher (`or_rules` / `or_ids` only when there are two or more). */
function anyOf(items: Obj[], key: 'or_rules' | 'and_rules'): Obj {
  return items.length === 1 ? items[0]! : { [key]: { rules: items } };
}

function principal(world: World, td: string, s: AuthzSource): Obj {
  switch (s.kind) {
    case 'service':
      return { authenticated: { principal_name: { exact: spiffeIdOf(td, world.services.get(s.service)!.identity) } } };
    case 'gateway':
      return { authenticated: { principal_name: { exact: spiffeIdOf(td, gatewayIdentity(world, s.gateway)) } } };
    case 'principal':
      return { authenticated: { principal_name: { exact: s.principal } } };
    case 'namespace':
      return { authenticated: { principal_name: { prefix: `spiffe://${td}/ns/${s.namespace}/` } } };
    case 'ip':
      return { direct_remote_ip: { address_prefix: s.address, prefix_len: { value: s.prefixLen } } };
  }
}

/** One `to` entry: its lists ANDed, the entries of each list ORed. */
function permission(op: AuthzOperation): Obj {
  const parts: Obj[] = [];
  if (op.paths.length > 0) parts.push(anyOf(op.paths.map((p) => ({ url_path: { path: { [p.kind]: p.value } } })), 'or_rules'));
  if (op.methods.length > 0) parts.push(anyOf(op.methods.map((m) => ({ header: { name: ':method', string_match: { exact: m } } })), 'or_rules'));
  if (op.ports.length > 0) parts.push(anyOf(op.ports.map((p) => ({ destination_port: p })), 'or_rules'));
  return anyOf(parts, 'and_rules');
}

/** envoy.config.rbac.v3.RBAC for a policy; a rule without `from` / `to` matches anyone / anything. */
function rbacRules(world: World, td: string, policy: AuthorizationPolicy): Obj {
  const policies: Record<string, Obj> = {};
  policy.rules.forEach((rule, i) => {
    policies[`rules[${i}]`] = {
      permissions: rule.to.length === 0 ? [{ any: true }] : rule.to.map(permission),
      principals: rule.from.length === 0 ? [{ any: true }] : rule.from.map((s) => principal(world, td, s)),
    };
  });
  return { action: policy.action, policies };
}

/** The HTTP RBAC filter of `svc`'s inbound HCM, or null when it has no authorization. */
export function httpRbacFilter(world: World, td: string, svc: ServiceConfig): Obj | null {
  if (svc.authorization === null) return null;
  return { name: HTTP_RBAC_FILTER, typed_config: { '@type': TypeUrl.HttpRbac, rules: rbacRules(world, td, svc.authorization) } };
}

/** The network RBAC filter before a tcp service's tcp_proxy, or null when it has no authorization. */
export function networkRbacFilter(world: World, td: string, svc: ServiceConfig, statPrefix: string): Obj | null {
  if (svc.authorization === null) return null;
  return {
    name: NETWORK_RBAC_FILTER,
    typed_config: { '@type': TypeUrl.NetworkRbac, stat_prefix: statPrefix, rules: rbacRules(world, td, svc.authorization) },
  };
}
