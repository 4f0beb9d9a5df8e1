// EDS: validates a decoded envoy.config.endpoint.v3.ClusterLoadAssignment into EndpointsConfig.
import { deepFreeze, err, ok, type Result } from '../../core/result.js';
import { Issues, join, list, num, obj, onlyKnown, socketAddress, str, u32InRange, u32Wrapper, type Obj } from './common.js';
import type { EndpointsConfig, HealthStatus, LbEndpointConfig, LocalityEndpointsConfig } from './types.js';

const HEALTH: readonly HealthStatus[] = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'];

export function validateClusterLoadAssignment(raw: Obj): Result<EndpointsConfig> {
  const issues = new Issues();
  const value = loadAssignment(raw, '', issues);
  if (!issues.empty) return err(issues.list);
  return ok(deepFreeze({ ...value, raw }));
}

/** Validates a ClusterLoadAssignment at `path` (also a STATIC cluster's load_assignment). */
export function loadAssignment(cla: Obj, path: string, issues: Issues): Omit<EndpointsConfig, 'raw'> {
  onlyKnown(cla, path, ['cluster_name', 'endpoints', 'policy'], [], issues);
  const clusterName = str(cla, 'cluster_name');
  if (clusterName === '') issues.add(join(path, 'cluster_name'), 'required');
  let overprovisioningFactor = 140;
  const policy = obj(cla, 'policy');
  if (policy) {
    const pp = join(path, 'policy');
    onlyKnown(policy, pp, ['overprovisioning_factor'], [], issues);
    overprovisioningFactor = u32InRange(policy, 'overprovisioning_factor', 140, 1, 4_294_967_295, pp, issues);
  }
  const localities = list(cla, 'endpoints').map((l, i) => locality(l, join(join(path, 'endpoints'), i), issues));
  const priorities = [...new Set(localities.map((l) => l.priority))].sort((a, b) => a - b);
  priorities.forEach((p, i) => {
    if (p !== i) issues.add(join(path, 'endpoints'), `priorities must be contiguous from 0, missing priority ${i}`);
  });
  return { clusterName, localities, overprovisioningFactor };
}

function locality(l: Obj, path: string, issues: Issues): LocalityEndpointsConfig {
  onlyKnown(l, path, ['locality', 'lb_endpoints', 'load_balancing_weight', 'priority'], ['metadata'], issues);
  const loc = obj(l, 'locality') ?? {};
  onlyKnown(loc, join(path, 'locality'), ['region', 'zone', 'sub_zone'], [], issues);
  const weight = u32Wrapper(l, 'load_balancing_weight', 1);
  if (weight < 1) issues.add(join(path, 'load_balancing_weight'), 'must be at least 1');
  const endpoints = list(l, 'lb_endpoints').map((e, i) => lbEndpoint(e, join(join(path, 'lb_endpoints'), i), issues));
  return {
    locality: { region: str(loc, 'region'), zone: str(loc, 'zone'), subZone: str(loc, 'sub_zone') },
    weight,
    priority: num(l, 'priority'),
    endpoints,
  };
}

function lbEndpoint(e: Obj, path: string, issues: Issues): LbEndpointConfig {
  onlyKnown(e, path, ['endpoint', 'health_status', 'load_balancing_weight', 'metadata'], [], issues);
  const ep = obj(e, 'endpoint') ?? {};
  const epp = join(path, 'endpoint');
  onlyKnown(ep, epp, ['address'], ['hostname', 'health_check_config'], issues);
  const address = socketAddress(obj(ep, 'address'), join(epp, 'address'), issues, true) ?? { address: '', port: 0 };
  const hs = e.health_status === undefined ? 'UNKNOWN' : String(e.health_status);
  if (!(HEALTH as readonly string[]).includes(hs)) issues.add(join(path, 'health_status'), `unknown status ${hs}`);
  const weight = u32Wrapper(e, 'load_balancing_weight', 1);
  if (weight < 1) issues.add(join(path, 'load_balancing_weight'), 'must be at least 1');
  return { address, healthStatus: hs as HealthStatus, weight, labels: lbLabels(obj(e, 'metadata')) };
}

/** filter_metadata['envoy.lb'] string values (others skipped). */
function lbLabels(md: Obj | null): Record<string, string> {
  const out: Record<string, string> = {};
  const fm = md ? obj(md, 'filter_metadata') : null;
  const lb = fm ? obj(fm, 'envoy.lb') : null;
  const fields = lb ? obj(lb, 'fields') : null;
  if (!fields) return out;
  for (const [k, v] of Object.entries(fields)) {
    const s = (v as Obj | null)?.stringValue ?? (v as Obj | null)?.string_value;
    if (typeof s === 'string') out[k] = s;
  }
  return out;
}
