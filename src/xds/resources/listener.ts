// LDS: validates a decoded envoy.config.listener.v3.Listener (with its tcp_proxy / http_connection_manager
// network filter) into ListenerConfig.
import { validateNetworkRbacConfig, type NetworkRbacConfig } from './filters/rbac.js';
import { deepFreeze, err, ok, type Result } from '../../core/result.js';
import { TypeUrl } from '../type-urls.js';
import {
  DOWNSTREAM_HTTP2_DEFAULTS,
  Issues,
  NOT_SUPPORTED,
  adsConfigSource,
  anyBody,
  anyType,
  bool,
  boolWrapper,
  durationMs,
  enumOf,
  http2ProtocolOptions,
  isSet,
  join,
  list,
  num,
  obj,
  onlyKnown,
  socketAddress,
  str,
  strList,
  u32Wrapper,
  type Obj,
} from './common.js';
import { handshakeTimeoutMs, transportSocket } from './tls.js';
import './filters/all.js'; // registers every HTTP filter config validator
import { httpFilterConfigValidator } from './filters/index.js';
import { hcmUpgradeTypes, routeConfiguration } from './route.js';
import type {
  FilterChainConfig,
  FilterChainMatchConfig,
  HcmConfig,
  HttpFilterRef,
  ListenerConfig,
  NetworkFilterConfig,
  TcpProxyConfig,
  WeightedClusterRef,
} from './types.js';

export const ROUTER_FILTER_NAME = 'envoy.filters.http.router';
const MIB = 1024 * 1024;
const HOUR_MS = 3_600_000;

export function validateListener(raw: Obj): Result<ListenerConfig> {
  const issues = new Issues();
  onlyKnown(
    raw,
    '',
    [
      'name', 'address', 'filter_chains', 'default_filter_chain', 'per_connection_buffer_limit_bytes', 'api_listener',
      'listener_filters', 'listener_filters_timeout', 'continue_on_listener_filters_timeout',
    ],
    ['metadata', 'stat_prefix', 'traffic_direction'],
    issues,
  );
  const name = str(raw, 'name');
  if (name === '') issues.add('name', 'required');
  if (raw.bind_to_port !== undefined && boolWrapper(raw, 'bind_to_port', true) === false) issues.unsupported('bind_to_port');
  const perConnectionBufferLimitBytes = u32Wrapper(raw, 'per_connection_buffer_limit_bytes', MIB);
  let address = null;
  let filterChains: FilterChainConfig[] = [];
  let defaultFilterChain: FilterChainConfig | null = null;
  const api = obj(raw, 'api_listener');
  if (api) {
    // A listener for proxyless gRPC clients: carries one HCM, has no address, is never bound.
    if (raw.address !== undefined) issues.add('address', 'cannot be combined with api_listener');
    if (isSet(raw.filter_chains)) issues.add('filter_chains', 'cannot be combined with api_listener');
    onlyKnown(api, 'api_listener', ['api_listener'], [], issues);
    const any = obj(api, 'api_listener');
    const t = anyType(any, 'api_listener.api_listener', issues);
    if (t !== null && t !== TypeUrl.HttpConnectionManager) issues.add('api_listener.api_listener', `type ${t} ${NOT_SUPPORTED}`);
    else if (t !== null) {
      const network = httpConnectionManager(anyBody(any!), 'api_listener.api_listener', issues);
      filterChains = [{ name: 'api_listener', match: ANY_MATCH, network, networkRbac: [], tls: null, handshakeTimeoutMs: 0 }];
    }
  } else {
    address = socketAddress(obj(raw, 'address'), 'address', issues, true);
    filterChains = list(raw, 'filter_chains').map((fc, i) => filterChain(fc, join('filter_chains', i), issues));
    const dfc = obj(raw, 'default_filter_chain');
    if (dfc) {
      defaultFilterChain = filterChain(dfc, 'default_filter_chain', issues);
      if (isSet(dfc.filter_chain_match)) issues.add('default_filter_chain.filter_chain_match', 'must be empty');
    }
    if (filterChains.length === 0 && !defaultFilterChain) issues.add('filter_chains', 'at least one filter chain is required');
    const seen = new Map<string, number>();
    filterChains.forEach((fc, i) => {
      // Envoy rejects two chains with the same match; an overlap in any one list entry is the same match.
      const m = fc.match;
      const keys: string[] = [];
      for (const sn of m.serverNames.length > 0 ? m.serverNames : ['']) {
        for (const ap of m.applicationProtocols.length > 0 ? m.applicationProtocols : ['']) keys.push(`${m.destinationPort}|${sn}|${m.transportProtocol}|${ap}`);
      }
      for (const key of keys) {
        const prev = seen.get(key);
        if (prev !== undefined && prev !== i) {
          issues.add(join(join('filter_chains', i), 'filter_chain_match'), `same match as filter_chains[${prev}]`);
          return;
        }
        seen.set(key, i);
      }
    });
  }
  const listenerFilters = list(raw, 'listener_filters');
  let tlsInspector = false;
  listenerFilters.forEach((f, i) => {
    const p = join('listener_filters', i);
    onlyKnown(f, p, ['name', 'typed_config'], [], issues);
    const t = obj(f, 'typed_config') ? anyType(obj(f, 'typed_config'), join(p, 'typed_config'), issues) : null;
    if (t === TypeUrl.TlsInspector || (t === null && str(f, 'name') === TLS_INSPECTOR)) {
      if (tlsInspector) issues.add(p, `${TLS_INSPECTOR} listed twice`);
      tlsInspector = true;
      const tc = obj(f, 'typed_config');
      if (tc) onlyKnown(anyBody(tc), join(p, 'typed_config'), [], ['enable_ja3_fingerprinting', 'initial_read_buffer_size'], issues);
    } else if (t !== null || str(f, 'name') !== '') issues.add(p, `listener filter ${t ?? str(f, 'name')} ${NOT_SUPPORTED} (only ${TLS_INSPECTOR})`);
  });
  if (!tlsInspector) {
    filterChains.forEach((fc, i) => {
      const m = fc.match;
      if (m.serverNames.length > 0 || m.transportProtocol !== '' || m.applicationProtocols.length > 0) {
        issues.add(join(join('filter_chains', i), 'filter_chain_match'), `server_names, transport_protocol and application_protocols need the ${TLS_INSPECTOR} listener filter`);
      }
    });
  }
  const listenerFiltersTimeoutMs = durationMs(raw, 'listener_filters_timeout', 15_000, '', issues);
  const continueOnListenerFiltersTimeout = bool(raw, 'continue_on_listener_filters_timeout');
  if (!issues.empty) return err(issues.list);
  return ok(
    deepFreeze({
      name,
      address,
      filterChains,
      defaultFilterChain,
      perConnectionBufferLimitBytes,
      tlsInspector,
      listenerFiltersTimeoutMs,
      continueOnListenerFiltersTimeout,
      raw,
    }),
  );
}

