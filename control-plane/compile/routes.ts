// RDS translation: mesh route rules → Envoy RouteConfigurations (one virtual host each), rule order preserved.
import {
  DEFAULT_GRPC_ROUTE_TIMEOUT_MS,
  DEFAULT_ROUTE_TIMEOUT_MS,
  isHttpProtocol,
  type GatewayConfig,
  type HashOn,
  type HeaderOps,
  type RedirectCode,
  type RetryPolicy,
  type RouteMatch,
  type RouteRule,
  type World,
} from '../model/index.js';
import { TypeUrl } from '../../src/xds/type-urls.js';
import { faultOverride } from './faults.js';
import { headerMatchers, stringMatcher } from './matchers.js';
import { httpServices, proxylessRule, type NodeView } from './node-view.js';
import {
  byName,
  clusterName,
  duration,
  gatewayRedirectRouteName,
  gatewayRouteName,
  inboundName,
  outboundRouteName,
  PREVIOUS_HOSTS_PREDICATE,
  u32,
  type NamedResource,
} from './names.js';

const REDIRECT_CODE: Readonly<Record<RedirectCode, string>> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

/** envoy.config.route.v3.RouteMatch of a mesh match (also the match of jwt_authn and API-key rules). */
export function routeMatch(m: RouteMatch): Record<string, unknown> {
  const out: Record<string, unknown> = m.path.kind === 'regex' ? { safe_regex: { regex: m.path.value } } : { [m.path.kind]: m.path.value };
  const headers = headerMatchers(m);
  if (headers.length > 0) out.headers = headers;
  if (m.query.length > 0) {
    out.query_parameters = m.query.map((q) => ({
      name: q.name,
      ...(q.match === null ? { present_match: true } : { string_match: stringMatcher(q.match) }),
    }));
  }
  return out;
}

/** envoy.config.route.v3.RouteAction.HashPolicy for a service's lb.hash_on. */
function hashPolicy(h: HashOn): Record<string, unknown> {
  switch (h.kind) {
    case 'header':
      return { header: { header_name: h.name } };
    case 'cookie':
      return {
        cookie: { name: h.name, ...(h.ttlMs !== null ? { ttl: duration(h.ttlMs) } : {}), ...(h.path !== null ? { path: h.path } : {}) },
      };
    case 'source_ip':
      return { connection_properties: { source_ip: true } };
    case 'query_parameter':
      return { query_parameter: { name: h.name } };
  }
}

/** The hash_policy of a route to these services (the parser allows at most one distinct hash_on per route). */
function hashPolicies(world: World, services: readonly string[]): Record<string, unknown> {
  for (const s of services) {
    const h = world.services.get(s)?.lb.hashOn;
    if (h) return { hash_policy: [hashPolicy(h)] };
  }
  return {};
}

function retryPolicy(r: RetryPolicy): Record<string, unknown> {
  const out: Record<string, unknown> = { retry_on: r.retryOn.join(','), num_retries: u32(r.attempts) };
  if (r.perTryTimeoutMs !== null) out.per_try_timeout = duration(r.perTryTimeoutMs);
  if (r.retriableStatusCodes.length > 0) out.retriable_status_codes = [...r.retriableStatusCodes];
  if (r.backoff !== null) {
    out.retry_back_off = { base_interval: duration(r.backoff.baseMs), ...(r.backoff.maxMs !== null ? { max_interval: duration(r.backoff.maxMs) } : {}) };
  }
  if (r.preferOtherHosts) {
    out.retry_host_predicate = [{ name: PREVIOUS_HOSTS_PREDICATE, typed_config: { '@type': TypeUrl.PreviousHostsPredicate } }];
    out.host_selection_retry_max_attempts = 3;
  }
  return out;
}

function maxStreamDuration(maxMs: number | null, grpcHeaderMaxMs: number | null): Record<string, unknown> {
  if (maxMs === null && grpcHeaderMaxMs === null) return {};
  return {
    max_stream_duration: {
      ...(maxMs !== null ? { max_stream_duration: duration(maxMs) } : {}),
      ...(grpcHeaderMaxMs !== null ? { grpc_timeout_header_max: duration(grpcHeaderMaxMs) } : {}),
    },
  };
}

