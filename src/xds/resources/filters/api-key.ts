// tessera.filters.http.api_key: validates a decoded tessera.filters.http.api_key.v1.ApiKeyAuth
// (proto/tessera/filters/http/api_key/v1/api_key.proto) into a frozen ApiKeyAuthConfig. Reference: docs/api-keys.md.
//
// Decisions (each NACKed field is named with its path):
// - Keys are stored as lower-case hex SHA-256 only; the hash of the empty key is refused (an empty value never
//   counts as a key), and a hash listed twice — in one consumer or two — is an error, so a key names one consumer.
// - allowed_consumers naming a consumer that is not configured is accepted (it never matches): NACKing it would keep
//   the previous config — and with it the keys of a consumer just removed — alive.
// - Consumer metadata keys `consumer_id` and `key_name` are reserved (the filter writes them to dynamic metadata);
//   metadata values, consumer ids and key names must be free of control characters (they may become header values).
// - Rule matches reuse the route validator's RouteMatch (prefix | path | safe_regex | path_separated_prefix,
//   headers, query_parameters, case_sensitive); `skip` cannot be combined with allow_missing or allowed_consumers.
import { createHash } from 'node:crypto';
import { deepFreeze } from '../../../core/result.js';
import { type Issues, bool, join, list, obj, onlyKnown, str, strList, type Obj } from '../common.js';
import { TypeUrl } from '../../type-urls.js';
import type { RouteMatchConfig } from '../types.js';
import { routeMatch } from '../route.js';
import { registerHttpFilterConfig } from './index.js';

/** The filter's name (also its dynamic-metadata namespace). */
export const API_KEY_FILTER_NAME = 'tessera.filters.http.api_key';
/** Where the key is looked for when `sources` is empty. */
export const DEFAULT_API_KEY_HEADER = 'x-api-key';
/** The consumer-id header when `consumer_header` is empty. */
export const DEFAULT_CONSUMER_HEADER = 'x-consumer-id';
/** forward_metadata key `k` travels upstream as this prefix + k (lower-cased). */
export const CONSUMER_METADATA_HEADER_PREFIX = 'x-consumer-';
/** Keys valid at once per consumer: the current one and the one replacing it. */
export const MAX_KEYS_PER_CONSUMER = 2;
/** Dynamic-metadata keys the filter writes itself; consumer metadata may not use them. */
export const RESERVED_METADATA_KEYS: readonly string[] = Object.freeze(['consumer_id', 'key_name']);

export interface ApiKeyConfig {
  /** Lower-case hex SHA-256 of the key bytes. */
  readonly sha256: string;
  /** The key's label: `name`, or `sha256:<first 8 hex digits>` when unset. Never the key. */
  readonly name: string;
}

export interface ApiKeyConsumerConfig {
  readonly id: string;
  /** One or two keys. */
  readonly keys: readonly ApiKeyConfig[];
  readonly metadata: Readonly<Record<string, string>>;
}

export type ApiKeySourceConfig =
  /** Lower-cased header name. */
  | { readonly kind: 'header'; readonly name: string }
  /** Query parameter name, compared with the percent-decoded names of the request. */
  | { readonly kind: 'query'; readonly name: string };

export interface ApiKeyRuleConfig {
  readonly match: RouteMatchConfig;
  readonly allowMissing: boolean;
  readonly skip: boolean;
  /** Empty = every valid consumer. */
  readonly allowedConsumers: readonly string[];
}