export const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';
const ANY_MATCH = { destinationPort: null, serverNames: [], transportProtocol: '', applicationProtocols: [] } as const;
const TRANSPORT_PROTOCOLS = ['tls', 'raw_buffer'] as const;

function filterChainMatch(m: Obj | null, mp: string, issues: Issues): FilterChainMatchConfig {
  if (m === null) return ANY_MATCH;
  onlyKnown(m, mp, ['destination_port', 'server_names', 'transport_protocol', 'application_protocols'], [], issues);
  let destinationPort: number | null = null;
  if (m.destination_port !== undefined) {
    destinationPort = u32Wrapper(m, 'destination_port', 0);
    if (destinationPort < 1 || destinationPort > 65535) issues.add(join(mp, 'destination_port'), `out of range: ${destinationPort}`);
  }
  const serverNames = strList(m, 'server_names').map((n, i) => {
    const v = n.toLowerCase();
    if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(v)) {
      issues.add(join(join(mp, 'server_names'), i), `"${n}" is not a host name (a leading "*." wildcard is allowed)`);
    }
    return v;
  });
  const tp = str(m, 'transport_protocol');
  if (tp !== '' && !(TRANSPORT_PROTOCOLS as readonly string[]).includes(tp)) issues.add(join(mp, 'transport_protocol'), `"${tp}": one of tls, raw_buffer`);
  const applicationProtocols = strList(m, 'application_protocols');
  return { destinationPort, serverNames, transportProtocol: tp as FilterChainMatchConfig['transportProtocol'], applicationProtocols };
}

