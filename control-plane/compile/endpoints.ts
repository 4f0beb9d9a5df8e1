// EDS translation: one ClusterLoadAssignment per EDS cluster; mesh traffic goes to sidecars, proxyless traffic to apps.
import type { InstanceConfig, World } from '../model/index.js';
import { edsTargets, type NodeView } from './node-view.js';
import { byName, socketAddress, type NamedResource } from './names.js';

/** Labels as filter_metadata['envoy.lb'] (a google.protobuf.Struct), which subset-aware proxies read. */
function labelMetadata(labels: InstanceConfig['labels']): Record<string, unknown> | null {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return null;
  const fields: Record<string, unknown> = {};
  for (const k of keys) fields[k] = { string_value: labels[k] };
  return { filter_metadata: { 'envoy.lb': { fields } } };
}

function lbEndpoint(inst: InstanceConfig, direct: boolean): Record<string, unknown> {
  const port = !direct && inst.sidecarPort !== null ? inst.sidecarPort : inst.port;
  const ep: Record<string, unknown> = { endpoint: { address: socketAddress(inst.address, port) } };
  const md = labelMetadata(inst.labels);
  if (md) ep.metadata = md;
  return ep;
}

export function compileEndpoints(world: World, view: NodeView): NamedResource[] {
  const direct = view.kind === 'proxyless';
  return edsTargets(world, view)
    .map((t) => {
      const subset = t.subset;
      const members = t.service.instances.filter((inst) => subset === null || Object.entries(subset).every(([k, v]) => inst.labels[k] === v));
      const endpoints =
        members.length === 0
          ? []
          : [{ locality: {}, load_balancing_weight: { value: 1 }, lb_endpoints: members.map((inst) => lbEndpoint(inst, direct)) }];
      return { name: t.name, resource: { cluster_name: t.name, endpoints } };
    })
    .sort(byName);
}
