// envoy.filters.http.rbac and envoy.filters.network.rbac: validates decoded envoy.extensions.filters.{http,network}.rbac.v3.RBAC
// (and the envoy.config.rbac.v3 policies inside) into frozen configs; the engine lives in sidecar/filters/rbac/engine.ts.
import { isIP } from 'node:net';
import { deepFreeze } from '../../../core/result.js';
import {
  type Issues,
  type Obj,
  bool,
  enumOf,
  isObj,
  join,
  list,
  num,
  obj,
  onlyKnown,
  str,
  stringMatcher,
} from '../common.js';
import { headerMatcher } from '../route.js';
import type { HeaderMatcherConfig, StringMatchConfig } from '../types.js';
import { TypeUrl } from '../../type-urls.js';
import { registerHttpFilterConfig } from './index.js';

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

/** envoy.config.core.v3.CidrRange: `address` as configured (an IP literal), prefixLen within its family's width. */
export interface CidrRangeConfig {
  readonly address: string;
  readonly prefixLen: number;
  readonly family: 4 | 6;
}

/** envoy.type.matcher.v3.ValueMatcher (against a dynamic metadata value, plain JSON). */
export type RbacValueMatcherConfig =
  | { readonly kind: 'null' }
  | { readonly kind: 'double_exact'; readonly value: number }
  /** [start, end) */
  | { readonly kind: 'double_range'; readonly start: number; readonly end: number }
  | { readonly kind: 'string'; readonly string: StringMatchConfig }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'present'; readonly present: boolean }
  /** list_match.one_of: the value is a list with an element matching `oneOf`. */
  | { readonly kind: 'list_one_of'; readonly oneOf: RbacValueMatcherConfig }
  | { readonly kind: 'or'; readonly matchers: readonly RbacValueMatcherConfig[] };

/** envoy.type.matcher.v3.MetadataMatcher: dynamic metadata `filter` namespace, then `path` keys into nested objects. */
export interface RbacMetadataMatcherConfig {
  readonly filter: string;
  readonly path: readonly string[];
  readonly value: RbacValueMatcherConfig;
  readonly invert: boolean;
}

/** envoy.config.rbac.v3.Permission (the kinds Tessera implements). */
export type RbacPermissionConfig =
  | { readonly kind: 'any' }
  | { readonly kind: 'and'; readonly rules: readonly RbacPermissionConfig[] }
  | { readonly kind: 'or'; readonly rules: readonly RbacPermissionConfig[] }
  | { readonly kind: 'not'; readonly rule: RbacPermissionConfig }
  | { readonly kind: 'header'; readonly header: HeaderMatcherConfig }
  /** url_path: the path without query string and fragment. */
  | { readonly kind: 'url_path'; readonly path: StringMatchConfig }
  | { readonly kind: 'destination_ip'; readonly cidr: CidrRangeConfig }
  | { readonly kind: 'destination_port'; readonly port: number }
  /** [start, end) */
  | { readonly kind: 'destination_port_range'; readonly start: number; readonly end: number }
  | { readonly kind: 'metadata'; readonly metadata: RbacMetadataMatcherConfig }
  | { readonly kind: 'requested_server_name'; readonly name: StringMatchConfig };

/** envoy.config.rbac.v3.Principal (the kinds Tessera implements). */
export type RbacPrincipalConfig =
  | { readonly kind: 'any' }
  | { readonly kind: 'and'; readonly ids: readonly RbacPrincipalConfig[] }
  | { readonly kind: 'or'; readonly ids: readonly RbacPrincipalConfig[] }
  | { readonly kind: 'not'; readonly id: RbacPrincipalConfig }
  /** principalName null: any validated peer certificate. */
  | { readonly kind: 'authenticated'; readonly principalName: StringMatchConfig | null }
  /** source_ip (deprecated in Envoy) and direct_remote_ip: the socket peer; remote_ip: the client after XFF rules. */
  | { readonly kind: 'source_ip' | 'direct_remote_ip' | 'remote_ip'; readonly cidr: CidrRangeConfig }
  | { readonly kind: 'header'; readonly header: HeaderMatcherConfig }
  | { readonly kind: 'url_path'; readonly path: StringMatchConfig }
  | { readonly kind: 'metadata'; readonly metadata: RbacMetadataMatcherConfig };

export interface RbacPolicyConfig {
  readonly name: string;
  /** Any permission must match (at least one). */
  readonly permissions: readonly RbacPermissionConfig[];
  /** Any principal must match (at least one). */
  readonly principals: readonly RbacPrincipalConfig[];
}

