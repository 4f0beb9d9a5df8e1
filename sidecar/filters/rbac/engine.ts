// The RBAC policy engine shared by envoy.filters.http.rbac and the network RBAC evaluator: policies compiled once
// into matcher closures (CIDRs parsed to integers, regexes compiled), then evaluated per request or connection.
//
// Semantics (Envoy's envoy.config.rbac.v3; where Envoy leaves room, the choice an Envoy/Istio user expects):
// - Policies are tried in name order (Envoy keeps them in a std::map) and the first match is the effective policy.
//   A policy matches when any permission AND any principal match. ALLOW: allowed iff some policy matched;
//   DENY: denied iff some policy matched; LOG: always allowed (the filter records the match).
// - header: Envoy's HeaderMatcher (multiple values joined with ','); `:method`, `:path`, `:authority`/`host` read
//   the request line, `:scheme` is 'https' on TLS connections and 'http' otherwise.
// - url_path: the path without query string and fragment (after the HCM's path normalisation, as in Envoy).
// - destination_ip / destination_port(_range) / requested_server_name: the downstream connection's local address,
//   listener port and SNI ('' when none, which a StringMatcher may match).
// - authenticated: only connections whose peer certificate was validated match (Envoy also lets any TLS
//   connection match an authenticated without principal_name; a mesh expects a verified peer). principal_name is
//   matched against every URI SAN (the SPIFFE ID first); a certificate without URI SANs is matched by its subject.
//   Tessera's connection facts carry no DNS SANs, so Envoy's DNS SAN step does not exist here.
// - source_ip / direct_remote_ip: the socket peer; remote_ip: the client address after x-forwarded-for rules.
//   An IPv4-mapped IPv6 address ("::ffff:a.b.c.d", on either side) is treated as the IPv4 address; otherwise a
//   range only holds addresses of its own family (0.0.0.0/0 does not hold IPv6 peers, ::/0 no IPv4 ones).
// - metadata: the dynamic metadata of `filter` (plain JSON values, e.g. the JWT payload jwt_authn stores), walked
//   key by key through nested objects; a missing value is "not present". As in Envoy, present_match: false
//   matches nothing (use invert with present_match: true to require absence), and `invert` negates the result.
// - Stats: Envoy's generateStats with its statPrefixJoin, so a rules prefix gets a '.' unless it ends with one
//   (`http.<hcm>.rbac.<rules_stat_prefix>[.]allowed`); per-policy counters (track_per_rule_stats) are
//   `…rbac.<prefix>[.]policy.<name>.allowed|denied|shadow_allowed|shadow_denied`, resolved at config time.
// - Dynamic metadata (HTTP): as Envoy, every request an engine evaluates records `<prefix>enforced_engine_result` /
//   `<prefix>shadow_engine_result` and, when a policy matched, the effective policy ID (the stream allocates its
//   metadata record then); LOG also sets envoy.common access_log_hint. The network evaluator has no metadata.
// - Network enforcement_type: ONE_TIME_ON_FIRST_BYTE and CONTINUOUS are one decision at connection start
//   (sidecar/filters/network/rbac.ts says why).
import type { Counter, StatsStore } from '../../../src/observability/stats.js';
import type {
  CidrRangeConfig,
  RbacAction,
  RbacMetadataMatcherConfig,
  RbacPermissionConfig,
  RbacPrincipalConfig,
  RbacRulesConfig,
  RbacValueMatcherConfig,
} from '../../../src/xds/resources/filters/rbac.js';
import type { HeaderMatcherConfig, StringMatchConfig } from '../../../src/xds/resources/types.js';
import type { DownstreamConnectionInfo } from '../../http/connection-info.js';
import { HeaderMap } from '../../http/header-map.js';
import { HeaderMatcher, StringMatcher } from '../../router/string-matcher.js';

