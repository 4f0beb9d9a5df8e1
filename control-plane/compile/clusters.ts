// CDS translation: EDS clusters per destination (and subset), plus a sidecar's STATIC inbound cluster to its app.
import type { World } from '../model/index.js';
import { edsTargets, type NodeView } from './node-view.js';
import { ADS_SOURCE, byName, duration, inboundName, socketAddress, type NamedResource } from './names.js';

const LB_POLICY = { round_robin: 'ROUND_ROBIN', least_request: 'LEAST_REQUEST' } as const;

export function compileClusters(world: World, view: NodeView): NamedResource[] {
  const out: NamedResource[] = edsTargets(world, view).map((t) => ({
    name: t.name,
    resource: {
      name: t.name,
      type: 'EDS',
      eds_cluster_config: { eds_config: ADS_SOURCE },
      connect_timeout: duration(t.service.connectTimeoutMs),
      // grpc-js-xds accepts only ROUND_ROBIN and RING_HASH.
      lb_policy: view.kind === 'proxyless' ? 'ROUND_ROBIN' : LB_POLICY[t.service.lb],
    },
  }));
  if (view.kind === 'sidecar' && view.instance.sidecarPort !== null) {
    const name = inboundName(view.service.name);
    out.push({
      name,
      resource: {
        name,
        type: 'STATIC',
        connect_timeout: duration(view.service.connectTimeoutMs),
        lb_policy: 'ROUND_ROBIN',
        load_assignment: {
          cluster_name: name,
          endpoints: [
            {
              locality: {},
              load_balancing_weight: { value: 1 },
              lb_endpoints: [{ endpoint: { address: socketAddress(view.instance.address, view.instance.port) } }],
            },
          ],
        },
      },
    });
  }
  return out.sort(byName);
}
