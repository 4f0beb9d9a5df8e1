// NodeView: what one node id is (sidecar, gateway or proxyless client) and which EDS clusters it needs.
import { isHttpProtocol, type Destination, type Labels, type RouteRule, type ServiceConfig, type World } from '../model/index.js';
import { clusterName } from './names.js';

export type NodeView =
  | { readonly kind: 'sidecar'; readonly id: string; readonly service: ServiceConfig; readonly instance: ServiceConfig['instances'][number] }
  | { readonly kind: 'gateway'; readonly id: string; readonly gateway: World['mesh']['gateways'][number] }
  | { readonly kind: 'proxyless'; readonly id: string };

/** One EDS cluster a node needs: a whole service or a label subset of it. */
export interface ClusterTarget {
  readonly name: string;
  readonly service: ServiceConfig;
  readonly subset: Labels | null;
}

export function nodeView(world: World, nodeId: string): NodeView {
  const role = world.nodes.get(nodeId);
  if (role === undefined) return { kind: 'proxyless', id: nodeId };
  if (role.role === 'sidecar') return { kind: 'sidecar', id: nodeId, service: role.service, instance: role.instance };
  return { kind: 'gateway', id: nodeId, gateway: role.gateway };
}

/** The http, http2 and grpc services a proxyless client gets listeners, routes and clusters for. */
export function httpServices(world: World): ServiceConfig[] {
  return world.mesh.services.filter((s) => isHttpProtocol(s.protocol));
}

function addTarget(world: World, out: Map<string, ClusterTarget>, service: string, subset: Labels | null): void {
  const svc = world.services.get(service);
  if (svc === undefined) return;
  const name = clusterName(service, subset);
  if (!out.has(name)) out.set(name, { name, service: svc, subset });
}

function addRuleTargets(world: World, out: Map<string, ClusterTarget>, rules: readonly RouteRule[]): void {
  for (const rule of rules) {
    if (rule.action.kind !== 'forward') continue;
    for (const d of rule.action.destinations as readonly Destination[]) addTarget(world, out, d.service, d.subset);
  }
}

/** A destination service's default cluster plus every cluster its route rules send to. */
function addServiceTargets(world: World, out: Map<string, ClusterTarget>, service: string): void {
  addTarget(world, out, service, null);
  const rs = world.routes.get(service);
  if (rs) addRuleTargets(world, out, rs.rules);
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
    for (const s of httpServices(world)) addServiceTargets(world, out, s.name);
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