/** envoy.config.rbac.v3.RBAC: `policies` sorted by name (Envoy keeps them in a std::map; the first match wins). */
export interface RbacRulesConfig {
  readonly action: RbacAction;
  readonly policies: readonly RbacPolicyConfig[];
}

/** The validated envoy.extensions.filters.http.rbac.v3.RBAC. */
export interface HttpRbacConfig {
  /** null = no enforcement (every request allowed); a rules object without policies denies all (ALLOW) or nothing (DENY). */
  readonly rules: RbacRulesConfig | null;
  readonly shadowRules: RbacRulesConfig | null;
  readonly rulesStatPrefix: string;
  readonly shadowRulesStatPrefix: string;
  readonly trackPerRuleStats: boolean;
}

/** The validated envoy.extensions.filters.network.rbac.v3.RBAC (connection-level permissions and principals only). */
export interface NetworkRbacConfig {
  readonly statPrefix: string;
  readonly rules: RbacRulesConfig | null;
  readonly shadowRules: RbacRulesConfig | null;
  readonly shadowRulesStatPrefix: string;
  /** Both are one decision when the connection starts (sidecar/filters/network/rbac.ts). */
  readonly enforcementType: 'ONE_TIME_ON_FIRST_BYTE' | 'CONTINUOUS';
}

const ACTIONS = ['ALLOW', 'DENY', 'LOG'] as const;
const PERMISSION_KINDS = [
  'any', 'header', 'url_path', 'destination_ip', 'destination_port', 'destination_port_range', 'metadata',
  'requested_server_name', 'and_rules', 'or_rules', 'not_rule',
] as const;
const PRINCIPAL_KINDS = [
  'any', 'authenticated', 'source_ip', 'direct_remote_ip', 'remote_ip', 'header', 'url_path', 'metadata', 'and_ids', 'or_ids', 'not_id',
] as const;
const VALUE_KINDS = ['null_match', 'double_match', 'string_match', 'bool_match', 'present_match', 'list_match', 'or_match'] as const;
/** Kinds that read the HTTP request (or its dynamic metadata): the network filter has neither. */
const HTTP_ONLY = new Set(['header', 'url_path', 'metadata']);
const L4_MESSAGE = 'needs the HTTP filter envoy.filters.http.rbac (the network RBAC filter sees connections, not requests)';
// Stand-ins for a matcher whose config was reported as invalid: the resource is NACKed, so they never run.
const NEVER_PERMISSION: RbacPermissionConfig = { kind: 'not', rule: { kind: 'any' } };
const NEVER_PRINCIPAL: RbacPrincipalConfig = { kind: 'not', id: { kind: 'any' } };
const NEVER_STRING: StringMatchConfig = { kind: 'exact', value: '', ignoreCase: false };

/** Tells which oneof member is set, reporting none or an unsupported one; null when nothing usable is set. */
function oneofKind<K extends string>(o: Obj, path: string, kinds: readonly K[], issues: Issues): K | null {
  onlyKnown(o, path, kinds, [], issues);
  const set = kinds.filter((k) => o[k] !== undefined && o[k] !== null);
  if (set.length === 0) {
    // Only an unsupported member (already reported) or nothing at all.
    if (Object.keys(o).every((k) => o[k] === undefined || o[k] === null)) issues.add(path, `one of ${kinds.join(', ')} is required`);
    return null;
  }
  if (set.length > 1) issues.add(join(path, set[1]!), `cannot be combined with ${set[0]}`);
  return set[0]!;
}

/** envoy.config.core.v3.CidrRange. */
export function cidrRange(c: Obj | null, path: string, issues: Issues): CidrRangeConfig {
  if (!c) {
    issues.add(path, 'required');
    return { address: '0.0.0.0', prefixLen: 32, family: 4 };
  }
  onlyKnown(c, path, ['address_prefix', 'prefix_len'], [], issues);
  const address = str(c, 'address_prefix');
  const family = isIP(address);
  if (address === '') issues.add(join(path, 'address_prefix'), 'required');
  else if (family === 0) issues.add(join(path, 'address_prefix'), `must be an IP address, got "${address}"`);
  const width = family === 6 ? 128 : 32;
  const pl = obj(c, 'prefix_len');
  // Unset = 0 (Envoy): the range holds every address of its family.
  const prefixLen = pl ? num(pl, 'value') : 0;
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > width) {
    issues.add(join(path, 'prefix_len'), `must be in [0, ${width}] for an IPv${family === 6 ? 6 : 4} address, got ${prefixLen}`);
  }
  if (family === 0) return { address: '0.0.0.0', prefixLen: 32, family: 4 };
  const valid = Number.isInteger(prefixLen) && prefixLen >= 0 && prefixLen <= width;
  return { address, prefixLen: valid ? prefixLen : width, family: family === 6 ? 6 : 4 };
}

