// Zero-trust parts of the mesh config: trust domain, mTLS modes, workload identities, authorization policies,
// gateway TLS, JWT providers, API keys and route authentication. Called by parse-mesh.ts, same error rules.
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { isMap, isNode, isScalar, isSeq } from 'yaml';
import { isValidSegment, isValidTrustDomain, parseSpiffeId } from '../../src/tls/spiffe.js';
import { splitPemCertificates } from '../../src/tls/x509.js';
import { parseJwks } from '../../src/xds/resources/filters/jwt-authn.js';
import {
  MTLS_MODES,
  type ApiKeyConfig,
  type ApiKeyConsumer,
  type AuthorizationPolicy,
  type AuthzOperation,
  type AuthzRule,
  type AuthzSource,
  type GatewayTls,
  type JwtProvider,
  type ListenAddress,
  type MtlsMode,
  type RouteAuth,
  type ServiceConfig,
  type TlsHostGroup,
  type WorkloadIdentity,
} from './mesh-types.js';
import { didYouMean, joinPath, type Field, type YamlReader } from './yaml-reader.js';

const SEGMENT_TEXT = '[A-Za-z0-9._-]+';
const HOST_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const METHOD = /^[A-Z]+$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const NAME = /^[A-Za-z0-9._-]{1,128}$/;
const META_KEY = /^[A-Za-z0-9._-]{1,64}$/;
const HSTS_AGE = /^(\d+)(s|m|h|d|y)$/;
const HSTS_UNIT_S: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, y: 365 * 86_400 };
/** The HSTS preload list asks for at least a year. */
const PRELOAD_MIN_AGE_S = 365 * 86_400;
/** At most two keys per consumer: the current one and the next (rotation). */
const MAX_KEYS_PER_CONSUMER = 2;
const DEFAULT_JWKS_TIMEOUT_MS = 5000;
const DEFAULT_API_KEY_HEADER = 'x-api-key';
/** The filter's consumer-id header when `consumer_header` is not set. */
const DEFAULT_CONSUMER_HEADER = 'x-consumer-id';
/** `forward_metadata` key k is sent upstream as this prefix + k. */
const CONSUMER_METADATA_PREFIX = 'x-consumer-';
/** Metadata keys the API-key filter writes itself. */
const RESERVED_METADATA = ['consumer_id', 'key_name'];
/** SHA-256 of the empty key: an empty header is "no key", so it could never match. */
const EMPTY_KEY_SHA256 = createHash('sha256').digest('hex');

/** What the zero-trust readers need from the mesh parser. */
export interface ZeroTrustContext {
  readonly r: YamlReader;
  /** The content of the file `f` names (relative to the mesh file), or null after reporting why not (or while only collecting names). */
  file(f: Field, path: string): string | null;
  duration(f: Field, path: string, allowZero: boolean): number | null;
  listen(f: Field, path: string): ListenAddress | null;
}

/** `unknown <what> 'x' (did you mean 'y'?)`, else the declared names. */
function unknownName(what: string, name: string, names: readonly string[]): string {
  const known = [...new Set(names)];
  const hint = didYouMean(name, known);
  if (hint !== '') return `unknown ${what} '${name}'${hint}`;
  return `unknown ${what} '${name}'${known.length > 0 ? ` (declared: ${[...known].sort().join(', ')})` : ''}`;
}

/** A name that must be one of `known`; otherwise reported (with a suggestion) and null. */
function knownName(ctx: ZeroTrustContext, f: Field, path: string, what: string, known: readonly string[]): string | null {
  const name = ctx.r.string(f, path);
  if (name === null) return null;
  if (!known.includes(name)) {
    ctx.r.error(f, path, unknownName(what, name, known));
    return null;
  }
  return name;
}

export function readTrustDomain(ctx: ZeroTrustContext, f: Field, path: string): string | null {
  const v = ctx.r.string(f, path);
  if (v === null) return null;
  if (!isValidTrustDomain(v)) {
    ctx.r.error(f, path, `must be a trust domain (lower-case letters, digits, '.', '_' and '-'), got '${v}'`);
    return null;
  }
  return v;
}

export function readMtls(ctx: ZeroTrustContext, f: Field, path: string): MtlsMode | null {
  return ctx.r.oneOf<MtlsMode>(f, path, MTLS_MODES);
}

function segment(ctx: ZeroTrustContext, f: Field, path: string): string | null {
  const v = ctx.r.string(f, path);
  if (v === null) return null;
  if (!isValidSegment(v)) {
    ctx.r.error(f, path, `must match ${SEGMENT_TEXT} (a SPIFFE ID path segment), got '${v}'`);
    return null;
  }
  return v;
}

