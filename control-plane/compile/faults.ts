// Fault injection: a rule's `fault` as envoy.filters.http.fault (HTTPFault) — HCM filters scoped to the rule for
// proxies, a per-route override for proxyless gRPC clients.
import { TypeUrl } from '../../src/xds/type-urls.js';
import type { FaultPolicy, RouteRule } from '../model/index.js';
import { headerMatchers, pathHeaderMatcher } from './matchers.js';
import { clusterName, duration, FAULT_FILTER } from './names.js';

/** Parts per million as envoy.type.v3.FractionalPercent, in HUNDRED when that is exact. */
function fractionalPercent(perMillion: number): Record<string, unknown> {
  return perMillion % 10_000 === 0 ? { numerator: perMillion / 10_000, denominator: 'HUNDRED' } : { numerator: perMillion, denominator: 'MILLION' };
}

/** The delay/abort part of an HTTPFault. */
export function faultBody(f: FaultPolicy): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (f.delay !== null) out.delay = { fixed_delay: duration(f.delay.fixedMs), percentage: fractionalPercent(f.delay.perMillion) };
  if (f.abort !== null) {
    out.abort = {
      ...(f.abort.httpStatus !== null ? { http_status: f.abort.httpStatus } : { grpc_status: f.abort.grpcStatus }),
      percentage: fractionalPercent(f.abort.perMillion),
    };
  }
  return out;
}

export function hasFault(rules: readonly RouteRule[]): boolean {
  return rules.some((r) => r.action.kind === 'forward' && r.action.fault !== null);
}

/**
 * One fault filter per (rule with a fault, destination cluster), in rule order, for a proxy's HCM. Tessera's
 * proxies take fault config per filter, not per route, so each filter is scoped to its rule: `upstream_cluster`
 * (the cluster the route picked) plus the rule's match as header matchers (`:path`, headers, `:method`). The
 * parser rejects what this cannot express exactly: a `match.query`, or an earlier rule to the same cluster
 * that may match the same requests.
 */
export function faultFilters(rules: readonly RouteRule[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  rules.forEach((rule, i) => {
    const a = rule.action;
    if (a.kind !== 'forward' || a.fault === null) return;
    const path = pathHeaderMatcher(rule.match);
    const headers = [...(path ? [path] : []), ...headerMatchers(rule.match)];
    for (const d of a.destinations) {
      const cluster = clusterName(d.service, d.subset);
      out.push({
        name: `${FAULT_FILTER}|${i}|${cluster}`,
        typed_config: {
          '@type': TypeUrl.HttpFault,
          ...faultBody(a.fault),
          upstream_cluster: cluster,
          ...(headers.length > 0 ? { headers } : {}),
        },
      });
    }
  });
  return out;
}

/** Proxyless clients: one no-op fault filter in the HCM; each route with a fault overrides it (gRFC A33). */
export function proxylessFaultFilter(): Record<string, unknown> {
  return { name: FAULT_FILTER, typed_config: { '@type': TypeUrl.HttpFault } };
}

export function faultOverride(f: FaultPolicy): Record<string, unknown> {
  return { typed_per_filter_config: { [FAULT_FILTER]: { '@type': TypeUrl.HttpFault, ...faultBody(f) } } };
}