function requiredString(m: Obj | null, path: string, issues: Issues): StringMatchConfig {
  if (!m) {
    issues.add(path, 'required');
    return NEVER_STRING;
  }
  // stringMatcher reports whatever makes it return null.
  return stringMatcher(m, path, issues) ?? NEVER_STRING;
}

/** envoy.type.matcher.v3.PathMatcher → its StringMatcher. */
function pathMatcher(p: Obj | null, path: string, issues: Issues): StringMatchConfig {
  if (!p) {
    issues.add(path, 'required');
    return NEVER_STRING;
  }
  onlyKnown(p, path, ['path'], [], issues);
  return requiredString(obj(p, 'path'), join(path, 'path'), issues);
}

/** envoy.type.matcher.v3.ValueMatcher. */
function valueMatcher(v: Obj | null, path: string, issues: Issues): RbacValueMatcherConfig {
  if (!v) {
    issues.add(path, 'required');
    return { kind: 'present', present: false };
  }
  const kind = oneofKind(v, path, VALUE_KINDS, issues);
  const p = kind === null ? path : join(path, kind);
  switch (kind) {
    case 'null_match':
      onlyKnown(obj(v, 'null_match') ?? {}, p, [], [], issues);
      return { kind: 'null' };
    case 'double_match': {
      const d = obj(v, 'double_match') ?? {};
      const k = oneofKind(d, p, ['range', 'exact'] as const, issues);
      if (k === 'exact') {
        const value = num(d, 'exact');
        if (Number.isNaN(value)) issues.add(join(p, 'exact'), 'must be a number');
        return { kind: 'double_exact', value };
      }
      if (k === 'range') {
        const r = obj(d, 'range') ?? {};
        onlyKnown(r, join(p, 'range'), ['start', 'end'], [], issues);
        return { kind: 'double_range', start: num(r, 'start'), end: num(r, 'end') };
      }
      return { kind: 'present', present: false };
    }
    case 'string_match':
      return { kind: 'string', string: requiredString(obj(v, 'string_match'), p, issues) };
    case 'bool_match':
      return { kind: 'bool', value: bool(v, 'bool_match') };
    case 'present_match':
      return { kind: 'present', present: bool(v, 'present_match') };
    case 'list_match': {
      const l = obj(v, 'list_match') ?? {};
      const k = oneofKind(l, p, ['one_of'] as const, issues);
      if (k === null) return { kind: 'present', present: false };
      return { kind: 'list_one_of', oneOf: valueMatcher(obj(l, 'one_of'), join(p, 'one_of'), issues) };
    }
    case 'or_match': {
      const o = obj(v, 'or_match') ?? {};
      onlyKnown(o, p, ['value_matchers'], [], issues);
      const ms = list(o, 'value_matchers');
      if (ms.length < 2) issues.add(join(p, 'value_matchers'), 'at least 2 are required');
      return { kind: 'or', matchers: ms.map((m, i) => valueMatcher(m, join(join(p, 'value_matchers'), i), issues)) };
    }
    default:
      return { kind: 'present', present: false };
  }
}

/** envoy.type.matcher.v3.MetadataMatcher. */
function metadataMatcher(m: Obj | null, path: string, issues: Issues): RbacMetadataMatcherConfig {
  const mm = m ?? {};
  onlyKnown(mm, path, ['filter', 'path', 'value', 'invert'], [], issues);
  const filter = str(mm, 'filter');
  if (filter === '') issues.add(join(path, 'filter'), 'required');
  const segments = list(mm, 'path');
  if (segments.length === 0) issues.add(join(path, 'path'), 'at least one key is required');
  const keys = segments.map((s, i) => {
    const sp = join(join(path, 'path'), i);
    onlyKnown(s, sp, ['key'], [], issues);
    const key = str(s, 'key');
    if (key === '') issues.add(join(sp, 'key'), 'required');
    return key;
  });
  return { filter, path: keys, value: valueMatcher(obj(mm, 'value'), join(path, 'value'), issues), invert: bool(mm, 'invert') };
}

function l4Check(kind: string, path: string, l4: boolean, issues: Issues): boolean {
  if (!l4 || !HTTP_ONLY.has(kind)) return true;
  issues.add(join(path, kind), L4_MESSAGE);
  return false;
}

/** envoy.config.rbac.v3.Permission.Set → at least one rule. */
function permissionSet(s: Obj | null, path: string, issues: Issues, l4: boolean): RbacPermissionConfig[] {
  const set = s ?? {};
  onlyKnown(set, path, ['rules'], [], issues);
  const rules = list(set, 'rules');
  if (rules.length === 0) issues.add(join(path, 'rules'), 'at least one is required');
  return rules.map((r, i) => permission(r, join(join(path, 'rules'), i), issues, l4));
}