/** `identity: {namespace?, service_account?}`; defaults filled in by the caller. */
export function readIdentity(ctx: ZeroTrustContext, f: Field, path: string, defaults: WorkloadIdentity): WorkloadIdentity | null {
  const r = ctx.r;
  const m = r.map(f, path, ['namespace', 'service_account']);
  if (m === null) return null;
  const namespace = r.optional(m, 'namespace', path, (g, p) => segment(ctx, g, p));
  const serviceAccount = r.optional(m, 'service_account', path, (g, p) => segment(ctx, g, p));
  if (namespace === null || serviceAccount === null) return null;
  return { namespace: namespace ?? defaults.namespace, serviceAccount: serviceAccount ?? defaults.serviceAccount };
}

// ---------- authorization (services[].authorization) ----------

/** Everything an authorization policy is checked against; the services are all read by then. */
export interface AuthzTarget {
  readonly service: ServiceConfig;
  readonly mtls: MtlsMode;
  /** Where the effective mtls comes from, for the message ("services[1].mtls" or "the mesh default"). */
  readonly mtlsFrom: string;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  /** Gateway name → its identity. */
  readonly gateways: ReadonlyMap<string, WorkloadIdentity>;
}

export function readAuthorization(ctx: ZeroTrustContext, f: Field, path: string, t: AuthzTarget): AuthorizationPolicy | null {
  const r = ctx.r;
  const m = r.map(f, path, ['action', 'rules']);
  if (m === null) return null;
  const before = r.errorCount;
  const action = r.optional(m, 'action', path, (g, p) => r.oneOf<'ALLOW' | 'DENY'>(g, p, ['ALLOW', 'DENY']));
  const rules = r.required(m, 'rules', f, path, (g, p) => {
    if (r.isNull(g)) return [];
    const items = r.list(g, p);
    if (items === null) return null;
    const out: AuthzRule[] = [];
    items.forEach((h, i) => {
      const rule = authzRule(ctx, h, `${p}[${i}]`, t);
      if (rule) out.push(rule);
    });
    return out;
  });
  const missing = t.service.instances.filter((inst) => inst.sidecarPort === null).map((inst) => inst.id);
  if (missing.length > 0) {
    r.error(f, path, `needs a sidecar_port on every instance of '${t.service.name}' (${missing.join(', ')} has none: its callers reach the app directly, past any policy)`);
  }
  if (r.errorCount !== before || rules === null) return null;
  return { action: action ?? 'ALLOW', rules };
}

function authzRule(ctx: ZeroTrustContext, f: Field, path: string, t: AuthzTarget): AuthzRule | null {
  const r = ctx.r;
  const m = r.map(f, path, ['from', 'to']);
  if (m === null) return null;
  const before = r.errorCount;
  const from = r.optional(m, 'from', path, (g, p) => nonEmptyList(ctx, g, p, 'source', (h, q) => authzSource(ctx, h, q, t)));
  const to = r.optional(m, 'to', path, (g, p) => nonEmptyList(ctx, g, p, 'operation', (h, q) => authzOperation(ctx, h, q, t)));
  if (r.errorCount !== before) return null;
  return { from: from ?? [], to: to ?? [] };
}

function nonEmptyList<T>(ctx: ZeroTrustContext, f: Field, path: string, what: string, read: (g: Field, p: string) => T | null): T[] | null {
  const items = ctx.r.list(f, path);
  if (items === null) return null;
  if (items.length === 0) {
    ctx.r.error(f, path, `must list at least one ${what} (leave the key out to match any)`);
    return null;
  }
  const out: T[] = [];
  items.forEach((g, i) => {
    const v = read(g, `${path}[${i}]`);
    if (v !== null) out.push(v);
  });
  return out.length === items.length ? out : null;
}

const SOURCE_KINDS = ['service', 'gateway', 'principal', 'namespace', 'ip'] as const;

