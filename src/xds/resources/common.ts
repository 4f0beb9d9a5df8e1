// Shared pieces of the xDS resource validators: a path-tracking reader over decoded protos, durations,
// wrappers, addresses, string matchers, regexes and header mutations.
import { isIP } from 'node:net';
import type {
  HeaderMutationsConfig,
  Http2ProtocolConfig,
  HeaderValueOptionConfig,
  SocketAddress,
  StringMatchConfig,
} from './types.js';

export type Obj = Record<string, unknown>;

export const NOT_SUPPORTED = 'not supported by Tessera';

/** Joins a parent path and a key (`a.b`, `a[0]`). */
export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** Collects errors (each `path: message`) while one resource is validated. */
export class Issues {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(path === '' ? message : `${path}: ${message}`);
  }
  unsupported(path: string): void {
    this.add(path, NOT_SUPPORTED);
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
}

export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** True when a decoded value carries information (non-empty message/list/string, non-zero, true). */
export function isSet(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObj(v)) return Object.keys(v).length > 0;
  if (typeof v === 'string') return v !== '' && v !== '0';
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  return true;
}

/**
 * Reports every key of `obj` not named in `handled` or `ignored` as not supported. `handled` keys are read by
 * the caller; `ignored` are informational fields accepted without effect.
 */
export function onlyKnown(obj: Obj, path: string, handled: readonly string[], ignored: readonly string[], issues: Issues): void {
  for (const k of Object.keys(obj)) {
    if (handled.includes(k) || ignored.includes(k)) continue;
    const v = obj[k];
    // A present message counts even when empty (an empty `tracing` enables tracing); empty lists do not.
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    issues.unsupported(join(path, k));
  }
}

export function obj(o: Obj, key: string): Obj | null {
  const v = o[key];
  return isObj(v) ? v : null;
}

export function list(o: Obj, key: string): Obj[] {
  const v = o[key];
  return Array.isArray(v) ? (v as Obj[]) : [];
}

export function str(o: Obj, key: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : '';
}