export interface ApiKeyAuthConfig {
  readonly consumers: readonly ApiKeyConsumerConfig[];
  /** Never empty: `[{header: x-api-key}]` when the config lists none. */
  readonly sources: readonly ApiKeySourceConfig[];
  readonly rules: readonly ApiKeyRuleConfig[];
  readonly keepCredential: boolean;
  /** Lower-cased. */
  readonly consumerHeader: string;
  /** Consumer metadata keys sent upstream, each as `x-consumer-<key lower-cased>`. */
  readonly forwardMetadata: readonly string[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const CONTROL = /[\x00-\x1f\x7f]/;
/** SHA-256 of zero bytes: an empty header or parameter is "no key", so this hash could never match. */
const EMPTY_KEY_SHA256 = createHash('sha256').digest('hex');

/** A lower-cased header name the filter reads or removes (`host` and pseudo-headers are refused by TOKEN or here). */
function filterHeader(v: string, path: string, issues: Issues): string {
  const h = v.toLowerCase();
  if (h === '') issues.add(path, 'required');
  else if (!TOKEN.test(h)) issues.add(path, `invalid header name "${v}"`);
  else if (h === 'host') issues.add(path, `header "${h}" cannot be used`);
  return h;
}

/** A value that may travel as a header value or label: no control characters. */
function printable(v: string, path: string, issues: Issues): void {
  if (CONTROL.test(v)) issues.add(path, 'contains control characters');
}

function consumers(body: Obj, path: string, issues: Issues): ApiKeyConsumerConfig[] {
  const ids = new Map<string, string>();
  const hashes = new Map<string, string>();
  return list(body, 'consumers').map((c, i): ApiKeyConsumerConfig => {
    const cp = join(join(path, 'consumers'), i);
    onlyKnown(c, cp, ['id', 'keys', 'metadata'], [], issues);
    const id = str(c, 'id');
    const idp = join(cp, 'id');
    if (id === '') issues.add(idp, 'required');
    else if (ids.has(id)) issues.add(idp, `duplicate consumer id "${id}" (also ${ids.get(id)!})`);
    else ids.set(id, idp);
    printable(id, idp, issues);
    const kp = join(cp, 'keys');
    const raw = list(c, 'keys');
    if (raw.length === 0) issues.add(kp, 'at least one key is required');
    else if (raw.length > MAX_KEYS_PER_CONSUMER) issues.add(kp, `at most ${MAX_KEYS_PER_CONSUMER} keys (two are valid at once during a rotation), got ${raw.length}`);
    const keys = raw.map((k, j): ApiKeyConfig => {
      const p = join(kp, j);
      onlyKnown(k, p, ['sha256', 'name'], [], issues);
      const sha256 = str(k, 'sha256');
      const hp = join(p, 'sha256');
      if (!HEX64.test(sha256)) issues.add(hp, 'must be 64 lower-case hex characters (the SHA-256 of the key)');
      else if (sha256 === EMPTY_KEY_SHA256) issues.add(hp, 'is the SHA-256 of the empty key');
      else if (hashes.has(sha256)) issues.add(hp, `key listed twice (also ${hashes.get(sha256)!})`);
      else hashes.set(sha256, hp);
      const name = str(k, 'name');
      printable(name, join(p, 'name'), issues);
      return { sha256, name: name !== '' ? name : `sha256:${sha256.slice(0, 8)}` };
    });
    const metadata: Record<string, string> = {};
    const m = obj(c, 'metadata') ?? {};
    for (const key of Object.keys(m).sort()) {
      const mp = key === '' ? join(cp, 'metadata') : join(join(cp, 'metadata'), key);
      const v = m[key];
      if (key === '') issues.add(mp, 'metadata key must not be empty');
      else if (RESERVED_METADATA_KEYS.includes(key)) issues.add(mp, `"${key}" is reserved (the filter sets it)`);
      if (typeof v !== 'string') issues.add(mp, 'must be a string');
      else printable(v, mp, issues);
      metadata[key] = typeof v === 'string' ? v : '';
    }
    return { id, keys, metadata };
  });
}

function sources(body: Obj, path: string, issues: Issues): ApiKeySourceConfig[] {
  const seen = new Set<string>();
  const out = list(body, 'sources').map((s, i): ApiKeySourceConfig => {
    const sp = join(join(path, 'sources'), i);
    onlyKnown(s, sp, ['header', 'query'], [], issues);
    let src: ApiKeySourceConfig;
    if (typeof s.header === 'string') src = { kind: 'header', name: filterHeader(s.header, join(sp, 'header'), issues) };
    else if (typeof s.query === 'string') {
      if (s.query === '') issues.add(join(sp, 'query'), 'must not be empty');
      src = { kind: 'query', name: s.query };
    } else {
      issues.add(sp, 'one of header, query is required');
      src = { kind: 'header', name: '' };
    }
    const key = `${src.kind}:${src.name}`;
    if (src.name !== '' && seen.has(key)) issues.add(join(sp, src.kind), `${src.kind} "${src.name}" listed twice`);
    seen.add(key);
    return src;
  });
  return out.length > 0 ? out : [{ kind: 'header', name: DEFAULT_API_KEY_HEADER }];
}

function rules(body: Obj, path: string, issues: Issues): ApiKeyRuleConfig[] {
  return list(body, 'rules').map((r, i): ApiKeyRuleConfig => {
    const rp = join(join(path, 'rules'), i);
    onlyKnown(r, rp, ['match', 'allow_missing', 'skip', 'allowed_consumers'], [], issues);
    const m = obj(r, 'match');
    if (!m) issues.add(join(rp, 'match'), 'required');
    const match = routeMatch(m ?? { prefix: '/' }, join(rp, 'match'), issues);
    const skip = bool(r, 'skip');
    const allowMissing = bool(r, 'allow_missing');
    const allowedConsumers = strList(r, 'allowed_consumers');
    allowedConsumers.forEach((c, j) => {
      if (c === '') issues.add(join(join(rp, 'allowed_consumers'), j), 'must not be empty');
    });
    if (skip && (allowMissing || allowedConsumers.length > 0)) issues.add(join(rp, 'skip'), 'cannot be combined with allow_missing or allowed_consumers');
    return { match, allowMissing, skip, allowedConsumers };
  });
}

/** The header a forward_metadata key is sent upstream as. */
export function consumerMetadataHeader(key: string): string {
  return `${CONSUMER_METADATA_HEADER_PREFIX}${key.toLowerCase()}`;
}

/** Validates the typed_config body of tessera.filters.http.api_key (the decoded Any without `@type`). */
export function validateApiKeyAuthConfig(body: Obj, path: string, issues: Issues): ApiKeyAuthConfig {
  onlyKnown(body, path, ['consumers', 'sources', 'rules', 'keep_credential', 'consumer_header', 'forward_metadata'], [], issues);
  const srcs = sources(body, path, issues);
  const readHeaders = srcs.filter((s) => s.kind === 'header').map((s) => s.name);
  const ch = str(body, 'consumer_header');
  const chp = join(path, 'consumer_header');
  const consumerHeader = ch === '' ? DEFAULT_CONSUMER_HEADER : filterHeader(ch, chp, issues);
  if (readHeaders.includes(consumerHeader)) issues.add(chp, `"${consumerHeader}" is also a key source`);
  const written = new Set([consumerHeader]);
  const forwardMetadata = strList(body, 'forward_metadata');
  forwardMetadata.forEach((k, i) => {
    const p = join(join(path, 'forward_metadata'), i);
    const h = consumerMetadataHeader(k);
    if (k === '') issues.add(p, 'must not be empty');
    else if (!TOKEN.test(h)) issues.add(p, `"${k}" does not make a valid header name (${h})`);
    else if (written.has(h)) issues.add(p, `header ${h} is written twice (consumer_header or an earlier entry)`);
    else if (readHeaders.includes(h)) issues.add(p, `header ${h} is also a key source`);
    written.add(h);
  });
  return deepFreeze({
    consumers: consumers(body, path, issues),
    sources: srcs,
    rules: rules(body, path, issues),
    keepCredential: bool(body, 'keep_credential'),
    consumerHeader,
    forwardMetadata,
  });
}

registerHttpFilterConfig(TypeUrl.ApiKeyAuth, validateApiKeyAuthConfig);
