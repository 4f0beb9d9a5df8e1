// Envoy bootstrap (envoy.config.bootstrap.v3.Bootstrap, YAML or proto3 JSON) → validated BootstrapConfig.
// Static listeners/clusters go through the same validators as xDS resources, after a proto round trip.
import { readFile } from 'node:fs/promises';
import protobuf from 'protobufjs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { deepFreeze, err, ok, type Result } from '../core/result.js';
import { NOT_SUPPORTED, jsonToStruct, jsonToValue } from '../xds/resources/common.js';
import { validateCluster } from '../xds/resources/cluster.js';
import { validateListener } from '../xds/resources/listener.js';
import { decodeMessage, encodeMessage, lookupType } from '../xds/protos.js';
import { TypeUrl } from '../xds/type-urls.js';
import type { ClusterConfig, ListenerConfig, SocketAddress } from '../xds/resources/types.js';

export interface NodeConfig {
  readonly id: string;
  readonly cluster: string;
  /** node.metadata as plain JSON. */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly locality: { readonly region: string; readonly zone: string; readonly subZone: string };
}

export interface BootstrapConfig {
  readonly node: NodeConfig;
  readonly admin: SocketAddress | null;
  readonly ads: AdsBootstrap | null;
  readonly staticListeners: readonly ListenerConfig[];
  /** Data-plane static clusters; the cluster named by ads_config is not among them. */
  readonly staticClusters: readonly ClusterConfig[];
}

/** How the sidecar reaches its control plane. */
export interface AdsBootstrap {
  readonly apiType: 'GRPC' | 'DELTA_GRPC';
  readonly server: SocketAddress;
  /** grpc_services[0].initial_metadata: sent on every call (the bootstrap token: authorization: Bearer …). */
  readonly initialMetadata: readonly { readonly key: string; readonly value: string }[];
  /** The xDS cluster's UpstreamTlsContext: TLS to the control plane, its certificate checked against these. */
  readonly tls: XdsTls | null;
}

export interface XdsTls {
  /** validation_context.trusted_ca: PEM roots (a filename is read by loadBootstrap). */
  readonly trustedCaPem: string;
  readonly trustedCaFile: string | null;
  /** match_typed_subject_alt_names URI exact values; the server certificate must carry one of them. */
  readonly sanUris: readonly string[];
}

type Json = Record<string, unknown>;