export function strList(o: Obj, key: string): string[] {
  const v = o[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function bool(o: Obj, key: string): boolean {
  return o[key] === true;
}

/** A scalar number that may arrive as a string (64-bit ints); 0 when absent. */
export function num(o: Obj, key: string): number {
  const v = o[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '') return Number(v);
  return 0;
}

/** google.protobuf.(U)Int32Value / UInt64Value: `{value}`; `dflt` when absent. */
export function u32Wrapper(o: Obj, key: string, dflt: number): number {
  const w = obj(o, key);
  if (!w) return dflt;
  return num(w, 'value');
}

/** google.protobuf.BoolValue: `{value}`; `dflt` when absent. */
export function boolWrapper(o: Obj, key: string, dflt: boolean): boolean {
  const w = obj(o, key);
  if (!w) return dflt;
  return w.value === true;
}

/** google.protobuf.Duration `{seconds, nanos}` → milliseconds; `dflt` when absent. */
export function durationMs(o: Obj, key: string, dflt: number, path: string, issues: Issues): number {
  const d = obj(o, key);
  if (!d) return dflt;
  const seconds = num(d, 'seconds');
  const nanos = num(d, 'nanos');
  if (seconds < 0 || nanos < 0 || !Number.isFinite(seconds)) {
    issues.add(join(path, key), 'must not be negative');
    return dflt;
  }
  if (seconds > 315_576_000_000) {
    issues.add(join(path, key), 'out of range');
    return dflt;
  }
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

/** envoy.config.core.v3.Address → SocketAddress (TCP socket_address with port_value only). */
export function socketAddress(addr: Obj | null, path: string, issues: Issues, requireIp: boolean): SocketAddress | null {
  if (!addr) {
    issues.add(path, 'required');
    return null;
  }
  onlyKnown(addr, path, ['socket_address'], [], issues);
  const sa = obj(addr, 'socket_address');
  const p = join(path, 'socket_address');
  if (!sa) {
    if (Object.keys(addr).length === 0) issues.add(p, 'required');
    return null;
  }
  onlyKnown(sa, p, ['address', 'port_value', 'protocol'], ['ipv4_compat'], issues);
  if (sa.protocol !== undefined && sa.protocol !== 'TCP') issues.add(join(p, 'protocol'), `${String(sa.protocol)} ${NOT_SUPPORTED}`);
  const address = str(sa, 'address');
  if (address === '') issues.add(join(p, 'address'), 'required');
  else if (requireIp && isIP(address) === 0) issues.add(join(p, 'address'), `must be an IP literal, got "${address}"`);
  const port = num(sa, 'port_value');
  if (!Number.isInteger(port) || port < 0 || port > 65535) issues.add(join(p, 'port_value'), `out of range: ${port}`);
  return { address, port };
}

/**
 * Compiles an Envoy safe_regex (RE2 syntax) as a JS RegExp with the `u` flag, matching the whole input.
 * Constructs RE2 lacks (look-around, back-references) are rejected so behaviour cannot differ from Envoy;
 * RE2-only syntax (`(?P<n>`, `(?i)`, `\z`, `\C`) fails to compile and is reported.
 */
export function compileRegex(regex: string): RegExp {
  if (/\(\?<?[=!]/.test(regex)) throw new SyntaxError('look-around is not RE2 syntax');
  if (/\\[1-9]|\\k</.test(regex)) throw new SyntaxError('back-references are not RE2 syntax');
  return new RegExp(`^(?:${regex})$`, 'u');
}

/** Checks an envoy.type.matcher.v3.RegexMatcher and returns its pattern, or null after reporting. */
export function regexMatcher(m: Obj | null, path: string, issues: Issues): string | null {
  if (!m) {
    issues.add(path, 'required');
    return null;
  }
  onlyKnown(m, path, ['regex'], ['google_re2'], issues);
  const re = str(m, 'regex');
  if (re === '') {
    issues.add(join(path, 'regex'), 'required');
    return null;
  }
  try {
    compileRegex(re);
  } catch (e) {
    issues.add(join(path, 'regex'), `invalid regex "${re}": ${(e as Error).message}`);
    return null;
  }
  return re;
}

/** envoy.type.matcher.v3.StringMatcher. */
export function stringMatcher(m: Obj, path: string, issues: Issues): StringMatchConfig | null {
  onlyKnown(m, path, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case'], [], issues);
  const ignoreCase = bool(m, 'ignore_case');
  const kinds = (['exact', 'prefix', 'suffix', 'contains'] as const).filter((k) => typeof m[k] === 'string');
  if (m.safe_regex !== undefined) {
    if (ignoreCase) issues.add(join(path, 'ignore_case'), 'cannot be combined with safe_regex');
    const re = regexMatcher(obj(m, 'safe_regex'), join(path, 'safe_regex'), issues);
    return re === null ? null : { kind: 'regex', regex: re };
  }
  if (kinds.length === 0) {
    if (!isSet(m.custom)) issues.add(path, 'one of exact, prefix, suffix, contains, safe_regex is required');
    return null;
  }
  const kind = kinds[0]!;
  const value = m[kind] as string;
  if (kind !== 'exact' && value === '') issues.add(join(path, kind), 'must not be empty');
  return { kind, value, ignoreCase };
}

const FORBIDDEN_MUTATION = new Set(['host']);

function headerName(key: string, path: string, issues: Issues): string {
  const k = key.toLowerCase();
  if (k === '') issues.add(path, 'required');
  else if (k.startsWith(':') || FORBIDDEN_MUTATION.has(k)) issues.add(path, `header "${k}" cannot be modified`);
  else if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(k)) issues.add(path, `invalid header name "${key}"`);
  return k;
}

const APPEND_ACTIONS = ['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS'] as const;

/** envoy.config.core.v3.HeaderValueOption. */
export function headerValueOption(o: Obj, path: string, issues: Issues): HeaderValueOptionConfig {
  onlyKnown(o, path, ['header', 'append', 'append_action'], [], issues);
  const h = obj(o, 'header') ?? {};
  const hp = join(path, 'header');
  onlyKnown(h, hp, ['key', 'value', 'raw_value'], [], issues);
  const key = headerName(str(h, 'key'), join(hp, 'key'), issues);
  let value = str(h, 'value');
  if (typeof h.raw_value === 'string' && h.raw_value !== '') {
    if (value !== '') issues.add(join(hp, 'raw_value'), 'cannot be combined with value');
    value = Buffer.from(h.raw_value, 'base64').toString('latin1');
  }
  if (/[\r\n\0]/.test(value)) issues.add(join(hp, 'value'), 'contains CR, LF or NUL');
  let action: HeaderValueOptionConfig['action'] = 'APPEND_IF_EXISTS_OR_ADD';
  if (o.append_action !== undefined) {
    if (o.append !== undefined) issues.add(join(path, 'append'), 'cannot be combined with append_action');
    const a = String(o.append_action);
    if ((APPEND_ACTIONS as readonly string[]).includes(a)) action = a as HeaderValueOptionConfig['action'];
    else issues.add(join(path, 'append_action'), `unknown action ${a}`);
  } else if (isObj(o.append) && o.append.value !== true) {
    action = 'OVERWRITE_IF_EXISTS_OR_ADD';
  }
  return { key, value, action };
}

export const HEADER_MUTATION_KEYS = [
  'request_headers_to_add',
  'request_headers_to_remove',
  'response_headers_to_add',
  'response_headers_to_remove',
] as const;

/** The four header mutation lists shared by RouteConfiguration, VirtualHost, Route and WeightedCluster. */
export function headerMutations(o: Obj, path: string, issues: Issues): HeaderMutationsConfig {
  const adds = (k: string) => list(o, k).map((h, i) => headerValueOption(h, join(join(path, k), i), issues));
  const removes = (k: string) => strList(o, k).map((h, i) => headerName(h, join(join(path, k), i), issues));
  return {
    requestHeadersToAdd: adds('request_headers_to_add'),
    requestHeadersToRemove: removes('request_headers_to_remove'),
    responseHeadersToAdd: adds('response_headers_to_add'),
    responseHeadersToRemove: removes('response_headers_to_remove'),
  };
}

/** The `@type` of a decoded Any, or null (reported) when absent or of a type not loaded. */
export function anyType(a: Obj | null, path: string, issues: Issues): string | null {
  if (!a) {
    issues.add(path, 'required');
    return null;
  }
  if (typeof a['@type'] === 'string') return a['@type'];
  if (typeof a.type_url === 'string') issues.add(path, `type ${a.type_url} ${NOT_SUPPORTED}`);
  else issues.add(path, 'missing @type');
  return null;
}

/** Keys of a decoded Any other than `@type`. */
export function anyBody(a: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(a)) if (k !== '@type') out[k] = v;
  return out;
}

/** Checks a ConfigSource is `{ads: {}}` (optionally with resource_api_version V3). */
export function adsConfigSource(cs: Obj | null, path: string, issues: Issues): void {
  if (!cs) {
    issues.add(path, 'required');
    return;
  }
  onlyKnown(cs, path, ['ads', 'resource_api_version'], ['initial_fetch_timeout'], issues);
  if (cs.ads === undefined && cs.self === undefined) {
    issues.add(path, `config sources other than ads are ${NOT_SUPPORTED}`);
  }
  if (cs.resource_api_version !== undefined && cs.resource_api_version !== 'V3') {
    issues.add(join(path, 'resource_api_version'), `${String(cs.resource_api_version)} ${NOT_SUPPORTED}`);
  }
}

/** Converts a decoded google.protobuf.Struct (`{fields: {k: Value}}`) to plain JSON. */
export function structToJson(s: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isObj(s) || !isObj(s.fields)) return out;
  for (const [k, v] of Object.entries(s.fields)) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: unknown): unknown {
  if (!isObj(v)) return null;
  const pick = (a: string, b: string) => (v[a] !== undefined ? v[a] : v[b]);
  const sv = pick('stringValue', 'string_value');
  if (sv !== undefined) return sv;
  const nv = pick('numberValue', 'number_value');
  if (nv !== undefined) return Number(nv);
  const bv = pick('boolValue', 'bool_value');
  if (bv !== undefined) return bv;
  const st = pick('structValue', 'struct_value');
  if (st !== undefined) return structToJson(st);
  const lv = pick('listValue', 'list_value');
  if (isObj(lv)) return Array.isArray(lv.values) ? lv.values.map(valueToJson) : [];
  return null;
}

/** Converts plain JSON into the protobufjs object form of google.protobuf.Struct (camelCase Value fields). */
export function jsonToStruct(json: Readonly<Record<string, unknown>>): Obj {
  const fields: Obj = {};
  for (const [k, v] of Object.entries(json)) fields[k] = jsonToValue(v);
  return { fields };
}

export function jsonToValue(v: unknown): Obj {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  if (typeof v === 'object') return { structValue: jsonToStruct(v as Record<string, unknown>) };
  return { stringValue: String(v) };
}

/** A google.protobuf.(U)Int32/64Value `{value}` checked to lie in [min, max]; `dflt` when absent. */
export function u32InRange(o: Obj, key: string, dflt: number, min: number, max: number, path: string, issues: Issues): number {
  if (!isObj(o[key])) return dflt;
  const v = u32Wrapper(o, key, dflt);
  if (!Number.isInteger(v) || v < min || v > max) {
    issues.add(join(path, key), `must be in [${min}, ${max}], got ${v}`);
    return dflt;
  }
  return v;
}

/** envoy.type.v3.Percent `{value}` (0..100); `dflt` when absent. */
export function percent(o: Obj, key: string, dflt: number, path: string, issues: Issues): number {
  const w = obj(o, key);
  if (!w) return dflt;
  const v = num(w, 'value');
  if (!Number.isFinite(v) || v < 0 || v > 100) {
    issues.add(join(join(path, key), 'value'), `must be in [0, 100], got ${v}`);
    return dflt;
  }
  return v;
}

/** A Duration that, when present, must be greater than 0 (PGV `gt {}`; sub-millisecond rounds up to 1 ms); `dflt` when absent. */
export function positiveDurationMs(o: Obj, key: string, dflt: number, path: string, issues: Issues): number {
  if (!isObj(o[key])) return dflt;
  const before = issues.list.length;
  const ms = durationMs(o, key, dflt, path, issues);
  if (issues.list.length > before) return dflt;
  const d = o[key] as Obj;
  if (num(d, 'seconds') <= 0 && num(d, 'nanos') <= 0) {
    issues.add(join(path, key), 'must be greater than 0');
    return dflt;
  }
  return Math.max(1, ms);
}

/** An optional Duration: null when absent. */
export function optionalDurationMs(o: Obj, key: string, path: string, issues: Issues): number | null {
  return isObj(o[key]) ? durationMs(o, key, 0, path, issues) : null;
}

/** An optional Duration that must be greater than 0 when present: null when absent. */
export function optionalPositiveDurationMs(o: Obj, key: string, path: string, issues: Issues): number | null {
  return isObj(o[key]) ? positiveDurationMs(o, key, 0, path, issues) : null;
}

/** An enum field (decoded as its name) restricted to `allowed`; `dflt` when absent. */
export function enumOf<T extends string>(o: Obj, key: string, allowed: readonly T[], dflt: T, path: string, issues: Issues): T {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  const s = String(v);
  if ((allowed as readonly string[]).includes(s)) return s as T;
  issues.add(join(path, key), `${s} ${NOT_SUPPORTED}`);
  return dflt;
}

/** Envoy's defaults for upstream HTTP/2 (envoy.config.core.v3.Http2ProtocolOptions). */
export const UPSTREAM_HTTP2_DEFAULTS: Readonly<Http2ProtocolConfig> = Object.freeze({
  maxConcurrentStreams: 2_147_483_647,
  initialStreamWindowSize: 268_435_456,
  initialConnectionWindowSize: 268_435_456,
  maxOutboundFrames: 10_000,
  maxOutboundControlFrames: 1_000,
  maxConsecutiveInboundFramesWithEmptyPayload: 1,
  maxInboundPriorityFramesPerStream: 100,
  maxInboundWindowUpdateFramesPerDataFrameSent: 10,
});

/** Downstream HTTP/2 defaults after Envoy's edge guidance (100 streams, 64 KiB stream / 1 MiB connection windows). */
export const DOWNSTREAM_HTTP2_DEFAULTS: Readonly<Http2ProtocolConfig> = Object.freeze({
  ...UPSTREAM_HTTP2_DEFAULTS,
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 65_536,
  initialConnectionWindowSize: 1_048_576,
});

const U32_MAX = 4_294_967_295;
const I32_MAX = 2_147_483_647;

/**
 * envoy.config.core.v3.Http2ProtocolOptions (null = absent) over `defaults`. hpack_table_size and use_oghttp2_codec
 * are accepted and ignored (compression table size and codec choice do not change what is proxied);
 * allow_connect, allow_metadata, custom settings, keepalive and stream-error overrides set to non-defaults are rejected.
 */
export function http2ProtocolOptions(o: Obj | null, path: string, issues: Issues, defaults: Readonly<Http2ProtocolConfig>): Http2ProtocolConfig {
  if (!o) return { ...defaults };
  onlyKnown(
    o,
    path,
    [
      'max_concurrent_streams', 'initial_stream_window_size', 'initial_connection_window_size', 'max_outbound_frames',
      'max_outbound_control_frames', 'max_consecutive_inbound_frames_with_empty_payload', 'max_inbound_priority_frames_per_stream',
      'max_inbound_window_update_frames_per_data_frame_sent', 'allow_connect', 'allow_metadata',
      'stream_error_on_invalid_http_messaging', 'override_stream_error_on_invalid_http_message',
    ],
    ['hpack_table_size', 'use_oghttp2_codec'],
    issues,
  );
  for (const k of ['allow_connect', 'allow_metadata', 'stream_error_on_invalid_http_messaging']) {
    if (o[k] === true) issues.unsupported(join(path, k));
  }
  if (boolWrapper(o, 'override_stream_error_on_invalid_http_message', false)) {
    issues.unsupported(join(path, 'override_stream_error_on_invalid_http_message'));
  }
  const r = (key: string, dflt: number, min: number, max: number) => u32InRange(o, key, dflt, min, max, path, issues);
  return {
    maxConcurrentStreams: r('max_concurrent_streams', defaults.maxConcurrentStreams, 1, I32_MAX),
    initialStreamWindowSize: r('initial_stream_window_size', defaults.initialStreamWindowSize, 65_535, I32_MAX),
    initialConnectionWindowSize: r('initial_connection_window_size', defaults.initialConnectionWindowSize, 65_535, I32_MAX),
    maxOutboundFrames: r('max_outbound_frames', defaults.maxOutboundFrames, 1, U32_MAX),
    maxOutboundControlFrames: r('max_outbound_control_frames', defaults.maxOutboundControlFrames, 1, U32_MAX),
    maxConsecutiveInboundFramesWithEmptyPayload: r(
      'max_consecutive_inbound_frames_with_empty_payload',
      defaults.maxConsecutiveInboundFramesWithEmptyPayload,
      0,
      U32_MAX,
    ),
    maxInboundPriorityFramesPerStream: r('max_inbound_priority_frames_per_stream', defaults.maxInboundPriorityFramesPerStream, 0, U32_MAX),
    maxInboundWindowUpdateFramesPerDataFrameSent: r(
      'max_inbound_window_update_frames_per_data_frame_sent',
      defaults.maxInboundWindowUpdateFramesPerDataFrameSent,
      1,
      U32_MAX,
    ),
  };
}