/** envoy.config.rbac.v3.Permission; `l4` = inside the network filter (no request-level kinds). */
export function permission(p: Obj, path: string, issues: Issues, l4: boolean): RbacPermissionConfig {
  const kind = oneofKind(p, path, PERMISSION_KINDS, issues);
  if (kind === null || !l4Check(kind, path, l4, issues)) return NEVER_PERMISSION;
  const kp = join(path, kind);
  switch (kind) {
    case 'any':
      if (p.any !== true) issues.add(kp, 'must be true');
      return { kind: 'any' };
    case 'and_rules':
      return { kind: 'and', rules: permissionSet(obj(p, kind), kp, issues, l4) };
    case 'or_rules':
      return { kind: 'or', rules: permissionSet(obj(p, kind), kp, issues, l4) };
    case 'not_rule':
      return { kind: 'not', rule: permission(obj(p, kind) ?? {}, kp, issues, l4) };
    case 'header':
      return { kind: 'header', header: headerMatcher(obj(p, kind) ?? {}, kp, issues) };
    case 'url_path':
      return { kind: 'url_path', path: pathMatcher(obj(p, kind), kp, issues) };
    case 'destination_ip':
      return { kind: 'destination_ip', cidr: cidrRange(obj(p, kind), kp, issues) };
    case 'destination_port': {
      const port = num(p, kind);
      if (!Number.isInteger(port) || port < 0 || port > 65535) issues.add(kp, `must be in [0, 65535], got ${port}`);
      return { kind: 'destination_port', port };
    }
    case 'destination_port_range': {
      const r = obj(p, kind) ?? {};
      onlyKnown(r, kp, ['start', 'end'], [], issues);
      const start = num(r, 'start');
      const end = num(r, 'end');
      // Envoy's PortRangeMatcher checks: both in [0, 65536], start < end.
      if (start < 0 || start > 65536) issues.add(join(kp, 'start'), `range start ${start} is out of bounds`);
      if (end < 0 || end > 65536) issues.add(join(kp, 'end'), `range end ${end} is out of bounds`);
      if (start >= end) issues.add(kp, `range start ${start} must be less than range end ${end}`);
      return { kind: 'destination_port_range', start, end };
    }
    case 'metadata':
      return { kind: 'metadata', metadata: metadataMatcher(obj(p, kind), kp, issues) };
    case 'requested_server_name':
      return { kind: 'requested_server_name', name: requiredString(obj(p, kind), kp, issues) };
  }
}

/** envoy.config.rbac.v3.Principal.Set → at least one id. */
function principalSet(s: Obj | null, path: string, issues: Issues, l4: boolean): RbacPrincipalConfig[] {
  const set = s ?? {};
  onlyKnown(set, path, ['ids'], [], issues);
  const ids = list(set, 'ids');
  if (ids.length === 0) issues.add(join(path, 'ids'), 'at least one is required');
  return ids.map((r, i) => principal(r, join(join(path, 'ids'), i), issues, l4));
}

/** envoy.config.rbac.v3.Principal; `l4` = inside the network filter (no request-level kinds). */
export function principal(p: Obj, path: string, issues: Issues, l4: boolean): RbacPrincipalConfig {
  const kind = oneofKind(p, path, PRINCIPAL_KINDS, issues);
  if (kind === null || !l4Check(kind, path, l4, issues)) return NEVER_PRINCIPAL;
  const kp = join(path, kind);
  switch (kind) {
    case 'any':
      if (p.any !== true) issues.add(kp, 'must be true');
      return { kind: 'any' };
    case 'and_ids':
      return { kind: 'and', ids: principalSet(obj(p, kind), kp, issues, l4) };
    case 'or_ids':
      return { kind: 'or', ids: principalSet(obj(p, kind), kp, issues, l4) };
    case 'not_id':
      return { kind: 'not', id: principal(obj(p, kind) ?? {}, kp, issues, l4) };
    case 'authenticated': {
      const a = obj(p, kind) ?? {};
      onlyKnown(a, kp, ['principal_name'], [], issues);
      const pn = obj(a, 'principal_name');
      return { kind: 'authenticated', principalName: pn ? requiredString(pn, join(kp, 'principal_name'), issues) : null };
    }
    case 'source_ip':
    case 'direct_remote_ip':
    case 'remote_ip':
      return { kind, cidr: cidrRange(obj(p, kind), kp, issues) };
    case 'header':
      return { kind: 'header', header: headerMatcher(obj(p, kind) ?? {}, kp, issues) };
    case 'url_path':
      return { kind: 'url_path', path: pathMatcher(obj(p, kind), kp, issues) };
    case 'metadata':
      return { kind: 'metadata', metadata: metadataMatcher(obj(p, kind), kp, issues) };
  }
}

