// RDS translation: mesh route rules → Envoy RouteConfigurations (one virtual host each), rule order preserved.
import {
  DEFAULT_ROUTE_TIMEOUT_MS,
  type HeaderOps,
  type RedirectCode,
  type RouteMatch,
  type RouteRule,
  type StringMatch,
  type World,
} from '../model/index.js';
import { httpServices, type NodeView } from './node-view.js';
import { byName, clusterName, duration, gatewayRouteName, inboundName, outboundRouteName, type NamedResource } from './names.js';

const REDIRECT_CODE: Readonly<Record<RedirectCode, string>> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

function stringMatcher(m: StringMatch): Record<string, unknown> {
  return m.kind === 'regex' ? { safe_regex: { regex: m.value } } : { [m.kind]: m.value };
}

function routeMatch(m: RouteMatch): Record<string, unknown> {
  const out: Record<string, unknown> = m.path.kind === 'regex' ? { safe_regex: { regex: m.path.value } } : { [m.path.kind]: m.path.value };
  const headers: Record<string, unknown>[] = m.headers.map((h) => ({
    name: h.name,
    ...(h.match === null ? { present_match: true } : { string_match: stringMatcher(h.match) }),
    ...(h.invert ? { invert_match: true } : {}),
  }));
  if (m.methods.length > 0) headers.push({ name: ':method', string_match: { safe_regex: { regex: m.methods.join('|') } } });
  if (headers.length > 0) out.headers = headers;
  if (m.query.length > 0) {
    out.query_parameters = m.query.map((q) => ({
      name: q.name,
      ...(q.match === null ? { present_match: true } : { string_match: stringMatcher(q.match) }),
    }));
  }
  return out;
}

function headerMutations(ops: HeaderOps, dir: 'request' | 'response', out: Record<string, unknown>): void {
  const add = [
    ...Object.entries(ops.add).map(([key, value]) => ({ header: { key, value }, append_action: 'APPEND_IF_EXISTS_OR_ADD' })),
    ...Object.entries(ops.set).map(([key, value]) => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
  ];
  if (add.length > 0) out[`${dir}_headers_to_add`] = add;
  if (ops.remove.length > 0) out[`${dir}_headers_to_remove`] = [...ops.remove];
}

/** One mesh rule as an envoy.config.route.v3.Route. */
export function routeEntry(rule: RouteRule): Record<string, unknown> {
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
    out.route = route;
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

/** The route every destination service ends with: the whole service, default timeout. */
function defaultRoute(cluster: string, timeoutMs: number): Record<string, unknown> {
  return { name: 'default', match: { prefix: '/' }, route: { cluster, timeout: duration(timeoutMs) } };
}

function routeConfig(name: string, vhost: string, routes: Record<string, unknown>[]): NamedResource {
  return { name, resource: { name, virtual_hosts: [{ name: vhost, domains: ['*'], routes }] } };
}

/**
 * Rules of a destination service followed by its implied default route. Proxyless gRPC clients reject a whole
 * RouteConfiguration holding a redirect or direct_response route, so `forwardOnly` leaves those rules out.
 */
function serviceRoutes(world: World, service: string, forwardOnly: boolean): Record<string, unknown>[] {
  const rules = (world.routes.get(service)?.rules ?? []).filter((r) => !forwardOnly || r.action.kind === 'forward');
  return [...rules.map(routeEntry), defaultRoute(service, DEFAULT_ROUTE_TIMEOUT_MS)];
}

export function compileRoutes(world: World, view: NodeView): NamedResource[] {
  const out: NamedResource[] = [];
  if (view.kind === 'sidecar') {
    const svc = view.service;
    if (svc.protocol === 'http' && view.instance.sidecarPort !== null) {
      // Inbound has no timeout of its own: the caller's route timeout governs the request.
      out.push(routeConfig(inboundName(svc.name), inboundName(svc.name), [defaultRoute(inboundName(svc.name), 0)]));
    }
    for (const d of svc.dependencies) {
      if (world.services.get(d.service)?.protocol !== 'http') continue;
      out.push(routeConfig(outboundRouteName(d.service), d.service, serviceRoutes(world, d.service, false)));
    }
  } else if (view.kind === 'gateway') {
    const gw = view.gateway;
    out.push(routeConfig(gatewayRouteName(gw.name), gw.name, gw.routes.map(routeEntry)));
  } else {
    for (const s of httpServices(world)) out.push(routeConfig(s.name, s.name, serviceRoutes(world, s.name, true)));
  }
  return out.sort(byName);
}