const BOOTSTRAP_FIELDS = [
  'node_context_params', 'cluster_manager', 'hds_config', 'flags_path', 'stats_sinks', 'deferred_stat_options', 'stats_config',
  'stats_flush_on_admin', 'watchdog', 'watchdogs', 'tracing', 'layered_runtime', 'overload_manager', 'header_prefix',
  'stats_server_version_override', 'use_tcp_for_dns_lookups', 'dns_resolution_config', 'typed_dns_resolver_config',
  'bootstrap_extensions', 'fatal_actions', 'config_sources', 'default_config_source', 'default_socket_interface',
  'certificate_provider_instances', 'inline_headers', 'perf_tracing_file_path', 'default_regex_engine',
  'xds_delegate_extension', 'xds_config_tracker_extension', 'listener_manager', 'application_log_config',
  'grpc_async_client_manager_config', 'memory_allocator_manager',
];

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function isJson(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** One parse: the document's positions and the mapping from normalised (snake_case) paths to the file's own keys. */
class Ctx {
  readonly errors: string[] = [];
  readonly positions = new Map<string, number>();
  readonly rawPaths = new Map<string, string>();
  constructor(
    readonly fileName: string,
    readonly lines: LineCounter,
  ) {}

  /** Records that the value at normalised `norm` is written at `raw` in the file. */
  map(norm: string, raw: string): void {
    if (!this.rawPaths.has(norm)) this.rawPaths.set(norm, raw);
  }

  add(norm: string, message: string): void {
    let p = norm;
    let offset: number | undefined;
    for (;;) {
      const raw = this.rawPaths.get(p);
      offset = raw === undefined ? undefined : this.positions.get(raw);
      if (offset !== undefined || p === '') break;
      // Drop the last segment (.key, [index], ["quoted key"], or the first bare key); a path the pattern cannot
      // shorten falls back to the document start rather than looping.
      const shorter = p.replace(/(\.[^.[\]]+|\[\d+\]|\["(?:[^"\\]|\\.)*"\])$|^[^.[\]]+$/, '');
      if (shorter === p) break;
      p = shorter;
    }
    const { line, col } = this.lines.linePos(offset ?? 0);
    this.errors.push(`${this.fileName}:${line}:${col}: ${norm === '' ? '' : `${norm}: `}${message}`);
  }

  /** Iterates `obj`'s keys as snake_case, reporting keys not in `handled`/`ignored` (`known` ones as not supported). */
  fields(obj: unknown, raw: string, norm: string, handled: readonly string[], ignored: readonly string[] = [], known: readonly string[] = []): Map<string, { value: unknown; raw: string; norm: string }> {
    const out = new Map<string, { value: unknown; raw: string; norm: string }>();
    this.map(norm, raw);
    if (obj === undefined || obj === null) return out;
    if (!isJson(obj)) {
      this.add(norm, 'expected an object');
      return out;
    }
    for (const [k, value] of Object.entries(obj)) {
      const s = snake(k);
      const r = joinPath(raw, k);
      const n = joinPath(norm, s);
      this.map(n, r);
      if (handled.includes(s)) out.set(s, { value, raw: r, norm: n });
      else if (ignored.includes(s)) continue;
      else this.add(n, known.includes(s) ? NOT_SUPPORTED : 'unknown field');
    }
    return out;
  }
}

const WRAPPERS = new Set(
  ['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map(
    (n) => `.google.protobuf.${n}`,
  ),
);

/** Converts proto3 JSON (camelCase or snake_case keys, "5s" durations, bare wrappers, `@type` Anys) to protobufjs' object form. */
function fromJson(type: protobuf.Type, value: unknown, raw: string, norm: string, ctx: Ctx): unknown {
  ctx.map(norm, raw);
  const full = type.fullName;
  if (full === '.google.protobuf.Duration' && typeof value === 'string') {
    const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value);
    if (!m) {
      ctx.add(norm, `invalid duration "${value}" (expected e.g. "5s" or "0.250s")`);
      return undefined;
    }
    return { seconds: m[1], nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
  }
  if (WRAPPERS.has(full) && !isJson(value)) return { value: scalar(type.fields.value!, value, raw, norm, ctx) };
  if (full === '.google.protobuf.Struct') {
    if (!isJson(value)) ctx.add(norm, 'expected an object');
    return isJson(value) ? jsonToStruct(value) : undefined;
  }
  if (full === '.google.protobuf.Value') return jsonToValue(value);
  if (full === '.google.protobuf.ListValue') return { values: Array.isArray(value) ? value.map(jsonToValue) : [] };
  if (!isJson(value)) {
    ctx.add(norm, `expected an object (${full.slice(1)})`);
    return undefined;
  }
  if (full === '.google.protobuf.Any') {
    const url = value['@type'];
    if (typeof url !== 'string') {
      ctx.add(norm, 'Any without @type');
      return undefined;
    }
    let inner: protobuf.Type;
    try {
      inner = lookupType(url.slice(url.lastIndexOf('/') + 1));
    } catch {
      ctx.add(joinPath(norm, '@type'), `type ${url} ${NOT_SUPPORTED}`);
      return undefined;
    }
    const rest: Json = {};
    for (const [k, v] of Object.entries(value)) if (k !== '@type') rest[k] = v;
    return { '@type': url, ...(fromJson(inner, rest, raw, norm, ctx) as Json) };
  }
  const byName = new Map<string, protobuf.Field>();
  for (const f of type.fieldsArray) {
    byName.set(f.name, f);
    byName.set(f.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()), f);
    const jn = (f.options as Json | undefined)?.json_name;
    if (typeof jn === 'string') byName.set(jn, f);
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    const f = byName.get(k);
    const r = joinPath(raw, k);
    if (!f) {
      ctx.map(joinPath(norm, snake(k)), r);
      ctx.add(joinPath(norm, snake(k)), `unknown field of ${full.slice(1)}`);
      continue;
    }
    const n = joinPath(norm, f.name);
    ctx.map(n, r);
    if (v === null || v === undefined) continue;
    f.resolve();
    if (f.map) {
      if (!isJson(v)) {
        ctx.add(n, 'expected an object');
        continue;
      }
      const m: Json = {};
      for (const [mk, mv] of Object.entries(v)) m[mk] = fieldValue(f, mv, joinPath(r, mk), joinPath(n, mk), ctx);
      out[f.name] = m;
    } else if (f.repeated) {
      if (!Array.isArray(v)) {
        ctx.add(n, 'expected a list');
        continue;
      }
      out[f.name] = v.map((e, i) => fieldValue(f, e, joinPath(r, i), joinPath(n, i), ctx));
    } else out[f.name] = fieldValue(f, v, r, n, ctx);
  }
  return out;
}

function fieldValue(f: protobuf.Field, v: unknown, raw: string, norm: string, ctx: Ctx): unknown {
  ctx.map(norm, raw);
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) return fromJson(rt, v, raw, norm, ctx);
  if (rt instanceof protobuf.Enum) {
    if (typeof v === 'string' && rt.values[v] === undefined) ctx.add(norm, `unknown value ${v} of ${rt.fullName.slice(1)}`);
    else if (typeof v !== 'string' && typeof v !== 'number') ctx.add(norm, 'expected an enum name');
    return v;
  }
  return scalar(f, v, raw, norm, ctx);
}

