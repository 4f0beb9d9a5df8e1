// RDS: validates a decoded envoy.config.route.v3.RouteConfiguration into RouteConfigData (the subset Tessera routes by).
import { deepFreeze, err, ok, type Result } from '../../core/result.js';
import { TypeUrl } from '../type-urls.js';
import {
  HEADER_MUTATION_KEYS,
  Issues,
  NOT_SUPPORTED,
  boolWrapper,
  anyBody,
  anyType,
  bool,
  durationMs,
  enumOf,
  headerMutations,
  isObj,
  isSet,
  join,
  list,
  num,
  obj,
  onlyKnown,
  optionalDurationMs,
  positiveDurationMs,
  regexMatcher,
  str,
  strList,
  stringMatcher,
  u32Wrapper,
  type Obj,
} from './common.js';
import type {
  DirectResponseActionConfig,
  ForwardActionConfig,
  HashPolicyConfig,
  HeaderMatcherConfig,
  QueryParameterMatcherConfig,
  RedirectActionConfig,
  RetryOn,
  RetryPolicyConfig,
  RouteConfigData,
  RouteEntryConfig,
  RouteMatchConfig,
  VirtualHostConfig,
  WeightedClusterConfig,
} from './types.js';

const INFORMATIONAL = ['metadata', 'decorator', 'stat_prefix'];

export function validateRouteConfiguration(raw: Obj): Result<RouteConfigData> {
  const issues = new Issues();
  const value = routeConfiguration(raw, '', issues);
  if (!issues.empty) return err(issues.list);
  return ok(deepFreeze({ ...value, raw }));
}

/** Validates a RouteConfiguration found at `path` (also used for an HCM's inline route_config). */
export function routeConfiguration(rc: Obj, path: string, issues: Issues): Omit<RouteConfigData, 'raw'> {
  onlyKnown(rc, path, ['name', 'virtual_hosts', ...HEADER_MUTATION_KEYS], ['validate_clusters', 'max_direct_response_body_size_bytes', ...INFORMATIONAL], issues);
  const name = str(rc, 'name');
  const virtualHosts = list(rc, 'virtual_hosts').map((vh, i) => virtualHost(vh, join(join(path, 'virtual_hosts'), i), issues));
  const seen = new Map<string, number>();
  virtualHosts.forEach((vh, i) => {
    vh.domains.forEach((d, j) => {
      const prev = seen.get(d);
      if (prev !== undefined) {
        issues.add(join(join(join(join(path, 'virtual_hosts'), i), 'domains'), j), `domain "${d}" already used by virtual_hosts[${prev}]`);
      } else seen.set(d, i);
    });
  });
  return { name, virtualHosts, ...headerMutations(rc, path, issues) };
}

/** What a route inherits from its virtual host (used when the route does not set its own). */
interface Inherited {
  readonly retryPolicy: RetryPolicyConfig | null;
  readonly perRequestBufferLimitBytes: number | null;
}

function virtualHost(vh: Obj, path: string, issues: Issues): VirtualHostConfig {
  onlyKnown(vh, path, ['name', 'domains', 'routes', 'retry_policy', 'per_request_buffer_limit_bytes', 'require_tls', ...HEADER_MUTATION_KEYS], INFORMATIONAL, issues);
  const requireTls = enumOf(vh, 'require_tls', ['NONE', 'EXTERNAL_ONLY', 'ALL'] as const, 'NONE', path, issues) !== 'NONE';
  const name = str(vh, 'name');
  if (name === '') issues.add(join(path, 'name'), 'required');
  const domains = strList(vh, 'domains').map((d) => d.toLowerCase());
  if (domains.length === 0) issues.add(join(path, 'domains'), 'at least one domain is required');
  domains.forEach((d, i) => {
    const wild = d.indexOf('*');
    const ok = d === '*' || wild === -1 || (wild === 0 && d.lastIndexOf('*') === 0) || (wild === d.length - 1 && d.indexOf('*') === wild);
    if (!ok || d === '') issues.add(join(join(path, 'domains'), i), `invalid domain "${d}" (exact, "*", "*.suffix" or "prefix.*")`);
  });
  const rp = obj(vh, 'retry_policy');
  const inherited: Inherited = {
    retryPolicy: rp ? retryPolicy(rp, join(path, 'retry_policy'), issues) : null,
    perRequestBufferLimitBytes: isObj(vh.per_request_buffer_limit_bytes) ? u32Wrapper(vh, 'per_request_buffer_limit_bytes', 0) : null,
  };
  const routes = list(vh, 'routes').map((r, i) => route(r, join(join(path, 'routes'), i), issues, inherited));
  return { name, domains, routes, requireTls, ...headerMutations(vh, path, issues) };
}

