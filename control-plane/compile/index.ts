// Translation entry point: (World, node id) → every xDS resource for that node, per type URL, sorted by name. Pure.
import { TypeUrl, type ResourceTypeUrl } from '../../src/xds/type-urls.js';
import type { World } from '../model/index.js';
import { compileClusters } from './clusters.js';
import { compileEndpoints } from './endpoints.js';
import { compileListeners } from './listeners.js';
import { nodeView } from './node-view.js';
import type { NamedResource } from './names.js';
import { compileRoutes } from './routes.js';

export type { NamedResource } from './names.js';
export { clusterName } from './names.js';

export type NodeResources = Record<ResourceTypeUrl, NamedResource[]>;

/**
 * Resources for one node: an instance id gets its sidecar's config, a gateway name its gateway's, and any other id
 * (a proxyless gRPC client) api_listeners, routes, clusters and endpoints for every http service.
 */
export function compileNode(world: World, nodeId: string): NodeResources {
  const view = nodeView(world, nodeId);
  return {
    [TypeUrl.Listener]: compileListeners(world, view),
    [TypeUrl.RouteConfiguration]: compileRoutes(world, view),
    [TypeUrl.Cluster]: compileClusters(world, view),
    [TypeUrl.ClusterLoadAssignment]: compileEndpoints(world, view),
    [TypeUrl.Secret]: [],
  };
}

/** Every sidecar and gateway node id the mesh names, sorted. */
export function nodeIds(world: World): string[] {
  return [...world.nodes.keys()].sort();
}