function scalar(f: protobuf.Field, v: unknown, _raw: string, norm: string, ctx: Ctx): unknown {
  switch (f.type) {
    case 'string':
    case 'bytes':
      if (typeof v !== 'string') ctx.add(norm, 'expected a string');
      return v;
    case 'bool':
      if (typeof v !== 'boolean') ctx.add(norm, 'expected true or false');
      return v;
    case 'double':
    case 'float':
      if (typeof v !== 'number') ctx.add(norm, 'expected a number');
      return v;
    default: {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) ctx.add(norm, 'expected an integer');
      else if ((f.type.startsWith('uint') || f.type.startsWith('fixed')) && n < 0) ctx.add(norm, 'must not be negative');
      return typeof v === 'string' && f.type.endsWith('64') ? v : n;
    }
  }
}

/** proto3 JSON of one resource → decoded object (as an xDS client would see it), or null after reporting. */
function roundTrip(typeUrl: string, value: unknown, raw: string, norm: string, ctx: Ctx): Record<string, unknown> | null {
  const before = ctx.errors.length;
  const type = lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  const obj = fromJson(type, value, raw, norm, ctx);
  if (ctx.errors.length > before || !isJson(obj)) return null;
  try {
    return decodeMessage(typeUrl, encodeMessage(typeUrl, obj));
  } catch (e) {
    ctx.add(norm, (e as Error).message);
    return null;
  }
}

function addValidatorErrors(ctx: Ctx, norm: string, errors: readonly string[]): void {
  for (const e of errors) {
    const i = e.indexOf(': ');
    if (i < 0 || /\s/.test(e.slice(0, i))) ctx.add(norm, e);
    else ctx.add(`${norm}${e.startsWith('[') ? '' : '.'}${e.slice(0, i)}`, e.slice(i + 2));
  }
}