function filterChain(fc: Obj, path: string, issues: Issues): FilterChainConfig {
  onlyKnown(fc, path, ['filter_chain_match', 'filters', 'name', 'transport_socket', 'transport_socket_connect_timeout'], ['metadata'], issues);
  const match = filterChainMatch(obj(fc, 'filter_chain_match'), join(path, 'filter_chain_match'), issues);
  const tls = transportSocket(obj(fc, 'transport_socket'), join(path, 'transport_socket'), issues, 'downstream');
  const handshakeTimeout = handshakeTimeoutMs(fc, path, issues);
  const filters = list(fc, 'filters');
  const fp = join(path, 'filters');
  let network: NetworkFilterConfig = deadTcpProxy();
  const networkRbac: NetworkRbacConfig[] = [];
  if (filters.length === 0) issues.add(fp, 'a terminal network filter (tcp_proxy or http_connection_manager) is required');
  filters.forEach((f, i) => {
    const p = join(fp, i);
    onlyKnown(f, p, ['name', 'typed_config'], [], issues);
    const tc = obj(f, 'typed_config');
    const t = anyType(tc, join(p, 'typed_config'), issues);
    if (t === null) return;
    if (i !== filters.length - 1) {
      // Before the terminal filter: only network RBAC (each one may close the connection).
      if (t === TypeUrl.NetworkRbac) networkRbac.push(validateNetworkRbacConfig(anyBody(tc!), join(p, 'typed_config'), issues));
      else issues.add(join(p, 'typed_config'), `network filter ${t} ${NOT_SUPPORTED} before the terminal filter`);
      return;
    }
    if (t === TypeUrl.HttpConnectionManager) network = httpConnectionManager(anyBody(tc!), join(p, 'typed_config'), issues);
    else if (t === TypeUrl.TcpProxy) network = tcpProxy(anyBody(tc!), join(p, 'typed_config'), issues);
    else issues.add(join(p, 'typed_config'), `network filter ${t} ${NOT_SUPPORTED}`);
  });
  const terminal = network as NetworkFilterConfig;
  if (tls !== null && terminal.kind === 'http_connection_manager' && terminal.codecType !== 'AUTO' && tls.common.alpnProtocols.length > 0) {
    const want = terminal.codecType === 'HTTP2' ? 'h2' : 'http/1.1';
    if (!tls.common.alpnProtocols.includes(want)) issues.add(join(path, 'transport_socket'), `alpn_protocols must offer ${want} for codec_type ${terminal.codecType}`);
  }
  return { name: str(fc, 'name'), match, network, networkRbac, tls, handshakeTimeoutMs: handshakeTimeout };
}

function deadTcpProxy(): TcpProxyConfig {
  return { kind: 'tcp_proxy', statPrefix: '', cluster: '', weightedClusters: null, idleTimeoutMs: 0, maxConnectAttempts: 1 };
}

function tcpProxy(tp: Obj, path: string, issues: Issues): TcpProxyConfig {
  onlyKnown(tp, path, ['stat_prefix', 'cluster', 'weighted_clusters', 'idle_timeout', 'max_connect_attempts'], [], issues);
  const statPrefix = str(tp, 'stat_prefix');
  if (statPrefix === '') issues.add(join(path, 'stat_prefix'), 'required');
  let cluster: string | null = null;
  let weightedClusters: WeightedClusterRef[] | null = null;
  if (typeof tp.cluster === 'string' && tp.cluster !== '') cluster = tp.cluster;
  else if (tp.weighted_clusters !== undefined) {
    const wp = join(path, 'weighted_clusters');
    const wc = obj(tp, 'weighted_clusters') ?? {};
    onlyKnown(wc, wp, ['clusters'], [], issues);
    weightedClusters = list(wc, 'clusters').map((c, i) => {
      const cp = join(join(wp, 'clusters'), i);
      onlyKnown(c, cp, ['name', 'weight'], [], issues);
      const name = str(c, 'name');
      if (name === '') issues.add(join(cp, 'name'), 'required');
      const weight = num(c, 'weight');
      if (weight < 1) issues.add(join(cp, 'weight'), 'must be at least 1');
      return { name, weight };
    });
    if (weightedClusters.length === 0) issues.add(join(wp, 'clusters'), 'at least one cluster is required');
  } else issues.add(path, 'one of cluster, weighted_clusters is required');
  const maxConnectAttempts = u32Wrapper(tp, 'max_connect_attempts', 1);
  if (maxConnectAttempts < 1) issues.add(join(path, 'max_connect_attempts'), 'must be at least 1');
  return {
    kind: 'tcp_proxy',
    statPrefix,
    cluster,
    weightedClusters,
    idleTimeoutMs: durationMs(tp, 'idle_timeout', HOUR_MS, path, issues),
    maxConnectAttempts,
  };
}