/** What a policy may look at; DecoderFilterCallbacks satisfies it, the network evaluator fills one per connection. */
export interface RbacRequest {
  readonly connection: DownstreamConnectionInfo;
  /** The client address after x-forwarded-for rules (remote_ip). */
  readonly downstreamRemoteAddress: string;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  dynamicMetadata(namespace: string): Readonly<Record<string, unknown>> | undefined;
}

/** A compiled permission or principal. */
type Matcher = (r: RbacRequest, headers: HeaderMap) => boolean;
type ValueMatcher = (v: unknown) => boolean;

/** One compiled policy: its name (the effective policy ID) and its index in the engine (per-policy stats). */
export interface RbacPolicy {
  readonly name: string;
  readonly index: number;
}

const ANY: Matcher = () => true;
/** Header maps standing in for `:scheme`, which the request's HeaderMap does not hold. */
const HTTPS_SCHEME = HeaderMap.from([[':scheme', 'https']]);
const HTTP_SCHEME = HeaderMap.from([[':scheme', 'http']]);

// ---- IP addresses: parsed into 32-bit words without allocating ----

const F_NONE = 0;
const F_V4 = 4;
const F_V6 = 6;
const GROUPS = new Uint16Array(8);

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Dotted-quad IPv4 in s[start, end) as an unsigned 32-bit value, or -1. */
function parseV4(s: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    let octet = 0;
    let digits = 0;
    while (i < end) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      octet = octet * 10 + c;
      if (++digits > 3) return -1;
      i++;
    }
    if (digits === 0 || octet > 255) return -1;
    value = value * 256 + octet;
    parts++;
    if (parts < 4) {
      if (i >= end || s.charCodeAt(i) !== 46) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

/** IPv6 text in s[0, end) (with '::' and an optional trailing dotted quad) into `out[0..3]`; false when invalid. */
function parseV6(s: string, end: number, out: Uint32Array): boolean {
  let n = 0;
  let gap = -1;
  let i = 0;
  if (end >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (n === 8) return false;
    let j = i;
    let v = 0;
    while (j < end) {
      const d = hexDigit(s.charCodeAt(j));
      if (d < 0) break;
      v = v * 16 + d;
      j++;
    }
    if (j < end && s.charCodeAt(j) === 46) {
      // An embedded IPv4 address ends the text and fills two groups.
      const v4 = n <= 6 ? parseV4(s, i, end) : -1;
      if (v4 < 0) return false;
      GROUPS[n++] = Math.floor(v4 / 65536);
      GROUPS[n++] = v4 % 65536;
      i = end;
      break;
    }
    if (j === i || j - i > 4) return false;
    GROUPS[n++] = v;
    if (j === end) {
      i = end;
      break;
    }
    if (s.charCodeAt(j) !== 58) return false;
    j++;
    if (j < end && s.charCodeAt(j) === 58) {
      if (gap !== -1) return false;
      gap = n;
      j++;
    } else if (j === end) {
      return false;
    }
    i = j;
  }
  if (gap === -1) {
    if (n !== 8) return false;
  } else {
    if (n > 7) return false;
    const tail = n - gap;
    for (let k = 0; k < tail; k++) GROUPS[7 - k] = GROUPS[n - 1 - k]!;
    for (let k = gap; k < 8 - tail; k++) GROUPS[k] = 0;
  }
  for (let k = 0; k < 4; k++) out[k] = GROUPS[2 * k]! * 65536 + GROUPS[2 * k + 1]!;
  return true;
}

/**
 * Parses an IP address into `out` (out[0] for IPv4, out[0..3] for IPv6) and returns its family (0 = not an
 * address). A zone ("%eth0") is ignored; with `unmap`, an IPv4-mapped IPv6 address comes back as IPv4.
 */
export function parseIp(s: string, out: Uint32Array, unmap: boolean): number {
  let end = s.indexOf('%');
  if (end === -1) end = s.length;
  if (end === 0) return F_NONE;
  if (s.indexOf(':') === -1) {
    const v4 = parseV4(s, 0, end);
    if (v4 < 0) return F_NONE;
    out[0] = v4;
    return F_V4;
  }
  if (!parseV6(s, end, out)) return F_NONE;
  if (unmap && out[0] === 0 && out[1] === 0 && out[2] === 0xffff) {
    out[0] = out[3]!;
    return F_V4;
  }
  return F_V6;
}

/** The last address parsed on the hot path: one evaluation usually checks the same address against several ranges. */
const lastWords = new Uint32Array(4);
let lastAddress = '';
let lastFamily = F_NONE;

function requestFamily(address: string): number {
  if (address !== lastAddress) {
    lastFamily = parseIp(address, lastWords, true);
    lastAddress = address;
  }
  return lastFamily;
}

function maskWord(prefixLen: number, word: number): number {
  const bits = Math.min(32, Math.max(0, prefixLen - 32 * word));
  return bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** One envoy.config.core.v3.CidrRange, held as masked network words (host bits of the prefix dropped, as Envoy). */
export class CidrMatcher {
  readonly family: number;
  readonly #net: Uint32Array;
  readonly #mask: Uint32Array;
  readonly #words: number;

  constructor(cfg: CidrRangeConfig) {
    const net = new Uint32Array(4);
    let family = parseIp(cfg.address, net, false);
    let prefixLen = cfg.prefixLen;
    // An IPv4-mapped IPv6 range (within ::ffff:0:0/96) is the IPv4 range it maps: request addresses are unmapped too.
    if (family === F_V6 && prefixLen >= 96 && net[0] === 0 && net[1] === 0 && net[2] === 0xffff) {
      family = F_V4;
      net[0] = net[3]!;
      prefixLen -= 96;
    }
    this.family = family;
    this.#words = family === F_V6 ? 4 : 1;
    this.#mask = new Uint32Array(4);
    for (let w = 0; w < this.#words; w++) {
      this.#mask[w] = maskWord(prefixLen, w);
      net[w] = (net[w]! & this.#mask[w]!) >>> 0;
    }
    this.#net = net;
  }

  match(address: string): boolean {
    if (requestFamily(address) !== this.family || this.family === F_NONE) return false;
    for (let w = 0; w < this.#words; w++) {
      if (((lastWords[w]! & this.#mask[w]!) >>> 0) !== this.#net[w]) return false;
    }
    return true;
  }
}

// ---- matcher compilation ----

/** The path without query string and fragment (PathMatcher's input). */
function pathOnly(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 || c === 35) return path.slice(0, i); // '?' '#'
  }
  return path;
}

function headerMatcher(cfg: HeaderMatcherConfig): Matcher {
  const m = new HeaderMatcher(cfg);
  if (cfg.name === ':scheme') return (r) => m.match(r.connection.secure ? HTTPS_SCHEME : HTTP_SCHEME, r);
  return (r, h) => m.match(h, r);
}

function urlPathMatcher(cfg: StringMatchConfig): Matcher {
  const m = new StringMatcher(cfg);
  return (r) => m.match(pathOnly(r.path));
}

function valueMatcher(cfg: RbacValueMatcherConfig): ValueMatcher {
  switch (cfg.kind) {
    case 'null':
      return (v) => v === null;
    case 'double_exact': {
      const x = cfg.value;
      return (v) => typeof v === 'number' && v === x;
    }
    case 'double_range': {
      const { start, end } = cfg;
      return (v) => typeof v === 'number' && v >= start && v < end;
    }
    case 'string': {
      const m = new StringMatcher(cfg.string);
      return (v) => typeof v === 'string' && m.match(v);
    }
    case 'bool': {
      const b = cfg.value;
      return (v) => v === b;
    }
    case 'present':
      // Envoy: present_match && the value is set; present_match: false matches nothing.
      return cfg.present ? (v) => v !== undefined : () => false;
    case 'list_one_of': {
      const m = valueMatcher(cfg.oneOf);
      return (v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (m(v[i])) return true;
        return false;
      };
    }
    case 'or': {
      const ms = cfg.matchers.map(valueMatcher);
      return (v) => {
        for (let i = 0; i < ms.length; i++) if (ms[i]!(v)) return true;
        return false;
      };
    }
  }
}

/** The metadata value at `path` under namespace `ns`, or undefined when any step is missing or not an object. */
function metadataValue(r: RbacRequest, ns: string, path: readonly string[]): unknown {
  let v: unknown = r.dynamicMetadata(ns);
  for (let i = 0; i < path.length; i++) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const key = path[i]!;
    v = Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  }
  return v;
}

function metadataMatcher(cfg: RbacMetadataMatcherConfig): Matcher {
  const m = valueMatcher(cfg.value);
  const { filter, path, invert } = cfg;
  return (r) => m(metadataValue(r, filter, path)) !== invert;
}

function cidrMatcher(cfg: CidrRangeConfig, address: (r: RbacRequest) => string): Matcher {
  const m = new CidrMatcher(cfg);
  return (r) => m.match(address(r));
}

function allOf(ms: readonly Matcher[]): Matcher {
  if (ms.length === 1) return ms[0]!;
  return (r, h) => {
    for (let i = 0; i < ms.length; i++) if (!ms[i]!(r, h)) return false;
    return true;
  };
}

function anyOf(ms: readonly Matcher[]): Matcher {
  if (ms.length === 1) return ms[0]!;
  return (r, h) => {
    for (let i = 0; i < ms.length; i++) if (ms[i]!(r, h)) return true;
    return false;
  };
}

function not(m: Matcher): Matcher {
  return (r, h) => !m(r, h);
}

const localAddress = (r: RbacRequest) => r.connection.localAddress;
const directRemote = (r: RbacRequest) => r.connection.directRemoteAddress;
const remote = (r: RbacRequest) => r.downstreamRemoteAddress;

export function compilePermission(cfg: RbacPermissionConfig): Matcher {
  switch (cfg.kind) {
    case 'any':
      return ANY;
    case 'and':
      return allOf(cfg.rules.map(compilePermission));
    case 'or':
      return anyOf(cfg.rules.map(compilePermission));
    case 'not':
      return not(compilePermission(cfg.rule));
    case 'header':
      return headerMatcher(cfg.header);
    case 'url_path':
      return urlPathMatcher(cfg.path);
    case 'destination_ip':
      return cidrMatcher(cfg.cidr, localAddress);
    case 'destination_port': {
      const port = cfg.port;
      return (r) => r.connection.localPort === port;
    }
    case 'destination_port_range': {
      const { start, end } = cfg;
      return (r) => r.connection.localPort >= start && r.connection.localPort < end;
    }
    case 'metadata':
      return metadataMatcher(cfg.metadata);
    case 'requested_server_name': {
      const m = new StringMatcher(cfg.name);
      return (r) => m.match(r.connection.requestedServerName);
    }
  }
}

function authenticated(cfg: Extract<RbacPrincipalConfig, { kind: 'authenticated' }>): Matcher {
  if (cfg.principalName === null) return (r) => r.connection.peerCertificateValidated;
  const m = new StringMatcher(cfg.principalName);
  return (r) => {
    const c = r.connection;
    if (!c.peerCertificateValidated) return false;
    const sans = c.peerUriSans;
    if (sans.length === 0) return m.match(c.peerSubject);
    for (let i = 0; i < sans.length; i++) if (m.match(sans[i]!)) return true;
    return false;
  };
}

export function compilePrincipal(cfg: RbacPrincipalConfig): Matcher {
  switch (cfg.kind) {
    case 'any':
      return ANY;
    case 'and':
      return allOf(cfg.ids.map(compilePrincipal));
    case 'or':
      return anyOf(cfg.ids.map(compilePrincipal));
    case 'not':
      return not(compilePrincipal(cfg.id));
    case 'authenticated':
      return authenticated(cfg);
    case 'source_ip':
    case 'direct_remote_ip':
      return cidrMatcher(cfg.cidr, directRemote);
    case 'remote_ip':
      return cidrMatcher(cfg.cidr, remote);
    case 'header':
      return headerMatcher(cfg.header);
    case 'url_path':
      return urlPathMatcher(cfg.path);
    case 'metadata':
      return metadataMatcher(cfg.metadata);
  }
}

/** Compiled envoy.config.rbac.v3.RBAC: the action and its policies in name order. */
export class RbacEngine {
  readonly action: RbacAction;
  readonly policies: readonly RbacPolicy[];
  readonly #matchers: readonly Matcher[];

  constructor(rules: RbacRulesConfig) {
    this.action = rules.action;
    this.policies = Object.freeze(rules.policies.map((p, index) => Object.freeze({ name: p.name, index })));
    this.#matchers = rules.policies.map((p) => {
      const permissions = anyOf(p.permissions.map(compilePermission));
      const principals = anyOf(p.principals.map(compilePrincipal));
      return (r: RbacRequest, h: HeaderMap) => permissions(r, h) && principals(r, h);
    });
  }

  /** The effective policy: the first (by name) whose permissions and principals match, or null. */
  match(r: RbacRequest, headers: HeaderMap): RbacPolicy | null {
    const ms = this.#matchers;
    for (let i = 0; i < ms.length; i++) if (ms[i]!(r, headers)) return this.policies[i]!;
    return null;
  }

  /** Envoy's decision for a match result: ALLOW iff a policy matched, DENY iff none did, LOG always. */
  allows(matched: RbacPolicy | null): boolean {
    if (this.action === 'ALLOW') return matched !== null;
    if (this.action === 'DENY') return matched === null;
    return true;
  }
}

/** An empty header map for connection-level (L4) evaluation. */
export const NO_HEADERS = new HeaderMap();

// ---- stats ----

/** Envoy's statPrefixJoin: `prefix` and `token` with one '.' between them (none when `prefix` is empty or ends with '.'). */
export function statPrefixJoin(prefix: string, token: string): string {
  if (prefix === '') return token;
  return prefix.endsWith('.') ? `${prefix}${token}` : `${prefix}.${token}`;
}

/** Envoy's RBAC counters (utility.cc generateStats), resolved once. */
export interface RbacStats {
  readonly allowed: Counter;
  readonly denied: Counter;
  readonly shadow_allowed: Counter;
  readonly shadow_denied: Counter;
}

/** Stat scopes of one RBAC filter: `<prefix>rbac.` joined with the rules / shadow rules stat prefixes. */
export interface RbacStatScopes {
  readonly rules: string;
  readonly shadow: string;
}

/** Envoy's generateStats: base = `<prefix>` + `rbac.`, then each rules prefix joined on, then each counter name. */
export function rbacStatScopes(prefix: string, rulesPrefix: string, shadowRulesPrefix: string): RbacStatScopes {
  const base = statPrefixJoin(prefix, 'rbac.');
  return { rules: statPrefixJoin(base, rulesPrefix), shadow: statPrefixJoin(base, shadowRulesPrefix) };
}

export function rbacStats(store: StatsStore, scopes: RbacStatScopes): RbacStats {
  return Object.freeze({
    allowed: store.counter(statPrefixJoin(scopes.rules, 'allowed')),
    denied: store.counter(statPrefixJoin(scopes.rules, 'denied')),
    shadow_allowed: store.counter(statPrefixJoin(scopes.shadow, 'shadow_allowed')),
    shadow_denied: store.counter(statPrefixJoin(scopes.shadow, 'shadow_denied')),
  });
}