function route(r: Obj, path: string, issues: Issues, vh: Inherited): RouteEntryConfig {
  onlyKnown(r, path, ['name', 'match', 'route', 'redirect', 'direct_response', 'per_request_buffer_limit_bytes', ...HEADER_MUTATION_KEYS], INFORMATIONAL, issues);
  const m = obj(r, 'match');
  const match = routeMatch(m ?? {}, join(path, 'match'), issues);
  if (!m) issues.add(join(path, 'match'), 'required');
  let action: RouteEntryConfig['action'];
  const ra = obj(r, 'route');
  const rd = obj(r, 'redirect');
  const dr = obj(r, 'direct_response');
  const inherited: Inherited = {
    retryPolicy: vh.retryPolicy,
    perRequestBufferLimitBytes: isObj(r.per_request_buffer_limit_bytes) ? u32Wrapper(r, 'per_request_buffer_limit_bytes', 0) : vh.perRequestBufferLimitBytes,
  };
  if (ra) action = routeAction(ra, join(path, 'route'), issues, inherited);
  else if (rd) action = redirectAction(rd, join(path, 'redirect'), issues);
  else if (dr) action = directResponse(dr, join(path, 'direct_response'), issues);
  else {
    if (!isSet(r.filter_action) && !isSet(r.non_forwarding_action)) issues.add(path, 'one of route, redirect, direct_response is required');
    action = { kind: 'direct_response', status: 404, body: null };
  }
  return { name: str(r, 'name'), match, action, ...headerMutations(r, path, issues) };
}