const CODECS = ['AUTO', 'HTTP1', 'HTTP2'] as const;

function httpConnectionManager(h: Obj, path: string, issues: Issues): HcmConfig {
  onlyKnown(
    h,
    path,
    [
      'stat_prefix', 'codec_type', 'rds', 'route_config', 'http_filters', 'request_timeout', 'request_headers_timeout',
      'stream_idle_timeout', 'common_http_protocol_options', 'max_request_headers_kb', 'drain_timeout', 'use_remote_address',
      'xff_num_trusted_hops', 'generate_request_id', 'preserve_external_request_id', 'via', 'server_name',
      'http_protocol_options', 'upgrade_configs', 'normalize_path', 'merge_slashes', 'http2_protocol_options',
      'forward_client_cert_details', 'set_current_client_cert_details',
    ],
    [],
    issues,
  );
  const statPrefix = str(h, 'stat_prefix');
  if (statPrefix === '') issues.add(join(path, 'stat_prefix'), 'required');
  const codec = h.codec_type === undefined ? 'AUTO' : String(h.codec_type);
  if (!(CODECS as readonly string[]).includes(codec)) issues.add(join(path, 'codec_type'), `${codec} ${NOT_SUPPORTED}`);

  let rdsRouteConfigName: string | null = null;
  let routeConfig: HcmConfig['routeConfig'] = null;
  const rds = obj(h, 'rds');
  const rc = obj(h, 'route_config');
  if (rds) {
    const rp = join(path, 'rds');
    onlyKnown(rds, rp, ['config_source', 'route_config_name'], [], issues);
    adsConfigSource(obj(rds, 'config_source'), join(rp, 'config_source'), issues);
    rdsRouteConfigName = str(rds, 'route_config_name');
    if (rdsRouteConfigName === '') issues.add(join(rp, 'route_config_name'), 'required');
    if (rc) issues.add(join(path, 'route_config'), 'cannot be combined with rds');
  } else if (rc) {
    routeConfig = { ...routeConfiguration(rc, join(path, 'route_config'), issues), raw: rc };
  } else if (!isSet(h.scoped_routes)) {
    issues.add(path, 'one of rds, route_config is required');
  }

  const httpFilters = httpFilterChain(h, path, issues);

  const cpo = obj(h, 'common_http_protocol_options') ?? {};
  const cpp = join(path, 'common_http_protocol_options');
  onlyKnown(cpo, cpp, ['idle_timeout', 'max_headers_count', 'max_stream_duration'], [], issues);
  const maxHeadersCount = u32Wrapper(cpo, 'max_headers_count', 100);
  if (maxHeadersCount < 1) issues.add(join(cpp, 'max_headers_count'), 'must be at least 1');
  const maxRequestHeadersKb = u32Wrapper(h, 'max_request_headers_kb', 60);
  if (maxRequestHeadersKb < 1 || maxRequestHeadersKb > 8192) issues.add(join(path, 'max_request_headers_kb'), 'must be in [1, 8192]');

  const hpo = obj(h, 'http_protocol_options') ?? {};
  onlyKnown(hpo, join(path, 'http_protocol_options'), ['accept_http_10', 'default_host_for_http_10'], [], issues);

  const serverName = str(h, 'server_name');
  return {
    kind: 'http_connection_manager',
    statPrefix,
    codecType: codec as HcmConfig['codecType'],
    rdsRouteConfigName,
    routeConfig,
    httpFilters,
    requestTimeoutMs: durationMs(h, 'request_timeout', 0, path, issues),
    requestHeadersTimeoutMs: durationMs(h, 'request_headers_timeout', 10_000, path, issues),
    streamIdleTimeoutMs: durationMs(h, 'stream_idle_timeout', 300_000, path, issues),
    idleTimeoutMs: durationMs(cpo, 'idle_timeout', HOUR_MS, cpp, issues),
    maxHeadersCount,
    maxRequestHeadersKb,
    drainTimeoutMs: durationMs(h, 'drain_timeout', 5_000, path, issues),
    useRemoteAddress: boolWrapper(h, 'use_remote_address', false),
    xffNumTrustedHops: num(h, 'xff_num_trusted_hops'),
    generateRequestId: boolWrapper(h, 'generate_request_id', true),
    preserveExternalRequestId: bool(h, 'preserve_external_request_id'),
    via: str(h, 'via'),
    serverName: serverName === '' ? 'tessera' : serverName,
    acceptHttp10: bool(hpo, 'accept_http_10'),
    upgradeTypes: hcmUpgradeTypes(h, path, issues),
    normalizePath: boolWrapper(h, 'normalize_path', false),
    mergeSlashes: bool(h, 'merge_slashes'),
    http2: http2ProtocolOptions(obj(h, 'http2_protocol_options'), join(path, 'http2_protocol_options'), issues, DOWNSTREAM_HTTP2_DEFAULTS),
    maxStreamDurationMs: durationMs(cpo, 'max_stream_duration', 0, cpp, issues),
    forwardClientCertDetails: enumOf(h, 'forward_client_cert_details', XFCC_MODES, 'SANITIZE', path, issues),
    setCurrentClientCertDetails: clientCertDetails(obj(h, 'set_current_client_cert_details'), join(path, 'set_current_client_cert_details'), issues),
  };
}