function authzSource(ctx: ZeroTrustContext, f: Field, path: string, t: AuthzTarget): AuthzSource | null {
  const r = ctx.r;
  const m = r.map(f, path, SOURCE_KINDS);
  if (m === null) return null;
  const kinds = SOURCE_KINDS.filter((k) => m.has(k));
  if (kinds.length !== 1) {
    r.error(f, path, kinds.length === 0 ? `needs one of ${SOURCE_KINDS.join(', ')}` : `has ${kinds.join(' and ')}; use one per entry (entries are alternatives)`);
    return null;
  }
  const kind = kinds[0]!;
  const g = m.get(kind)!;
  const p = `${path}.${kind}`;
  if (kind !== 'ip' && t.mtls === 'DISABLE') {
    r.error(g, p, `needs mTLS to '${t.service.name}', whose mtls is DISABLE (${t.mtlsFrom}): callers' identities are only known over mTLS`);
    return null;
  }
  if (kind === 'service') {
    const name = knownName(ctx, g, p, 'service', [...t.services.keys()]);
    return name === null ? null : { kind: 'service', service: name };
  }
  if (kind === 'gateway') {
    const name = knownName(ctx, g, p, 'gateway', [...t.gateways.keys()]);
    return name === null ? null : { kind: 'gateway', gateway: name };
  }
  if (kind === 'principal') {
    const v = r.string(g, p);
    if (v === null) return null;
    const id = parseSpiffeId(v);
    if (!id.ok) {
      r.error(g, p, id.errors.join('; '));
      return null;
    }
    return { kind: 'principal', principal: v };
  }
  if (kind === 'namespace') {
    const ns = segment(ctx, g, p);
    return ns === null ? null : { kind: 'namespace', namespace: ns };
  }
  const cidr = readCidr(ctx, g, p);
  return cidr === null ? null : { kind: 'ip', ...cidr };
}

/** `10.0.0.0/8`, `::1/128`, or a single address (a /32 or /128). */
function readCidr(ctx: ZeroTrustContext, f: Field, path: string): { address: string; prefixLen: number } | null {
  const v = ctx.r.string(f, path);
  if (v === null) return null;
  const [address, len, extra] = v.split('/');
  const family = isIP(address ?? '');
  const width = family === 6 ? 128 : 32;
  const prefixLen = len === undefined ? width : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (family === 0 || extra !== undefined || !(prefixLen >= 0 && prefixLen <= width)) {
    ctx.r.error(f, path, `must be an IP address or CIDR range like 10.0.0.0/8, got '${v}'`);
    return null;
  }
  return { address: address!, prefixLen };
}

function authzOperation(ctx: ZeroTrustContext, f: Field, path: string, t: AuthzTarget): AuthzOperation | null {
  const r = ctx.r;
  const m = r.map(f, path, ['paths', 'methods', 'ports']);
  if (m === null) return null;
  if (m.size === 0) {
    r.error(f, path, 'needs at least one of paths, methods, ports');
    return null;
  }
  const before = r.errorCount;
  const tcp = t.service.protocol === 'tcp';
  for (const k of ['paths', 'methods'] as const) {
    if (tcp && m.has(k)) r.error(m.get(k)!, `${path}.${k}`, `'${t.service.name}' is a tcp service: only ports apply (${k} need HTTP)`);
  }
  const paths = tcp ? [] : r.optional(m, 'paths', path, (g, p) => nonEmptyList(ctx, g, p, 'path', (h, q) => authzPath(ctx, h, q)));
  const methods = tcp ? [] : r.optional(m, 'methods', path, (g, p) => nonEmptyList(ctx, g, p, 'method', (h, q) => r.string(h, q, METHOD, 'an upper-case HTTP method')));
  const ports = r.optional(m, 'ports', path, (g, p) =>
    nonEmptyList(ctx, g, p, 'port', (h, q) => {
      const port = r.int(h, q, 1, 65535);
      if (port === null) return null;
      if (!t.service.instances.some((inst) => inst.sidecarPort === port)) {
        r.error(h, q, `no instance of '${t.service.name}' has sidecar_port ${port} (ports are the sidecars' inbound ports)`);
        return null;
      }
      return port;
    }),
  );
  if (r.errorCount !== before) return null;
  return { paths: paths ?? [], methods: methods ?? [], ports: ports ?? [] };
}

/** `/api/*` → prefix `/api/`; `/*` → every path; anything else is exact. */
function authzPath(ctx: ZeroTrustContext, f: Field, path: string): AuthzOperation['paths'][number] | null {
  const v = ctx.r.string(f, path);
  if (v === null) return null;
  if (!v.startsWith('/')) {
    ctx.r.error(f, path, "must start with '/'");
    return null;
  }
  const star = v.indexOf('*');
  if (star >= 0 && (star !== v.length - 1 || !v.endsWith('/*'))) {
    ctx.r.error(f, path, `'*' is only allowed as a last '/*' segment (a prefix match), got '${v}'`);
    return null;
  }
  return star >= 0 ? { kind: 'prefix', value: v.slice(0, -1) } : { kind: 'exact', value: v };
}

