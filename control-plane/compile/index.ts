// Translation entry point: (World, node id, mesh CA) → every xDS resource for that node, per type URL, sorted by name. Pure.
import { TypeUrl, type ResourceTypeUrl } from '../../src/xds/type-urls.js';
import type { World } from '../model/index.js';
import { clusterMtls, compileClusters } from './clusters.js';
import { compileEndpoints } from './endpoints.js';
import { compileListeners } from './listeners.js';
import { edsTargets, nodeView, type NodeView } from './node-view.js';
import { byName, type NamedResource } from './names.js';
import { compileRoutes } from './routes.js';
import { gatewaySecrets, inboundMode, rootCaSecret, type CaView } from './tls.js';

export type { NamedResource } from './names.js';
export { clusterName } from './names.js';
export type { CaView } from './tls.js';

export type NodeResources = Record<ResourceTypeUrl, NamedResource[]>;

/**
 * Resources for one node: an instance id gets its sidecar's config, a gateway name its gateway's, and any other id
 * (a proxyless gRPC client) api_listeners, routes, clusters and endpoints for every http service. `ca`: the mesh
 * CA (trust domain and bundle); without one there is no mesh TLS (gateway HTTPS still is).
 */
export function compileNode(world: World, nodeId: string, ca: CaView | null = null): NodeResources {
  const view = nodeView(world, nodeId, ca);
  return {
    [TypeUrl.Listener]: compileListeners(world, view),
    [TypeUrl.RouteConfiguration]: compileRoutes(world, view),
    [TypeUrl.Cluster]: compileClusters(world, view),
    [TypeUrl.ClusterLoadAssignment]: compileEndpoints(world, view),
    [TypeUrl.Secret]: compileSecrets(world, view),
  };
}

/** ROOTCA for a node whose listeners or clusters validate mesh peers, and a gateway's certificates. */
function compileSecrets(world: World, view: NodeView): NamedResource[] {
  const out: NamedResource[] = [];
  if (view.ca !== null && usesRootCa(world, view)) out.push(rootCaSecret(view.ca));
  if (view.kind === 'gateway') out.push(...gatewaySecrets(view.gateway));
  return out.sort(byName);
}

function usesRootCa(world: World, view: NodeView): boolean {
  if (view.kind === 'proxyless') return false;
  if (view.kind === 'sidecar' && view.instance.sidecarPort !== null && inboundMode(world, view.service, view.ca) !== 'DISABLE') return true;
  return edsTargets(world, view).some((t) => clusterMtls(world, view, t.service));
}

/** Every sidecar and gateway node id the mesh names, sorted. */
export function nodeIds(world: World): string[] {
  return [...world.nodes.keys()].sort();
}
