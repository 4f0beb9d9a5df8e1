// Cross-resource checks of one snapshot: every RDS name a listener uses, every EDS cluster and every secret served
// over ADS that a listener or cluster names has its resource.
import { unpackAny } from '../../src/xds/protos.js';
import { TypeUrl } from '../../src/xds/type-urls.js';
import type { Snapshot } from './snapshot.js';

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null;
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The RDS route_config_name of a decoded HttpConnectionManager Any, or null when it has none. */
function rdsName(typedConfig: unknown): string | null {
  const tc = asObj(typedConfig);
  if (!tc || tc['@type'] !== TypeUrl.HttpConnectionManager) return null;
  const name = asObj(tc.rds)?.route_config_name;
  return typeof name === 'string' ? name : null;
}

/** Every (field path, route_config_name) a decoded Listener references over RDS. */
function listenerRdsRefs(listener: Obj): Array<[string, string]> {
  const refs: Array<[string, string]> = [];
  const chain = (fc: unknown, where: string): void => {
    asArray(asObj(fc)?.filters).forEach((f, j) => {
      const n = rdsName(asObj(f)?.typed_config);
      if (n !== null) refs.push([`${where}.filters[${j}]`, n]);
    });
  };
  asArray(listener.filter_chains).forEach((fc, i) => chain(fc, `filter_chains[${i}]`));
  if (listener.default_filter_chain) chain(listener.default_filter_chain, 'default_filter_chain');
  const api = rdsName(asObj(listener.api_listener)?.api_listener);
  if (api !== null) refs.push(['api_listener', api]);
  return refs;
}

/** Every (field path, secret name) of an SdsSecretConfig with `sds_config.ads` inside a decoded resource. */
function adsSecretRefs(v: unknown, where: string, out: Array<[string, string]>): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => adsSecretRefs(x, `${where}[${i}]`, out));
    return;
  }
  const o = asObj(v);
  if (o === null) return;
  if (typeof o.name === 'string' && asObj(asObj(o.sds_config)?.ads) !== null) out.push([where, o.name]);
  for (const [k, x] of Object.entries(o)) if (typeof x === 'object') adsSecretRefs(x, where === '' ? k : `${where}.${k}`, out);
}

/**
 * Returns one error per dangling reference: a listener's RDS route_config_name without a RouteConfiguration,
 * an EDS cluster (eds_cluster_config.service_name, else its name) without a ClusterLoadAssignment, or a secret a
 * listener or cluster takes from ADS (ROOTCA, a gateway certificate) without its Secret.
 */
export function checkConsistency(snapshot: Snapshot): string[] {
  const errors: string[] = [];
  const secrets = snapshot.resources(TypeUrl.Secret);
  for (const [short, url] of [['LDS', TypeUrl.Listener], ['CDS', TypeUrl.Cluster]] as const) {
    for (const [name, r] of snapshot.resources(url)) {
      const refs: Array<[string, string]> = [];
      adsSecretRefs(unpackAny(r.any), '', refs);
      for (const [where, secret] of refs) {
        if (!secrets.has(secret)) errors.push(`${short}[${name}].${where}: secret "${secret}" has no Secret resource`);
      }
    }
  }
  const routes = snapshot.resources(TypeUrl.RouteConfiguration);
  for (const [name, r] of snapshot.resources(TypeUrl.Listener)) {
    for (const [where, rds] of listenerRdsRefs(unpackAny(r.any))) {
      if (!routes.has(rds)) errors.push(`LDS[${name}].${where}: route_config_name "${rds}" has no RouteConfiguration`);
    }
  }
  const assignments = snapshot.resources(TypeUrl.ClusterLoadAssignment);
  for (const [name, r] of snapshot.resources(TypeUrl.Cluster)) {
    const cluster = unpackAny(r.any);
    if (cluster.type !== 'EDS') continue;
    const svc = asObj(cluster.eds_cluster_config)?.service_name;
    const edsName = typeof svc === 'string' && svc !== '' ? svc : name;
    if (!assignments.has(edsName)) {
      errors.push(`CDS[${name}].eds_cluster_config: service "${edsName}" has no ClusterLoadAssignment`);
    }
  }
  return errors;
}