// ---------- gateway TLS ----------

/** Reads `tls:`; the caller records the redirect listener's bind. */
export function readGatewayTls(ctx: ZeroTrustContext, f: Field, path: string): GatewayTls | null {
  const r = ctx.r;
  const m = r.map(f, path, ['hosts', 'http_redirect_listen', 'hsts']);
  if (m === null) return null;
  const before = r.errorCount;
  const hosts = r.required(m, 'hosts', f, path, (g, p) => {
    const items = r.list(g, p);
    if (items === null) return null;
    if (items.length === 0) {
      r.error(g, p, 'must list at least one certificate and its host names');
      return null;
    }
    const seen = new Map<string, string>();
    const out: TlsHostGroup[] = [];
    items.forEach((h, i) => {
      const group = hostGroup(ctx, h, `${p}[${i}]`, seen);
      if (group) out.push(group);
    });
    return out;
  });
  const httpRedirectListen = r.optional(m, 'http_redirect_listen', path, (g, p) => ctx.listen(g, p));
  const hsts = r.optional(m, 'hsts', path, (g, p) => readHsts(ctx, g, p));
  if (r.errorCount !== before || hosts === null || httpRedirectListen === null || hsts === null) return null;
  return { hosts, httpRedirectListen: httpRedirectListen ?? null, hsts: hsts ?? null };
}

function hostGroup(ctx: ZeroTrustContext, f: Field, path: string, seen: Map<string, string>): TlsHostGroup | null {
  const r = ctx.r;
  const m = r.map(f, path, ['hosts', 'cert_file', 'key_file']);
  if (m === null) return null;
  const before = r.errorCount;
  const hosts = r.required(m, 'hosts', f, path, (g, p) =>
    nonEmptyList(ctx, g, p, 'host name', (h, q) => {
      const v = r.string(h, q);
      if (v === null) return null;
      const host = v.toLowerCase();
      if (!HOST_NAME.test(host)) {
        r.error(h, q, `must be a host name (a leading '*.' wildcard is allowed), got '${v}'`);
        return null;
      }
      const prior = seen.get(host);
      if (prior !== undefined) {
        r.error(h, q, `'${host}' is already served by ${prior}`);
        return null;
      }
      seen.set(host, path);
      return host;
    }),
  );
  const certPem = r.required(m, 'cert_file', f, path, (g, p) => ctx.file(g, p));
  const keyPem = r.required(m, 'key_file', f, path, (g, p) => ctx.file(g, p));
  if (r.errorCount !== before || hosts === null || certPem === null || keyPem === null) return null;
  const cert = certificate(ctx, m.get('cert_file')!, `${path}.cert_file`, certPem);
  const key = privateKey(ctx, m.get('key_file')!, `${path}.key_file`, keyPem);
  if (cert === null || key === null) return null;
  if (!cert.checkPrivateKey(key)) {
    r.error(m.get('key_file')!, `${path}.key_file`, 'is not the key of the certificate in cert_file');
    return null;
  }
  const items = r.list(m.get('hosts')!, `${path}.hosts`) ?? [];
  hosts.forEach((h, i) => {
    // A wildcard host needs a wildcard certificate: probe it with a name only the wildcard covers.
    const probe = h.startsWith('*.') ? `tessera-sni-probe${h.slice(1)}` : h;
    if (cert.checkHost(probe) === undefined) {
      r.error(items[i]!, `${path}.hosts[${i}]`, `the certificate in cert_file does not cover '${h}' (it names ${cert.subjectAltName ?? cert.subject})`);
    }
  });
  if (r.errorCount !== before) return null;
  return { credential: hosts[0]!, hosts, certChainPem: certPem, keyPem };
}

function certificate(ctx: ZeroTrustContext, f: Field, path: string, pem: string): X509Certificate | null {
  const blocks = splitPemCertificates(pem);
  if (blocks.length === 0) {
    ctx.r.error(f, path, 'holds no PEM CERTIFICATE block');
    return null;
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(blocks[0]!);
  } catch (e) {
    ctx.r.error(f, path, `is not a valid certificate: ${(e as Error).message}`);
    return null;
  }
  const notAfter = Date.parse(cert.validTo);
  if (notAfter <= Date.now()) {
    ctx.r.error(f, path, `the certificate expired on ${new Date(notAfter).toISOString()}`);
    return null;
  }
  return cert;
}