function indexPositions(node: unknown, path: string, out: Map<string, number>): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const p = joinPath(path, key);
      const at = (pair.key as Node | null)?.range?.[0];
      if (at !== undefined) out.set(p, at);
      indexPositions(pair.value, p, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((it, i) => {
      const p = joinPath(path, i);
      const at = (it as Node | null)?.range?.[0];
      if (at !== undefined) out.set(p, at);
      indexPositions(it, p, out);
    });
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Parses an Envoy bootstrap in YAML or JSON; errors read `file:line:col: field.path: message`. */
export function parseBootstrap(text: string, fileName: string): Result<BootstrapConfig> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const ctx = new Ctx(fileName, lines);
  if (doc.errors.length > 0) {
    return err(doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      return `${fileName}:${line}:${col}: ${e.message.split('\n')[0]}`;
    }));
  }
  indexPositions(doc.contents, '', ctx.positions);
  ctx.positions.set('', (doc.contents as Node | null)?.range?.[0] ?? 0);
  const root: unknown = doc.toJS();
  if (!isJson(root)) return err(`${fileName}:1:1: expected a Bootstrap object`);
  const top = ctx.fields(root, '', '', ['node', 'admin', 'static_resources', 'dynamic_resources'], ['stats_flush_interval', 'enable_dispatcher_stats'], BOOTSTRAP_FIELDS);

  const node = parseNode(top.get('node'), ctx);
  const admin = parseAdmin(top.get('admin'), ctx);

  const sr = top.get('static_resources');
  const srf = sr ? ctx.fields(sr.value, sr.raw, sr.norm, ['listeners', 'clusters'], [], ['secrets']) : new Map();
  const listenersJson = asList(srf.get('listeners'), ctx);
  const clustersJson = asList(srf.get('clusters'), ctx);

  const dr = top.get('dynamic_resources');
  const adsClusterName = dr ? parseDynamic(dr, ctx) : null;
  let ads: BootstrapConfig['ads'] = null;

  const staticClusters: ClusterConfig[] = [];
  const names = new Set<string>();
  clustersJson.forEach((c) => {
    const name = isJson(c.value) ? str(c.value.name) : '';
    if (names.has(name)) ctx.add(joinPath(c.norm, 'name'), `duplicate cluster "${name}"`);
    names.add(name);
    if (adsClusterName && name === adsClusterName.name) {
      const x = parseXdsCluster(c, ctx);
      if (x) ads = { apiType: adsClusterName.apiType, server: x.server, initialMetadata: adsClusterName.initialMetadata, tls: x.tls };
      return;
    }
    const decoded = roundTrip(TypeUrl.Cluster, c.value, c.raw, c.norm, ctx);
    if (!decoded) return;
    const r = validateCluster(decoded);
    if (r.ok) staticClusters.push(r.value);
    else addValidatorErrors(ctx, c.norm, r.errors);
  });
  if (adsClusterName && !ads && !clustersJson.some((c) => isJson(c.value) && c.value.name === adsClusterName.name)) {
    ctx.add(adsClusterName.at, `cluster "${adsClusterName.name}" is not among static_resources.clusters`);
  }

  const staticListeners: ListenerConfig[] = [];
  listenersJson.forEach((l) => {
    const decoded = roundTrip(TypeUrl.Listener, l.value, l.raw, l.norm, ctx);
    if (!decoded) return;
    const r = validateListener(decoded);
    if (r.ok) staticListeners.push(r.value);
    else addValidatorErrors(ctx, l.norm, r.errors);
  });

  if (ctx.errors.length > 0) return err(ctx.errors);
  return ok(deepFreeze({ node, admin, ads, staticListeners, staticClusters }));
}

type Entry = { value: unknown; raw: string; norm: string };

function asList(e: Entry | undefined, ctx: Ctx): Entry[] {
  if (!e || e.value === null || e.value === undefined) return [];
  if (!Array.isArray(e.value)) {
    ctx.add(e.norm, 'expected a list');
    return [];
  }
  return e.value.map((value, i) => {
    const raw = joinPath(e.raw, i);
    const norm = joinPath(e.norm, i);
    ctx.map(norm, raw);
    return { value, raw, norm };
  });
}

function parseNode(e: Entry | undefined, ctx: Ctx): NodeConfig {
  if (!e) {
    ctx.add('', 'node: required');
    return { id: '', cluster: '', metadata: {}, locality: { region: '', zone: '', subZone: '' } };
  }
  const f = ctx.fields(e.value, e.raw, e.norm, ['id', 'cluster', 'metadata', 'locality'], ['user_agent_name', 'user_agent_version', 'client_features'], [
    'dynamic_parameters', 'user_agent_build_version', 'extensions', 'listening_addresses',
  ]);
  const id = str(f.get('id')?.value);
  if (id === '') ctx.add(joinPath(e.norm, 'id'), 'required');
  const md = f.get('metadata');
  if (md && !isJson(md.value)) ctx.add(md.norm, 'expected an object');
  const loc = f.get('locality');
  const lf = loc ? ctx.fields(loc.value, loc.raw, loc.norm, ['region', 'zone', 'sub_zone']) : new Map<string, Entry>();
  return {
    id,
    cluster: str(f.get('cluster')?.value),
    metadata: md && isJson(md.value) ? md.value : {},
    locality: { region: str(lf.get('region')?.value), zone: str(lf.get('zone')?.value), subZone: str(lf.get('sub_zone')?.value) },
  };
}