/** envoy.config.route.v3.RouteMatch (also the rule matches of HTTP filter configs, e.g. jwt_authn). */
export function routeMatch(m: Obj, path: string, issues: Issues): RouteMatchConfig {
  onlyKnown(m, path, ['prefix', 'path', 'safe_regex', 'path_separated_prefix', 'case_sensitive', 'headers', 'query_parameters'], [], issues);
  let p: RouteMatchConfig['path'] = { kind: 'prefix', value: '/' };
  if (typeof m.prefix === 'string') p = { kind: 'prefix', value: m.prefix };
  else if (typeof m.path === 'string') p = { kind: 'path', value: m.path };
  else if (typeof m.path_separated_prefix === 'string') {
    const v = m.path_separated_prefix;
    if (!v.startsWith('/') || (v.length > 1 && v.endsWith('/')) || /[?#]/.test(v)) {
      issues.add(join(path, 'path_separated_prefix'), `invalid "${v}" (must start with / and not end with /)`);
    }
    p = { kind: 'path_separated_prefix', value: v };
  } else if (m.safe_regex !== undefined) {
    const re = regexMatcher(obj(m, 'safe_regex'), join(path, 'safe_regex'), issues);
    p = { kind: 'safe_regex', regex: re ?? '' };
  } else if (!isSet(m.connect_matcher) && !isSet(m.path_match_policy)) {
    issues.add(path, 'one of prefix, path, safe_regex, path_separated_prefix is required');
  }
  const headers = list(m, 'headers').map((h, i) => headerMatcher(h, join(join(path, 'headers'), i), issues));
  const queryParameters = list(m, 'query_parameters').map((q, i) => queryMatcher(q, join(join(path, 'query_parameters'), i), issues));
  return { path: p, caseSensitive: boolWrapper(m, 'case_sensitive', true), headers, queryParameters };
}

/** envoy.config.route.v3.HeaderMatcher (also used by HTTP filter configs, e.g. the fault filter's headers). */
export function headerMatcher(h: Obj, path: string, issues: Issues): HeaderMatcherConfig {
  const kinds = ['exact_match', 'safe_regex_match', 'range_match', 'present_match', 'prefix_match', 'suffix_match', 'contains_match', 'string_match'];
  onlyKnown(h, path, ['name', 'invert_match', ...kinds], [], issues);
  const name = str(h, 'name').toLowerCase();
  if (name === '') issues.add(join(path, 'name'), 'required');
  const invert = h.invert_match === true;
  let match: HeaderMatcherConfig['match'] = { kind: 'present', present: true };
  const legacy = (kind: 'exact' | 'prefix' | 'suffix' | 'contains', key: string) => {
    const value = str(h, key);
    if (kind !== 'exact' && value === '') issues.add(join(path, key), 'must not be empty');
    match = { kind: 'string', string: { kind, value, ignoreCase: false } };
  };
  if (typeof h.exact_match === 'string') legacy('exact', 'exact_match');
  else if (typeof h.prefix_match === 'string') legacy('prefix', 'prefix_match');
  else if (typeof h.suffix_match === 'string') legacy('suffix', 'suffix_match');
  else if (typeof h.contains_match === 'string') legacy('contains', 'contains_match');
  else if (h.safe_regex_match !== undefined) {
    const re = regexMatcher(obj(h, 'safe_regex_match'), join(path, 'safe_regex_match'), issues);
    match = { kind: 'string', string: { kind: 'regex', regex: re ?? '' } };
  } else if (h.range_match !== undefined) {
    const r = obj(h, 'range_match') ?? {};
    const start = num(r, 'start');
    const end = num(r, 'end');
    if (!(start < end)) issues.add(join(path, 'range_match'), `start (${start}) must be less than end (${end})`);
    match = { kind: 'range', start, end };
  } else if (typeof h.present_match === 'boolean') {
    match = { kind: 'present', present: h.present_match };
  } else if (h.string_match !== undefined) {
    const s = stringMatcher(obj(h, 'string_match') ?? {}, join(path, 'string_match'), issues);
    if (s) match = { kind: 'string', string: s };
  }
  return { name, invert, match };
}

function queryMatcher(q: Obj, path: string, issues: Issues): QueryParameterMatcherConfig {
  onlyKnown(q, path, ['name', 'string_match', 'present_match'], [], issues);
  const name = str(q, 'name');
  if (name === '') issues.add(join(path, 'name'), 'required');
  if (q.string_match !== undefined) {
    return { name, string: stringMatcher(obj(q, 'string_match') ?? {}, join(path, 'string_match'), issues) };
  }
  if (q.present_match === false) issues.add(join(path, 'present_match'), `false ${NOT_SUPPORTED}`);
  return { name, string: null };
}

function upgradeConfigs(o: Obj, path: string, issues: Issues, handled: readonly string[]): string[] {
  const out: string[] = [];
  list(o, 'upgrade_configs').forEach((u, i) => {
    const p = join(join(path, 'upgrade_configs'), i);
    onlyKnown(u, p, ['upgrade_type', 'enabled', ...handled], [], issues);
    const t = str(u, 'upgrade_type').toLowerCase();
    if (t === '') issues.add(join(p, 'upgrade_type'), 'required');
    if (t === 'connect') issues.add(join(p, 'upgrade_type'), `CONNECT ${NOT_SUPPORTED}`);
    if (boolWrapper(u, 'enabled', true)) out.push(t);
  });
  return out;
}

/** HCM-level upgrade_configs (shared with the listener validator). */
export function hcmUpgradeTypes(hcm: Obj, path: string, issues: Issues): string[] {
  return upgradeConfigs(hcm, path, issues, []);
}

function routeAction(a: Obj, path: string, issues: Issues, inherited: Inherited): ForwardActionConfig {
  onlyKnown(
    a,
    path,
    [
      'cluster', 'weighted_clusters', 'prefix_rewrite', 'regex_rewrite', 'host_rewrite_literal', 'auto_host_rewrite', 'timeout',
      'idle_timeout', 'upgrade_configs', 'retry_policy', 'hash_policy', 'max_stream_duration', 'priority',
    ],
    [],
    issues,
  );
  let cluster: string | null = null;
  let weightedClusters: WeightedClusterConfig[] | null = null;
  if (typeof a.cluster === 'string') {
    cluster = a.cluster;
    if (cluster === '') issues.add(join(path, 'cluster'), 'must not be empty');
  } else if (a.weighted_clusters !== undefined) {
    const wp = join(path, 'weighted_clusters');
    const wc = obj(a, 'weighted_clusters') ?? {};
    onlyKnown(wc, wp, ['clusters', 'total_weight'], [], issues);
    weightedClusters = list(wc, 'clusters').map((c, i) => {
      const cp = join(join(wp, 'clusters'), i);
      onlyKnown(c, cp, ['name', 'weight', ...HEADER_MUTATION_KEYS], [], issues);
      const name = str(c, 'name');
      if (name === '') issues.add(join(cp, 'name'), 'required');
      return { name, weight: u32Wrapper(c, 'weight', 0), ...headerMutations(c, cp, issues) };
    });
    const sum = weightedClusters.reduce((s, c) => s + c.weight, 0);
    if (weightedClusters.length === 0) issues.add(join(wp, 'clusters'), 'at least one cluster is required');
    else if (sum <= 0) issues.add(join(wp, 'clusters'), 'sum of weights must be greater than 0');
    const total = u32Wrapper(wc, 'total_weight', 0);
    if (total !== 0 && total !== sum) issues.add(join(wp, 'total_weight'), `is ${total} but the weights sum to ${sum}`);
  } else if (!isSet(a.cluster_header) && !isSet(a.cluster_specifier_plugin) && !isSet(a.inline_cluster_specifier_plugin)) {
    issues.add(path, 'one of cluster, weighted_clusters is required');
  }
  let regexRewrite: ForwardActionConfig['regexRewrite'] = null;
  if (a.regex_rewrite !== undefined) {
    const rp = join(path, 'regex_rewrite');
    const rr = obj(a, 'regex_rewrite') ?? {};
    onlyKnown(rr, rp, ['pattern', 'substitution'], [], issues);
    const re = regexMatcher(obj(rr, 'pattern'), join(rp, 'pattern'), issues);
    regexRewrite = { regex: re ?? '', substitution: str(rr, 'substitution') };
  }
  if (typeof a.prefix_rewrite === 'string' && regexRewrite) issues.add(join(path, 'prefix_rewrite'), 'cannot be combined with regex_rewrite');
  const hostRewriteLiteral = typeof a.host_rewrite_literal === 'string' ? a.host_rewrite_literal : null;
  const rp = obj(a, 'retry_policy');
  const msd = obj(a, 'max_stream_duration') ?? {};
  const msp = join(path, 'max_stream_duration');
  onlyKnown(msd, msp, ['max_stream_duration', 'grpc_timeout_header_max', 'grpc_timeout_header_offset'], [], issues);
  const autoHostRewrite = boolWrapper(a, 'auto_host_rewrite', false);
  if (hostRewriteLiteral !== null && autoHostRewrite) issues.add(join(path, 'auto_host_rewrite'), 'cannot be combined with host_rewrite_literal');
  return {
    kind: 'route',
    cluster,
    weightedClusters,
    prefixRewrite: typeof a.prefix_rewrite === 'string' ? a.prefix_rewrite : null,
    regexRewrite,
    hostRewriteLiteral,
    autoHostRewrite,
    timeoutMs: durationMs(a, 'timeout', 15_000, path, issues),
    idleTimeoutMs: a.idle_timeout === undefined ? null : durationMs(a, 'idle_timeout', 0, path, issues),
    upgradeTypes: a.upgrade_configs === undefined ? null : upgradeConfigs(a, path, issues, []),
    retryPolicy: rp ? retryPolicy(rp, join(path, 'retry_policy'), issues) : inherited.retryPolicy,
    hashPolicy: list(a, 'hash_policy')
      .map((h, i) => hashPolicy(h, join(join(path, 'hash_policy'), i), issues))
      .filter((h): h is HashPolicyConfig => h !== null),
    maxStreamDurationMs: optionalDurationMs(msd, 'max_stream_duration', msp, issues),
    grpcTimeoutHeaderMaxMs: optionalDurationMs(msd, 'grpc_timeout_header_max', msp, issues),
    grpcTimeoutHeaderOffsetMs: durationMs(msd, 'grpc_timeout_header_offset', 0, msp, issues),
    priority: enumOf(a, 'priority', ['DEFAULT', 'HIGH'] as const, 'DEFAULT', path, issues),
    perRequestBufferLimitBytes: inherited.perRequestBufferLimitBytes,
  };
}

/** Envoy's retry_on conditions Tessera implements (RetryOn in types.ts). */
export const RETRY_ON: readonly RetryOn[] = [
  '5xx', 'gateway-error', 'reset', 'connect-failure', 'refused-stream', 'retriable-4xx', 'retriable-status-codes', 'cancelled',
  'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable', 'envoy-ratelimited', 'http3-post-connect-failure',
  'reset-before-request',
];

export const PREVIOUS_HOSTS_PREDICATE = 'envoy.retry_host_predicates.previous_hosts';

/**
 * envoy.config.route.v3.RetryPolicy. retry_priority, retriable_headers, retriable_request_headers,
 * rate_limited_retry_back_off and retry_options_predicates are rejected.
 */
function retryPolicy(rp: Obj, path: string, issues: Issues): RetryPolicyConfig {
  onlyKnown(
    rp,
    path,
    [
      'retry_on', 'num_retries', 'per_try_timeout', 'per_try_idle_timeout', 'retriable_status_codes', 'retry_back_off',
      'retry_host_predicate', 'host_selection_retry_max_attempts',
    ],
    [],
    issues,
  );
  const retryOn: RetryOn[] = [];
  for (const raw of str(rp, 'retry_on').split(',')) {
    const t = raw.trim();
    if (t === '') continue;
    if (!(RETRY_ON as readonly string[]).includes(t)) issues.add(join(path, 'retry_on'), `"${t}" ${NOT_SUPPORTED}`);
    else if (!retryOn.includes(t as RetryOn)) retryOn.push(t as RetryOn);
  }
  const codes = Array.isArray(rp.retriable_status_codes) ? rp.retriable_status_codes.map(Number) : [];
  let backoffBaseMs = 25;
  let backoffMaxMs = 250;
  const bo = obj(rp, 'retry_back_off');
  if (bo) {
    const bp = join(path, 'retry_back_off');
    onlyKnown(bo, bp, ['base_interval', 'max_interval'], [], issues);
    if (!isObj(bo.base_interval)) issues.add(join(bp, 'base_interval'), 'required');
    backoffBaseMs = positiveDurationMs(bo, 'base_interval', 25, bp, issues);
    backoffMaxMs = positiveDurationMs(bo, 'max_interval', backoffBaseMs * 10, bp, issues);
    if (backoffMaxMs < backoffBaseMs) {
      issues.add(join(bp, 'max_interval'), `(${backoffMaxMs} ms) must not be less than base_interval (${backoffBaseMs} ms)`);
    }
  }
  let previousHostsPredicate = false;
  list(rp, 'retry_host_predicate').forEach((pr, i) => {
    const pp = join(join(path, 'retry_host_predicate'), i);
    onlyKnown(pr, pp, ['name', 'typed_config'], [], issues);
    const tc = obj(pr, 'typed_config');
    const name = str(pr, 'name');
    if (tc) {
      const t = anyType(tc, join(pp, 'typed_config'), issues);
      if (t === null) return;
      if (t !== TypeUrl.PreviousHostsPredicate) {
        issues.add(join(pp, 'typed_config'), `retry host predicate ${name !== '' ? `${name} (${t})` : t} ${NOT_SUPPORTED}`);
        return;
      }
      onlyKnown(anyBody(tc), join(pp, 'typed_config'), [], [], issues);
    } else if (name !== PREVIOUS_HOSTS_PREDICATE) {
      issues.add(pp, `retry host predicate "${name}" ${NOT_SUPPORTED}`);
      return;
    }
    previousHostsPredicate = true;
  });
  const hsra = num(rp, 'host_selection_retry_max_attempts');
  if (!Number.isInteger(hsra) || hsra < 0 || hsra > 4_294_967_295) {
    issues.add(join(path, 'host_selection_retry_max_attempts'), `out of range: ${hsra}`);
  }
  return {
    retryOn,
    numRetries: u32Wrapper(rp, 'num_retries', 1),
    perTryTimeoutMs: durationMs(rp, 'per_try_timeout', 0, path, issues),
    perTryIdleTimeoutMs: durationMs(rp, 'per_try_idle_timeout', 0, path, issues),
    retriableStatusCodes: codes,
    backoffBaseMs,
    backoffMaxMs,
    previousHostsPredicate,
    // Unset (0) means Envoy's documented default: one re-selection.
    hostSelectionRetryMaxAttempts: hsra > 0 ? hsra : 1,
  };
}

/** RouteAction.HashPolicy; a connection_properties with source_ip false hashes nothing (as in Envoy) and is dropped. */
function hashPolicy(h: Obj, path: string, issues: Issues): HashPolicyConfig | null {
  onlyKnown(h, path, ['header', 'cookie', 'connection_properties', 'query_parameter', 'terminal'], [], issues);
  const terminal = bool(h, 'terminal');
  const required = (o: Obj, key: string, p: string): string => {
    const v = str(o, key);
    if (v === '') issues.add(join(p, key), 'required');
    return v;
  };
  const header = obj(h, 'header');
  const cookie = obj(h, 'cookie');
  const cp = obj(h, 'connection_properties');
  const qp = obj(h, 'query_parameter');
  if (header) {
    const p = join(path, 'header');
    onlyKnown(header, p, ['header_name'], [], issues);
    const name = required(header, 'header_name', p).toLowerCase();
    if (name !== '' && !/^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) issues.add(join(p, 'header_name'), `invalid header name "${name}"`);
    return { kind: 'header', name, terminal };
  }
  if (cookie) {
    const p = join(path, 'cookie');
    onlyKnown(cookie, p, ['name', 'ttl', 'path'], [], issues);
    return { kind: 'cookie', name: required(cookie, 'name', p), ttlMs: optionalDurationMs(cookie, 'ttl', p, issues), path: str(cookie, 'path'), terminal };
  }
  if (cp) {
    onlyKnown(cp, join(path, 'connection_properties'), ['source_ip'], [], issues);
    return bool(cp, 'source_ip') ? { kind: 'source_ip', terminal } : null;
  }
  if (qp) {
    const p = join(path, 'query_parameter');
    onlyKnown(qp, p, ['name'], [], issues);
    return { kind: 'query_parameter', name: required(qp, 'name', p), terminal };
  }
  if (!isSet(h.filter_state)) issues.add(path, 'one of header, cookie, connection_properties, query_parameter is required');
  return null;
}

const REDIRECT_CODES: Readonly<Record<string, number>> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

function redirectAction(r: Obj, path: string, issues: Issues): RedirectActionConfig {
  onlyKnown(
    r,
    path,
    ['https_redirect', 'scheme_redirect', 'host_redirect', 'port_redirect', 'path_redirect', 'prefix_rewrite', 'response_code', 'strip_query'],
    [],
    issues,
  );
  const code = r.response_code === undefined ? 301 : REDIRECT_CODES[String(r.response_code)];
  if (code === undefined) issues.add(join(path, 'response_code'), `unknown code ${String(r.response_code)}`);
  if (typeof r.path_redirect === 'string' && typeof r.prefix_rewrite === 'string') {
    issues.add(join(path, 'prefix_rewrite'), 'cannot be combined with path_redirect');
  }
  const port = num(r, 'port_redirect');
  if (port > 65535) issues.add(join(path, 'port_redirect'), `out of range: ${port}`);
  return {
    kind: 'redirect',
    httpsRedirect: r.https_redirect === true,
    schemeRedirect: typeof r.scheme_redirect === 'string' ? r.scheme_redirect.toLowerCase() : null,
    hostRedirect: typeof r.host_redirect === 'string' && r.host_redirect !== '' ? r.host_redirect : null,
    portRedirect: port === 0 ? null : port,
    pathRedirect: typeof r.path_redirect === 'string' ? r.path_redirect : null,
    prefixRewrite: typeof r.prefix_rewrite === 'string' ? r.prefix_rewrite : null,
    responseCode: code ?? 301,
    stripQuery: r.strip_query === true,
  };
}

function directResponse(d: Obj, path: string, issues: Issues): DirectResponseActionConfig {
  onlyKnown(d, path, ['status', 'body'], [], issues);
  const status = num(d, 'status');
  if (!Number.isInteger(status) || status < 200 || status > 599) issues.add(join(path, 'status'), `must be in [200, 599], got ${status}`);
  let body: string | null = null;
  const b = obj(d, 'body');
  if (b) {
    const bp = join(path, 'body');
    onlyKnown(b, bp, ['inline_string', 'inline_bytes'], [], issues);
    if (typeof b.inline_string === 'string') body = b.inline_string;
    else if (typeof b.inline_bytes === 'string') body = Buffer.from(b.inline_bytes, 'base64').toString('utf8');
  }
  return { kind: 'direct_response', status, body };
}