function privateKey(ctx: ZeroTrustContext, f: Field, path: string, pem: string): KeyObject | null {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    ctx.r.error(f, path, `is not a PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1): ${(e as Error).message}`);
    return null;
  }
}

function readHsts(ctx: ZeroTrustContext, f: Field, path: string): GatewayTls['hsts'] {
  const r = ctx.r;
  const m = r.map(f, path, ['max_age', 'include_subdomains', 'preload']);
  if (m === null) return null;
  const before = r.errorCount;
  const maxAgeSeconds = r.required(m, 'max_age', f, path, (g, p) => {
    const v = r.scalar(g);
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    const mm = typeof v === 'string' ? HSTS_AGE.exec(v) : null;
    if (mm === null) {
      r.error(g, p, 'must be whole seconds or a duration like 180d or 1y (s, m, h, d, y)');
      return null;
    }
    return Number(mm[1]) * HSTS_UNIT_S[mm[2]!]!;
  });
  const includeSubdomains = r.optional(m, 'include_subdomains', path, (g, p) => r.bool(g, p)) ?? false;
  const preload = r.optional(m, 'preload', path, (g, p) => r.bool(g, p)) ?? false;
  if (preload === true && (includeSubdomains !== true || (maxAgeSeconds ?? 0) < PRELOAD_MIN_AGE_S)) {
    r.error(m.get('preload')!, `${path}.preload`, 'needs include_subdomains: true and max_age of at least 1y (the preload list refuses less)');
  }
  if (r.errorCount !== before || maxAgeSeconds === null) return null;
  return { maxAgeSeconds, includeSubdomains: includeSubdomains === true, preload: preload === true };
}

// ---------- JWT providers ----------

const PROVIDER_KEYS = [
  'issuer', 'audiences', 'jwks_uri', 'jwks_file', 'jwks', 'jwks_cache_duration', 'forward', 'forward_payload_header',
  'claim_to_headers', 'from_headers', 'from_params',
];