function headerMutations(ops: HeaderOps, dir: 'request' | 'response', out: Record<string, unknown>): void {
  const add = [
    ...Object.entries(ops.add).map(([key, value]) => ({ header: { key, value }, append_action: 'APPEND_IF_EXISTS_OR_ADD' })),
    ...Object.entries(ops.set).map(([key, value]) => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
  ];
  if (add.length > 0) out[`${dir}_headers_to_add`] = add;
  if (ops.remove.length > 0) out[`${dir}_headers_to_remove`] = [...ops.remove];
}

/**
 * One mesh rule as an envoy.config.route.v3.Route. `proxyless`: a fault becomes the route's
 * typed_per_filter_config override (proxies get HCM-level fault filters instead, see faults.ts).
 */
export function routeEntry(world: World, rule: RouteRule, proxyless: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (rule.name !== null) out.name = rule.name;
  out.match = routeMatch(rule.match);
  const a = rule.action;
  if (a.kind === 'forward') {
    const route: Record<string, unknown> = {};
    if (a.destinations.length === 1) route.cluster = clusterName(a.destinations[0]!.service, a.destinations[0]!.subset);
    else {
      route.weighted_clusters = {
        clusters: a.destinations.map((d) => ({ name: clusterName(d.service, d.subset), weight: { value: d.weight ?? 1 } })),
      };
    }
    if (a.rewritePrefix !== null) route.prefix_rewrite = a.rewritePrefix;
    if (a.rewriteHost !== null) route.host_rewrite_literal = a.rewriteHost;
    route.timeout = duration(a.timeoutMs);
    Object.assign(route, hashPolicies(world, a.destinations.map((d) => d.service)));
    if (a.retries !== null) route.retry_policy = retryPolicy(a.retries);
    Object.assign(route, maxStreamDuration(a.maxStreamDurationMs, a.grpcTimeoutHeaderMaxMs));
    out.route = route;
    if (proxyless && a.fault !== null) Object.assign(out, faultOverride(a.fault));
  } else if (a.kind === 'redirect') {
    const redirect: Record<string, unknown> = {};
    if (a.https) redirect.https_redirect = true;
    if (a.scheme !== null) redirect.scheme_redirect = a.scheme;
    if (a.host !== null) redirect.host_redirect = a.host;
    if (a.port !== null) redirect.port_redirect = a.port;
    if (a.path !== null) redirect.path_redirect = a.path;
    if (a.prefix !== null) redirect.prefix_rewrite = a.prefix;
    redirect.response_code = REDIRECT_CODE[a.code];
    out.redirect = redirect;
  } else {
    out.direct_response = { status: a.status, ...(a.body !== null ? { body: { inline_string: a.body } } : {}) };
  }
  headerMutations(rule.requestHeaders, 'request', out);
  headerMutations(rule.responseHeaders, 'response', out);
  return out;
}

/**
 * The route every destination service ends with: the whole service, default timeout (grpc services: none,
 * and the client's grpc-timeout is honoured), the service's hash policy.
 */
function defaultRoute(world: World, service: string): Record<string, unknown> {
  const grpc = world.services.get(service)?.protocol === 'grpc';
  return {
    name: 'default',
    match: { prefix: '/' },
    route: {
      cluster: service,
      timeout: duration(grpc ? DEFAULT_GRPC_ROUTE_TIMEOUT_MS : DEFAULT_ROUTE_TIMEOUT_MS),
      ...hashPolicies(world, [service]),
      ...(grpc ? maxStreamDuration(null, 0) : {}),
    },
  };
}

function routeConfig(name: string, vhost: string, routes: Record<string, unknown>[], vhostExtra: Record<string, unknown> = {}): NamedResource {
  return { name, resource: { name, virtual_hosts: [{ name: vhost, domains: ['*'], routes, ...vhostExtra }] } };
}

/**
 * Rules of a destination service followed by its implied default route. Proxyless gRPC clients reject a whole
 * RouteConfiguration holding a redirect or direct_response route, so for them (`proxyless`, with the CA view)
 * those rules are left out, as are rules to services they may not call directly; faults become per-route overrides.
 */
function serviceRoutes(world: World, service: string, proxyless: NodeView | null): Record<string, unknown>[] {
  const rules = (world.routes.get(service)?.rules ?? []).filter(
    (r) => proxyless === null || (r.action.kind === 'forward' && proxylessRule(world, r, proxyless.ca)),
  );
  return [...rules.map((r) => routeEntry(world, r, proxyless !== null)), defaultRoute(world, service)];
}

/** HSTS on every response of a gateway's HTTPS virtual host. */
function hstsHeader(gw: GatewayConfig): Record<string, unknown> {
  const h = gw.tls?.hsts;
  if (!h) return {};
  const value = `max-age=${h.maxAgeSeconds}${h.includeSubdomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
  return { response_headers_to_add: [{ header: { key: 'strict-transport-security', value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] };
}

/**
 * The gateway's routes, and with a redirect listener its route: TLS required for every request (a redirect to
 * https), the catch-all route redirecting to the HTTPS port too for proxies that answer only from routes.
 */
function gatewayRoutes(world: World, gw: GatewayConfig): NamedResource[] {
  const out = [routeConfig(gatewayRouteName(gw.name), gw.name, gw.routes.map((r) => routeEntry(world, r, false)), hstsHeader(gw))];
  if (gw.tls?.httpRedirectListen) {
    const port = gw.listen.port === 443 ? {} : { port_redirect: gw.listen.port };
    const redirect = { name: 'https', match: { prefix: '/' }, redirect: { https_redirect: true, ...port, response_code: 'MOVED_PERMANENTLY' } };
    out.push(routeConfig(gatewayRedirectRouteName(gw.name), `${gw.name}-https-redirect`, [redirect], { require_tls: 'ALL' }));
  }
  return out;
}

export function compileRoutes(world: World, view: NodeView): NamedResource[] {
  const out: NamedResource[] = [];
  if (view.kind === 'sidecar') {
    const svc = view.service;
    if (isHttpProtocol(svc.protocol) && view.instance.sidecarPort !== null) {
      // Inbound has no timeout of its own: the caller's route timeout governs the request.
      const name = inboundName(svc.name);
      out.push(routeConfig(name, name, [{ name: 'default', match: { prefix: '/' }, route: { cluster: name, timeout: duration(0) } }]));
    }
    for (const d of svc.dependencies) {
      const dep = world.services.get(d.service);
      if (dep === undefined || !isHttpProtocol(dep.protocol)) continue;
      out.push(routeConfig(outboundRouteName(d.service), d.service, serviceRoutes(world, d.service, null)));
    }
  } else if (view.kind === 'gateway') {
    out.push(...gatewayRoutes(world, view.gateway));
  } else {
    for (const s of httpServices(world, view.ca)) out.push(routeConfig(s.name, s.name, serviceRoutes(world, s.name, view)));
  }
  return out.sort(byName);
}