function socketAddressJson(e: Entry | undefined, ctx: Ctx, where: string): SocketAddress | null {
  if (!e) {
    ctx.add(where, 'required');
    return null;
  }
  const f = ctx.fields(e.value, e.raw, e.norm, ['socket_address'], [], ['pipe', 'envoy_internal_address']);
  const sa = f.get('socket_address');
  if (!sa) {
    ctx.add(e.norm, 'socket_address: required');
    return null;
  }
  const sf = ctx.fields(sa.value, sa.raw, sa.norm, ['address', 'port_value'], ['protocol'], ['named_port', 'resolver_name', 'ipv4_compat']);
  const address = str(sf.get('address')?.value);
  if (address === '') ctx.add(joinPath(sa.norm, 'address'), 'required');
  const pv = sf.get('port_value')?.value;
  const port = typeof pv === 'string' ? Number(pv) : typeof pv === 'number' ? pv : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) ctx.add(joinPath(sa.norm, 'port_value'), `out of range: ${String(pv)}`);
  return { address, port };
}

function parseAdmin(e: Entry | undefined, ctx: Ctx): SocketAddress | null {
  if (!e) return null;
  const f = ctx.fields(e.value, e.raw, e.norm, ['address'], ['access_log_path', 'access_log', 'profile_path', 'ignore_global_conn_limit'], ['socket_options']);
  return socketAddressJson(f.get('address'), ctx, joinPath(e.norm, 'address'));
}

function parseDynamic(e: Entry, ctx: Ctx): { name: string; apiType: 'GRPC' | 'DELTA_GRPC'; at: string; initialMetadata: { key: string; value: string }[] } | null {
  const f = ctx.fields(e.value, e.raw, e.norm, ['ads_config', 'lds_config', 'cds_config'], [], ['lds_resources_locator', 'cds_resources_locator']);
  for (const k of ['lds_config', 'cds_config']) {
    const c = f.get(k);
    if (!c) {
      ctx.add(joinPath(e.norm, k), 'required: {ads: {}} (Tessera subscribes to LDS and CDS over ADS)');
      continue;
    }
    const cf = ctx.fields(c.value, c.raw, c.norm, ['ads', 'resource_api_version'], ['initial_fetch_timeout'], ['path_config_source', 'api_config_source', 'self', 'authorities', 'path']);
    if (!cf.has('ads')) ctx.add(c.norm, `config sources other than ads are ${NOT_SUPPORTED}`);
    const rv = cf.get('resource_api_version');
    if (rv && rv.value !== 'V3') ctx.add(rv.norm, `${String(rv.value)} ${NOT_SUPPORTED}`);
  }
  const a = f.get('ads_config');
  if (!a) {
    ctx.add(joinPath(e.norm, 'ads_config'), 'required');
    return null;
  }
  const af = ctx.fields(a.value, a.raw, a.norm, ['api_type', 'transport_api_version', 'grpc_services'], ['set_node_on_first_message_only'], [
    'cluster_names', 'refresh_delay', 'request_timeout', 'rate_limit_settings', 'config_validators',
  ]);
  const at = af.get('api_type');
  const apiType = at?.value;
  if (apiType !== 'GRPC' && apiType !== 'DELTA_GRPC') ctx.add(at?.norm ?? joinPath(a.norm, 'api_type'), `must be GRPC or DELTA_GRPC, got ${String(apiType)}`);
  const tv = af.get('transport_api_version');
  if (tv && tv.value !== 'V3') ctx.add(tv.norm, `${String(tv.value)} ${NOT_SUPPORTED}`);
  const gs = asList(af.get('grpc_services'), ctx);
  if (gs.length !== 1) {
    ctx.add(joinPath(a.norm, 'grpc_services'), 'exactly one grpc service is required');
    return null;
  }
  const g = ctx.fields(gs[0]!.value, gs[0]!.raw, gs[0]!.norm, ['envoy_grpc', 'initial_metadata'], ['timeout'], ['google_grpc', 'retry_policy']);
  const initialMetadata: { key: string; value: string }[] = [];
  for (const m of asList(g.get('initial_metadata'), ctx)) {
    const mf = ctx.fields(m.value, m.raw, m.norm, ['key', 'value'], [], ['raw_value']);
    const key = str(mf.get('key')?.value).toLowerCase();
    if (!/^[a-z0-9_.-]+$/.test(key) || key.endsWith('-bin')) ctx.add(joinPath(m.norm, 'key'), 'a gRPC ASCII metadata key is required');
    else initialMetadata.push({ key, value: str(mf.get('value')?.value) });
  }
  const eg = g.get('envoy_grpc');
  if (!eg) {
    ctx.add(gs[0]!.norm, 'envoy_grpc: required');
    return null;
  }
  const ef = ctx.fields(eg.value, eg.raw, eg.norm, ['cluster_name'], ['authority'], ['retry_policy', 'max_receive_message_length', 'skip_envoy_headers']);
  const name = str(ef.get('cluster_name')?.value);
  if (name === '') ctx.add(joinPath(eg.norm, 'cluster_name'), 'required');
  return { name, apiType: apiType === 'DELTA_GRPC' ? 'DELTA_GRPC' : 'GRPC', at: joinPath(eg.norm, 'cluster_name'), initialMetadata };
}