/** `jwt_providers: {name: provider}`, sorted by name. */
export function readJwtProviders(ctx: ZeroTrustContext, f: Field, path: string): JwtProvider[] | null {
  const r = ctx.r;
  const entries = r.entries(f, path);
  if (entries === null) return null;
  const before = r.errorCount;
  const out: JwtProvider[] = [];
  for (const [name, kpos, g] of entries) {
    const p = joinPath(path, name);
    if (!NAME.test(name)) {
      r.error(kpos, p, 'provider names must match [A-Za-z0-9._-]+');
      continue;
    }
    const provider = jwtProvider(ctx, g, p, name);
    if (provider) out.push(provider);
  }
  if (r.errorCount !== before) return null;
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function jwtProvider(ctx: ZeroTrustContext, f: Field, path: string, name: string): JwtProvider | null {
  const r = ctx.r;
  const m = r.map(f, path, PROVIDER_KEYS);
  if (m === null) return null;
  const before = r.errorCount;
  const issuer = r.optional(m, 'issuer', path, (g, p) => r.string(g, p, /^\S+$/, 'an issuer (no spaces)'));
  const audiences = r.optional(m, 'audiences', path, (g, p) => nonEmptyList(ctx, g, p, 'audience', (h, q) => r.string(h, q, /^\S+$/, 'an audience (no spaces)')));
  const sources = (['jwks_uri', 'jwks_file', 'jwks'] as const).filter((k) => m.has(k));
  if (sources.length !== 1) {
    r.error(f, path, sources.length === 0 ? 'needs one of jwks_uri, jwks_file, jwks' : `has ${sources.join(' and ')}; use exactly one`);
  }
  let jwks: JwtProvider['jwks'] | null = null;
  const cache = r.optional(m, 'jwks_cache_duration', path, (g, p) => ctx.duration(g, p, false));
  if (m.has('jwks_cache_duration') && !m.has('jwks_uri')) r.error(m.get('jwks_cache_duration')!, `${path}.jwks_cache_duration`, 'only applies with jwks_uri');
  if (sources.length === 1) {
    const kind = sources[0]!;
    const g = m.get(kind)!;
    const p = `${path}.${kind}`;
    if (kind === 'jwks_uri') {
      const uri = jwksUri(ctx, g, p);
      if (uri !== null) jwks = { kind: 'remote', uri, cacheDurationMs: cache ?? null, timeoutMs: DEFAULT_JWKS_TIMEOUT_MS };
    } else {
      const json = kind === 'jwks_file' ? ctx.file(g, p) : inlineJson(ctx, g, p);
      if (json !== null) jwks = checkedJwks(ctx, g, p, json);
    }
  }
  const forward = r.optional(m, 'forward', path, (g, p) => r.bool(g, p));
  const forwardPayloadHeader = r.optional(m, 'forward_payload_header', path, (g, p) => writableHeader(ctx, g, p));
  const claimToHeaders: { header: string; claim: string }[] = [];
  const ch = m.get('claim_to_headers');
  if (ch !== undefined) {
    for (const [header, kpos, v] of r.entries(ch, `${path}.claim_to_headers`) ?? []) {
      const p = `${path}.claim_to_headers.${header}`;
      const h = header.toLowerCase();
      if (!HEADER_NAME.test(h) || h === 'host') r.error(kpos, p, `'${header}' cannot be set (not a header name, or host)`);
      const claim = r.string(v, p, /^[^.\s]+(\.[^.\s]+)*$/, 'a claim name (a.b for nested claims)');
      if (claim !== null) claimToHeaders.push({ header: h, claim });
    }
  }
  const fromHeaders = r.optional(m, 'from_headers', path, (g, p) =>
    nonEmptyList(ctx, g, p, 'header', (h, q) => {
      const hm = r.map(h, q, ['name', 'value_prefix']);
      if (hm === null) return null;
      const hn = r.required(hm, 'name', h, q, (x, y) => r.string(x, y, /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'a header name'));
      const prefix = r.optional(hm, 'value_prefix', q, (x, y) => r.string(x, y, /^[^\r\n\0]*$/, 'text without CR, LF or NUL'));
      return hn === null || prefix === null ? null : { name: hn.toLowerCase(), valuePrefix: prefix ?? '' };
    }),
  );
  const fromParams = r.optional(m, 'from_params', path, (g, p) => nonEmptyList(ctx, g, p, 'parameter', (h, q) => r.string(h, q, /^[^&=#\s]+$/, 'a query parameter name')));
  if (r.errorCount !== before || jwks === null) return null;
  return {
    name,
    issuer: issuer ?? null,
    audiences: audiences ?? [],
    jwks,
    forward: forward ?? false,
    forwardPayloadHeader: forwardPayloadHeader ?? null,
    claimToHeaders,
    fromHeaders: fromHeaders ?? [],
    fromParams: fromParams ?? [],
  };
}

function jwksUri(ctx: ZeroTrustContext, f: Field, path: string): string | null {
  const v = ctx.r.string(f, path);
  if (v === null) return null;
  let u: URL | null;
  try {
    u = new URL(v);
  } catch {
    u = null;
  }
  if (u === null || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.hostname === '' || u.username !== '' || u.password !== '') {
    ctx.r.error(f, path, `must be an absolute https URL without credentials, got '${v}'`);
    return null;
  }
  const loopback = u.hostname === 'localhost' || u.hostname.startsWith('127.') || u.hostname === '[::1]';
  if (u.protocol === 'http:' && !loopback) {
    ctx.r.error(f, path, 'must use https (keys fetched over plain http could be swapped in transit); http is allowed for loopback only');
    return null;
  }
  return v;
}

/** `jwks:` as a YAML mapping (the JWKS document) or a JSON string. */
function inlineJson(ctx: ZeroTrustContext, f: Field, path: string): string | null {
  const v = ctx.r.scalar(f);
  if (typeof v === 'string') return v;
  if (isNode(f.node) && v === undefined) return JSON.stringify(f.node.toJSON());
  ctx.r.error(f, path, 'must be a JWKS document (a mapping with keys) or its JSON text');
  return null;
}

function checkedJwks(ctx: ZeroTrustContext, f: Field, path: string, json: string): JwtProvider['jwks'] | null {
  const parsed = parseJwks(json);
  if (parsed.errors.length > 0) {
    for (const e of parsed.errors) ctx.r.error(f, path, e);
    return null;
  }
  // Compact JSON: the same keys always give the same resource (and version).
  return { kind: 'inline', json: JSON.stringify(JSON.parse(json)) };
}

function writableHeader(ctx: ZeroTrustContext, f: Field, path: string): string | null {
  const v = ctx.r.string(f, path);
  if (v === null) return null;
  const h = v.toLowerCase();
  if (!HEADER_NAME.test(h) || h === 'host') {
    ctx.r.error(f, path, `'${v}' cannot be set (not a header name, or host)`);
    return null;
  }
  return h;
}

// ---------- API keys ----------

export function readApiKeys(ctx: ZeroTrustContext, f: Field, path: string): ApiKeyConfig | null {
  const r = ctx.r;
  const m = r.map(f, path, ['consumers', 'header', 'query', 'keep_credential', 'consumer_header', 'forward_metadata']);
  if (m === null) return null;
  const before = r.errorCount;
  const digests = new Map<string, string>();
  const consumers = r.required(m, 'consumers', f, path, (g, p) => {
    const ids = new Set<string>();
    return nonEmptyList(ctx, g, p, 'consumer', (h, q) => consumer(ctx, h, q, ids, digests));
  });
  const header = r.optional(m, 'header', path, (g, p) => writableHeader(ctx, g, p));
  const query = r.optional(m, 'query', path, (g, p) => r.string(g, p, /^[^&=#\s]+$/, 'a query parameter name'));
  const keepCredential = r.optional(m, 'keep_credential', path, (g, p) => r.bool(g, p));
  const consumerHeader = r.optional(m, 'consumer_header', path, (g, p) => writableHeader(ctx, g, p));
  const known = [...new Set((consumers ?? []).flatMap((c) => Object.keys(c.metadata)))];
  const forwardMetadata = r.optional(m, 'forward_metadata', path, (g, p) =>
    nonEmptyList(ctx, g, p, 'metadata key', (h, q) => {
      const k = r.string(h, q);
      if (k === null) return null;
      if (consumers !== null && !known.includes(k)) {
        r.error(h, q, `no consumer has metadata '${k}'${didYouMean(k, known)}`);
        return null;
      }
      return k;
    }),
  );
  const keyHeader = header ?? (query == null ? DEFAULT_API_KEY_HEADER : null);
  // Every header the filter writes upstream must differ from the others and from the one the key is read from.
  const written = new Map<string, string>([[consumerHeader ?? DEFAULT_CONSUMER_HEADER, 'consumer_header']]);
  if (keyHeader !== null && written.has(keyHeader)) {
    const at = m.has('consumer_header') ? 'consumer_header' : 'header';
    r.error(m.get(at) ?? f, `${path}.${at}`, `'${keyHeader}' is both where the key is read and where the consumer id is sent`);
  }
  (forwardMetadata ?? []).forEach((k, i) => {
    const h = `${CONSUMER_METADATA_PREFIX}${k.toLowerCase()}`;
    const at = r.list(m.get('forward_metadata')!, `${path}.forward_metadata`)?.[i] ?? f;
    const clash = written.get(h) ?? (h === keyHeader ? 'header' : undefined);
    if (clash !== undefined) r.error(at, `${path}.forward_metadata[${i}]`, `is sent upstream as ${h}, which ${clash} also uses`);
    written.set(h, `forward_metadata[${i}]`);
  });
  if (r.errorCount !== before || consumers === null) return null;
  return {
    consumers,
    header: keyHeader,
    query: query ?? null,
    keepCredential: keepCredential ?? false,
    consumerHeader: consumerHeader ?? null,
    forwardMetadata: forwardMetadata ?? [],
  };
}

function consumer(ctx: ZeroTrustContext, f: Field, path: string, ids: Set<string>, digests: Map<string, string>): ApiKeyConsumer | null {
  const r = ctx.r;
  const m = r.map(f, path, ['id', 'keys_sha256', 'metadata']);
  if (m === null) return null;
  const before = r.errorCount;
  const id = r.required(m, 'id', f, path, (g, p) => r.string(g, p, NAME, '[A-Za-z0-9._-]+'));
  if (id !== null && ids.has(id)) r.error(m.get('id')!, `${path}.id`, `consumer '${id}' is listed twice`);
  if (id !== null) ids.add(id);
  const keys = r.required(m, 'keys_sha256', f, path, (g, p) => {
    const items = nonEmptyList(ctx, g, p, 'key digest', (h, q) => {
      const v = r.string(h, q, SHA256_HEX, '64 hex digits (the SHA-256 of the key)');
      if (v === null) return null;
      const hex = v.toLowerCase();
      if (hex === EMPTY_KEY_SHA256) {
        r.error(h, q, 'is the SHA-256 of the empty key');
        return null;
      }
      const prior = digests.get(hex);
      if (prior !== undefined) {
        r.error(h, q, `the same key digest is already ${prior}'s`);
        return null;
      }
      digests.set(hex, id ?? path);
      return hex;
    });
    if (items !== null && items.length > MAX_KEYS_PER_CONSUMER) {
      r.error(g, p, `at most ${MAX_KEYS_PER_CONSUMER} keys per consumer (the current one and the next, for rotation)`);
      return null;
    }
    return items;
  });
  const metadata: Record<string, string> = {};
  const mf = m.get('metadata');
  if (mf !== undefined) {
    for (const [k, kpos, v] of r.entries(mf, `${path}.metadata`) ?? []) {
      const p = `${path}.metadata.${k}`;
      if (!META_KEY.test(k)) r.error(kpos, p, 'metadata keys must match [A-Za-z0-9._-]+');
      else if (RESERVED_METADATA.includes(k)) r.error(kpos, p, `'${k}' is reserved (the API-key filter sets it)`);
      const value = r.string(v, p, /^[^\r\n\0]*$/, 'text without CR, LF or NUL');
      if (value !== null) metadata[k] = value;
    }
  }
  if (r.errorCount !== before || id === null || keys === null) return null;
  return { id, keysSha256: keys, metadata };
}

/** The value under `key` of a mapping field, read without reporting anything (null when absent). */
export function silentField(f: Field | undefined, key: string): Field | null {
  if (f === undefined || !isMap(f.node)) return null;
  const v = f.node.get(key, true) as { range?: [number, number, number] } | undefined;
  return v === undefined ? null : { node: v, pos: v.range?.[0] ?? f.pos };
}

// ---------- route auth (gateways[].routes[].auth) ----------

/**
 * The names a gateway's routes may refer to, read from the YAML without reporting anything (the sections report
 * their own errors): provider names (the keys of jwt_providers) and consumer ids (api_keys.consumers[].id). Absent
 * sections give null.
 */
export function gatewayAuthNames(jwtProviders: Field | undefined, apiKeys: Field | undefined): { providers: string[] | null; consumers: string[] | null } {
  const scalarKeys = (node: unknown): string[] => (isMap(node) ? node.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '')).filter((k) => k !== '') : []);
  let consumers: string[] | null = null;
  if (apiKeys !== undefined) {
    consumers = [];
    const list = isMap(apiKeys.node) ? apiKeys.node.get('consumers', true) : undefined;
    if (isSeq(list)) {
      for (const c of list.items) {
        const id = isMap(c) ? c.get('id') : undefined;
        if (typeof id === 'string') consumers.push(id);
      }
    }
  }
  return { providers: jwtProviders === undefined ? null : scalarKeys(jwtProviders.node), consumers };
}

/** What a gateway route's `auth` may name. */
export interface GatewayAuthRefs {
  /** The gateway's path, for messages. */
  readonly path: string;
  readonly providers: readonly string[] | null;
  readonly consumers: readonly string[] | null;
}

export function readRouteAuth(ctx: ZeroTrustContext, f: Field, path: string, refs: GatewayAuthRefs): RouteAuth | null {
  const r = ctx.r;
  const m = r.map(f, path, ['jwt', 'allow_missing', 'api_key']);
  if (m === null) return null;
  const before = r.errorCount;
  const jwt = r.optional(m, 'jwt', path, (g, p) =>
    nonEmptyList(ctx, g, p, 'provider', (h, q) => {
      if (refs.providers !== null) return knownName(ctx, h, q, 'JWT provider', refs.providers);
      r.error(h, q, `${refs.path} has no jwt_providers`);
      return null;
    }),
  );
  const allowMissing = r.optional(m, 'allow_missing', path, (g, p) => r.bool(g, p));
  const apiKey = r.optional(m, 'api_key', path, (g, p) => routeApiKey(ctx, g, p, refs));
  const usesJwt = jwt != null && jwt.length > 0;
  if (r.errorCount === before && !usesJwt && apiKey == null) {
    r.error(f, path, 'needs jwt or api_key (leave auth out for an open route)');
  }
  if (r.errorCount !== before) return null;
  return { jwt: jwt ?? [], allowMissing: allowMissing ?? false, apiKey: apiKey ?? null };
}

function routeApiKey(ctx: ZeroTrustContext, f: Field, path: string, refs: GatewayAuthRefs): RouteAuth['apiKey'] {
  const r = ctx.r;
  if (refs.consumers === null) {
    r.error(f, path, `${refs.path} has no api_keys`);
    return null;
  }
  const v = r.scalar(f);
  if (v === true) return { allowedConsumers: [] };
  if (v === false) return null;
  const m = r.map(f, path, ['allowed_consumers']);
  if (m === null) return null;
  const consumers = refs.consumers;
  const allowed = r.required(m, 'allowed_consumers', f, path, (g, p) =>
    nonEmptyList(ctx, g, p, 'consumer', (h, q) => knownName(ctx, h, q, 'consumer', consumers)),
  );
  return allowed === null ? null : { allowedConsumers: allowed };
}
