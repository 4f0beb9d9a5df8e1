// NodeView: what one node id is (sidecar, gateway or proxyless client), the mesh CA it is compiled against, and
// which EDS clusters it needs.
import { effectiveMtls, isHttpProtocol, type Destination, type Labels, type RouteRule, type ServiceConfig, type World } from '../model/index.js';
import { clusterName } from './names.js';
import type { CaView } from './tls.js';

/** `ca`: the mesh CA (null: none, so no mesh TLS). */
export type NodeView = (
  | { readonly kind: 'sidecar'; readonly id: string; readonly service: ServiceConfig; readonly instance: ServiceConfig['instances'][number] }
  | { readonly kind: 'gateway'; readonly id: string; readonly gateway: World['mesh']['gateways'][number] }
  | { readonly kind: 'proxyless'; readonly id: string }
) & { readonly ca: CaView | null };

/** One EDS cluster a node needs: a whole service or a label subset of it. */
export interface ClusterTarget {
  readonly name: string;
  readonly service: ServiceConfig;
  readonly subset: Labels | null;
}

export function nodeView(world: World, nodeId: string, ca: CaView | null): NodeView {
  const role = world.nodes.get(nodeId);
  if (role === undefined) return { kind: 'proxyless', id: nodeId, ca };
  if (role.role === 'sidecar') return { kind: 'sidecar', id: nodeId, service: role.service, instance: role.instance, ca };
  return { kind: 'gateway', id: nodeId, gateway: role.gateway, ca };
}

/**
 * The http, http2 and grpc services a proxyless client gets listeners, routes and clusters for. Proxyless clients
 * call the apps directly, past their sidecars: services with an authorization policy, and STRICT services when
 * the CA is on, are left out (their apps are only reachable through their sidecars' checks).
 */
export function httpServices(world: World, ca: CaView | null): ServiceConfig[] {
  return world.mesh.services.filter((s) => isHttpProtocol(s.protocol) && proxylessMayCall(world, s, ca));
}

/** False for a service whose app must only be reached through its sidecar (see httpServices). */
export function proxylessMayCall(world: World, svc: ServiceConfig, ca: CaView | null): boolean {
  return svc.authorization === null && !(ca !== null && effectiveMtls(world.mesh, svc) === 'STRICT');
}

/** A rule a proxyless client may have: it sends only to services it may call (redirects and direct responses are left out elsewhere). */
export function proxylessRule(world: World, rule: RouteRule, ca: CaView | null): boolean {
  if (rule.action.kind !== 'forward') return true;
  return rule.action.destinations.every((d) => {
    const svc = world.services.get(d.service);
    return svc !== undefined && proxylessMayCall(world, svc, ca);
  });
}

function addTarget(world: World, out: Map<string, ClusterTarget>, service: string, subset: Labels | null): void {
  const svc = world.services.get(service);
  if (svc === undefined) return;
  const name = clusterName(service, subset);
  if (!out.has(name)) out.set(name, { name, service: svc, subset });
}

type RuleFilter = (rule: RouteRule) => boolean;
const EVERY_RULE: RuleFilter = () => true;

function addRuleTargets(world: World, out: Map<string, ClusterTarget>, rules: readonly RouteRule[], keep: RuleFilter = EVERY_RULE): void {
  for (const rule of rules) {
    if (rule.action.kind !== 'forward' || !keep(rule)) continue;
    for (const d of rule.action.destinations as readonly Destination[]) addTarget(world, out, d.service, d.subset);
  }
}

/** A destination service's default cluster plus every cluster its (kept) route rules send to. */
function addServiceTargets(world: World, out: Map<string, ClusterTarget>, service: string, keep: RuleFilter = EVERY_RULE): void {
  addTarget(world, out, service, null);
  const rs = world.routes.get(service);
  if (rs) addRuleTargets(world, out, rs.rules, keep);
}

/** Every EDS cluster (and so ClusterLoadAssignment) the node needs, sorted by name. */
export function edsTargets(world: World, view: NodeView): ClusterTarget[] {
  const out = new Map<string, ClusterTarget>();
  if (view.kind === 'sidecar') {
    for (const d of view.service.dependencies) {
      const dep = world.services.get(d.service);
      if (dep?.protocol === 'tcp') addTarget(world, out, d.service, null);
      else addServiceTargets(world, out, d.service);
    }
  } else if (view.kind === 'gateway') {
    addRuleTargets(world, out, view.gateway.routes);
  } else {
    const keep: RuleFilter = (rule) => proxylessRule(world, rule, view.ca);
    for (const s of httpServices(world, view.ca)) addServiceTargets(world, out, s.name, keep);
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