const XDS_CLUSTER_TYPES = new Set([undefined, 'STATIC', 'STRICT_DNS', 'LOGICAL_DNS']);
const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** The ADS server's cluster: its first endpoint's address (grpc-js resolves a hostname itself) and its TLS. */
function parseXdsCluster(c: Entry, ctx: Ctx): { server: SocketAddress; tls: XdsTls | null } | null {
  if (!isJson(c.value)) {
    ctx.add(c.norm, 'expected an object');
    return null;
  }
  const rest: Json = {};
  for (const [k, v] of Object.entries(c.value)) {
    const s = snake(k);
    if (s === 'typed_extension_protocol_options') {
      for (const key of Object.keys(isJson(v) ? v : {})) {
        if (key !== HTTP_PROTOCOL_OPTIONS) ctx.add(joinPath(joinPath(c.norm, s), key), NOT_SUPPORTED);
      }
    } else if (s !== 'http2_protocol_options') rest[k] = v;
  }
  const decoded = roundTrip(TypeUrl.Cluster, rest, c.raw, c.norm, ctx);
  if (!decoded) return null;
  if (!XDS_CLUSTER_TYPES.has(decoded.type as string | undefined)) {
    ctx.add(joinPath(c.norm, 'type'), `${String(decoded.type)} ${NOT_SUPPORTED} for the xDS cluster`);
    return null;
  }
  const la = decoded.load_assignment as Json | undefined;
  const ep = ((la?.endpoints as Json[] | undefined)?.[0]?.lb_endpoints as Json[] | undefined)?.[0]?.endpoint as Json | undefined;
  const sa = (ep?.address as Json | undefined)?.socket_address as Json | undefined;
  if (!sa || str(sa.address) === '' || typeof sa.port_value !== 'number') {
    ctx.add(joinPath(c.norm, 'load_assignment'), 'the xDS cluster needs one endpoint with a socket_address and port_value');
    return null;
  }
  return { server: { address: str(sa.address), port: sa.port_value }, tls: xdsTls(decoded.transport_socket as Json | undefined, joinPath(c.norm, 'transport_socket'), ctx) };
}

const TLS_SOCKET = 'envoy.transport_sockets.tls';