const XFCC_MODES = ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'] as const;

function clientCertDetails(o: Obj | null, path: string, issues: Issues): HcmConfig['setCurrentClientCertDetails'] {
  if (o === null) return { subject: false, cert: false, chain: false, dns: false, uri: false };
  onlyKnown(o, path, ['subject', 'cert', 'chain', 'dns', 'uri'], [], issues);
  for (const k of ['cert', 'chain']) if (bool(o, k)) issues.add(join(path, k), `${NOT_SUPPORTED} (Subject, URI and DNS are)`);
  return { subject: boolWrapper(o, 'subject', false), cert: bool(o, 'cert'), chain: bool(o, 'chain'), dns: bool(o, 'dns'), uri: bool(o, 'uri') };
}

/**
 * http_filters: each non-router filter's typed_config goes to the validator registered for its type URL
 * (src/xds/resources/filters/); the router must be last. An unknown type is rejected unless `is_optional`
 * (Envoy then skips it). A `disabled` filter is validated and left out: Envoy runs it only where a route
 * enables it through typed_per_filter_config, which Tessera rejects.
 */
function httpFilterChain(h: Obj, path: string, issues: Issues): HttpFilterRef[] {
  const out: HttpFilterRef[] = [];
  const filters = list(h, 'http_filters');
  const fp = join(path, 'http_filters');
  if (filters.length === 0) issues.add(fp, `the last filter must be ${ROUTER_FILTER_NAME}`);
  filters.forEach((f, i) => {
    const p = join(fp, i);
    onlyKnown(f, p, ['name', 'typed_config', 'disabled', 'is_optional'], [], issues);
    const tc = obj(f, 'typed_config');
    const name = str(f, 'name');
    const optional = bool(f, 'is_optional');
    // A type outside the loaded protos decodes without @type: an optional filter of such a type is skipped.
    if (tc && typeof tc['@type'] !== 'string' && optional) return;
    const t = tc ? anyType(tc, join(p, 'typed_config'), issues) : name === ROUTER_FILTER_NAME ? TypeUrl.Router : null;
    if (t === null && !tc) issues.add(join(p, 'typed_config'), 'required');
    if (t === null) return;
    if (t === TypeUrl.Router) {
      if (tc) onlyKnown(anyBody(tc), join(p, 'typed_config'), [], [], issues);
      if (bool(f, 'disabled')) issues.add(join(p, 'disabled'), `${ROUTER_FILTER_NAME} cannot be disabled`);
      if (i !== filters.length - 1) issues.add(p, `${ROUTER_FILTER_NAME} must be the last filter`);
      return;
    }
    const validate = httpFilterConfigValidator(t);
    if (!validate) {
      if (!optional) issues.add(join(p, 'typed_config'), `HTTP filter ${name !== '' ? `${name} (${t})` : t} ${NOT_SUPPORTED}`);
      return;
    }
    const config = validate(anyBody(tc!), join(p, 'typed_config'), issues);
    if (!bool(f, 'disabled')) out.push({ name, typeUrl: t, config });
  });
  if (filters.length > 0) {
    const last = filters[filters.length - 1]!;
    const lt = obj(last, 'typed_config')?.['@type'] ?? (str(last, 'name') === ROUTER_FILTER_NAME ? TypeUrl.Router : null);
    if (lt !== TypeUrl.Router) issues.add(fp, `the last filter must be ${ROUTER_FILTER_NAME}`);
  }
  return out;
}