/** envoy.config.rbac.v3.Policy (condition / checked_condition, CEL expressions, are not supported). */
function policy(name: string, p: Obj, path: string, issues: Issues, l4: boolean): RbacPolicyConfig {
  onlyKnown(p, path, ['permissions', 'principals'], [], issues);
  const permissions = list(p, 'permissions');
  const principals = list(p, 'principals');
  if (permissions.length === 0) issues.add(join(path, 'permissions'), 'at least one is required');
  if (principals.length === 0) issues.add(join(path, 'principals'), 'at least one is required');
  return {
    name,
    permissions: permissions.map((x, i) => permission(x, join(join(path, 'permissions'), i), issues, l4)),
    principals: principals.map((x, i) => principal(x, join(join(path, 'principals'), i), issues, l4)),
  };
}

/** envoy.config.rbac.v3.RBAC; audit_logging_options is not supported. Policies come out sorted by name. */
export function rbacRules(r: Obj, path: string, issues: Issues, l4: boolean): RbacRulesConfig {
  onlyKnown(r, path, ['action', 'policies'], [], issues);
  const action = enumOf(r, 'action', ACTIONS, 'ALLOW', path, issues);
  const map = isObj(r.policies) ? r.policies : {};
  // Envoy iterates a std::map<std::string, ...>: byte order of the names (code unit order here; equal for ASCII).
  const names = Object.keys(map).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const pp = join(path, 'policies');
  const policies = names.map((n) => policy(n, isObj(map[n]) ? (map[n] as Obj) : {}, `${pp}[${JSON.stringify(n)}]`, issues, l4));
  return { action, policies };
}

function optionalRules(body: Obj, key: string, path: string, issues: Issues, l4: boolean): RbacRulesConfig | null {
  const r = obj(body, key);
  return r ? rbacRules(r, join(path, key), issues, l4) : null;
}

/** Validates the typed_config body of envoy.filters.http.rbac (the decoded Any without `@type`). */
export function validateHttpRbacConfig(body: Obj, path: string, issues: Issues): HttpRbacConfig {
  // matcher / shadow_matcher (xds.type.matcher.v3.Matcher trees) are reported as not supported here.
  onlyKnown(body, path, ['rules', 'shadow_rules', 'rules_stat_prefix', 'shadow_rules_stat_prefix', 'track_per_rule_stats'], [], issues);
  return deepFreeze({
    rules: optionalRules(body, 'rules', path, issues, false),
    shadowRules: optionalRules(body, 'shadow_rules', path, issues, false),
    rulesStatPrefix: str(body, 'rules_stat_prefix'),
    shadowRulesStatPrefix: str(body, 'shadow_rules_stat_prefix'),
    trackPerRuleStats: bool(body, 'track_per_rule_stats'),
  });
}

/**
 * Validates the typed_config body of envoy.filters.network.rbac. Only connection-level permissions and
 * principals are accepted (header, url_path and metadata need the HTTP filter). delay_deny, matcher and
 * shadow_matcher are not supported (delay_deny is absent from the loaded proto; onlyKnown reports it if it appears).
 */
export function validateNetworkRbacConfig(body: Obj, path: string, issues: Issues): NetworkRbacConfig {
  onlyKnown(body, path, ['stat_prefix', 'rules', 'shadow_rules', 'shadow_rules_stat_prefix', 'enforcement_type'], [], issues);
  const statPrefix = str(body, 'stat_prefix');
  if (statPrefix === '') issues.add(join(path, 'stat_prefix'), 'required');
  return deepFreeze({
    statPrefix,
    rules: optionalRules(body, 'rules', path, issues, true),
    shadowRules: optionalRules(body, 'shadow_rules', path, issues, true),
    shadowRulesStatPrefix: str(body, 'shadow_rules_stat_prefix'),
    enforcementType: enumOf(body, 'enforcement_type', ['ONE_TIME_ON_FIRST_BYTE', 'CONTINUOUS'] as const, 'ONE_TIME_ON_FIRST_BYTE', path, issues),
  });
}

// RBACPerRoute (TypeUrl.HttpRbacPerRoute) arrives only in typed_per_filter_config, which the HCM rejects: not registered.
registerHttpFilterConfig(TypeUrl.HttpRbac, validateHttpRbacConfig);