/** The xDS cluster's transport_socket: envoy.transport_sockets.tls with an UpstreamTlsContext that checks the server. */
function xdsTls(ts: Json | undefined, at: string, ctx: Ctx): XdsTls | null {
  if (ts === undefined) return null;
  const tc = ts.typed_config as Json | undefined;
  const type = str(tc?.['@type']);
  if (type !== TypeUrl.UpstreamTlsContext) {
    ctx.add(joinPath(at, 'typed_config'), `the xDS cluster's transport socket must be ${TLS_SOCKET} with an UpstreamTlsContext`);
    return null;
  }
  for (const k of Object.keys(tc!)) {
    if (k !== '@type' && k !== 'common_tls_context' && k !== 'sni') ctx.add(joinPath(joinPath(at, 'typed_config'), k), `${NOT_SUPPORTED} on the xDS cluster`);
  }
  const common = (tc!.common_tls_context ?? {}) as Json;
  for (const k of Object.keys(common)) {
    if (k !== 'validation_context' && k !== 'tls_params') ctx.add(joinPath(at, `typed_config.common_tls_context.${k}`), `${NOT_SUPPORTED} on the xDS cluster (clients authenticate with a bootstrap token)`);
  }
  const vc = (common.validation_context ?? {}) as Json;
  const vp = joinPath(at, 'typed_config.common_tls_context.validation_context');
  for (const k of Object.keys(vc)) {
    if (k !== 'trusted_ca' && k !== 'match_typed_subject_alt_names') ctx.add(joinPath(vp, k), `${NOT_SUPPORTED} on the xDS cluster`);
  }
  const ca = (vc.trusted_ca ?? {}) as Json;
  const file = str(ca.filename);
  const inline = str(ca.inline_string);
  if (file === '' && inline === '') {
    ctx.add(joinPath(vp, 'trusted_ca'), 'required: filename or inline_string with the mesh root certificate(s)');
    return null;
  }
  const sanUris: string[] = [];
  ((vc.match_typed_subject_alt_names ?? []) as Json[]).forEach((m, i) => {
    const matcher = (m.matcher ?? {}) as Json;
    if (m.san_type !== 'URI' || typeof matcher.exact !== 'string') {
      ctx.add(joinPath(vp, `match_typed_subject_alt_names[${i}]`), 'only san_type URI with an exact matcher is supported on the xDS cluster');
    } else sanUris.push(matcher.exact);
  });
  return { trustedCaPem: inline, trustedCaFile: file === '' ? null : file, sanUris };
}

export async function loadBootstrap(path: string): Promise<Result<BootstrapConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return err(`${path}: ${(e as Error).message}`);
  }
  const r = parseBootstrap(text, path);
  const tls = r.ok ? r.value.ads?.tls : null;
  if (!r.ok || !tls || tls.trustedCaFile === null) return r;
  // The control plane's root comes from a file (distributed like Istio's root-cert configmap): read it now.
  let pem: string;
  try {
    pem = await readFile(tls.trustedCaFile, 'utf8');
  } catch (e) {
    return err(`${path}: xDS cluster trusted_ca: ${(e as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return err(`${path}: xDS cluster trusted_ca: ${tls.trustedCaFile} holds no PEM certificate`);
  const ads = { ...r.value.ads!, tls: { ...tls, trustedCaPem: pem } };
  return ok(deepFreeze({ ...r.value, ads }));
}

export interface BootstrapFlags {
  readonly nodeId: string;
  readonly cluster?: string | undefined;
  /** 'host:port' or '[v6]:port' of the ADS server. */
  readonly xds: string;
  /** Admin port on 127.0.0.1 (0 = any free port); no admin when undefined. */
  readonly adminPort?: number | undefined;
  readonly delta?: boolean | undefined;
  /** Bootstrap token sent as `authorization: Bearer …` on xDS and CA calls. */
  readonly token?: string | undefined;
  /** TLS to the control plane: its root(s), and the URI SANs its certificate may carry. */
  readonly xdsTls?: { readonly trustedCaPem: string; readonly sanUris: readonly string[] } | undefined;
}

/** A bootstrap from command-line flags; throws on a malformed `xds` (a usage error). */
export function bootstrapFromFlags(flags: BootstrapFlags): BootstrapConfig {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(flags.xds);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`xds: expected host:port, got "${flags.xds}"`);
  return deepFreeze({
    node: { id: flags.nodeId, cluster: flags.cluster ?? '', metadata: {}, locality: { region: '', zone: '', subZone: '' } },
    admin: flags.adminPort === undefined ? null : { address: '127.0.0.1', port: flags.adminPort },
    ads: {
      apiType: flags.delta ? 'DELTA_GRPC' : 'GRPC',
      server: { address: (m[1] ?? m[2])!, port },
      initialMetadata: flags.token === undefined ? [] : [{ key: 'authorization', value: `Bearer ${flags.token}` }],
      tls: flags.xdsTls === undefined ? null : { trustedCaPem: flags.xdsTls.trustedCaPem, trustedCaFile: null, sanUris: [...flags.xdsTls.sanUris] },
    },
    staticListeners: [],
    staticClusters: [],
  });
}
