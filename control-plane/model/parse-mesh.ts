// Mesh config parser: YAML text → validated, deep-frozen World, collecting every error with file, line, column and field.
import { isIP } from 'node:net';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { deepFreeze, err, ok, type Result } from '../../src/core/result.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_GRPC_ROUTE_TIMEOUT_MS,
  DEFAULT_HEALTH_CHECK,
  DEFAULT_MESH_NAME,
  DEFAULT_MTLS,
  DEFAULT_NAMESPACE,
  DEFAULT_RETRY_ON,
  DEFAULT_ROUTE_TIMEOUT_MS,
  isHttpProtocol,
  RETRY_ON,
  type CircuitBreakerPolicy,
  type DependencyConfig,
  type FaultPolicy,
  type HashOn,
  type HealthCheckKind,
  type HealthCheckPolicy,
  type LbConfig,
  type OutlierDetectionPolicy,
  type RetryOnCondition,
  type RetryPolicy,
  type Destination,
  type ForwardAction,
  type GatewayConfig,
  type HeaderMatch,
  type HeaderOps,
  type InstanceConfig,
  type Labels,
  type LbPolicyName,
  type MeshConfig,
  type NodeRole,
  type Protocol,
  type QueryMatch,
  type RedirectCode,
  type RouteMatch,
  type RouteRule,
  type RouteSet,
  type RuleAction,
  type ServiceConfig,
  type StringMatch,
  type StringMatchKind,
  type World,
  type ApiKeyConfig,
  type GatewayTls,
  type JwtProvider,
  type ListenAddress,
  type MtlsMode,
  type RouteAuth,
  type WorkloadIdentity,
} from './mesh-types.js';
import {
  gatewayAuthNames,
  silentField,
  readApiKeys,
  readAuthorization,
  readGatewayTls,
  readIdentity,
  readJwtProviders,
  readMtls,
  readRouteAuth,
  readTrustDomain,
  type GatewayAuthRefs,
  type ZeroTrustContext,
} from './parse-zero-trust.js';
import { joinPath, YamlReader, type Field } from './yaml-reader.js';

/** Contents of the files a mesh config names (cert_file, key_file, jwks_file) by resolved path, or why each could not be read. */
export type MeshFiles = ReadonlyMap<string, Result<string>>;

export interface ParseOptions {
  /** The named files' contents (`loadMeshConfig` reads them); a file missing here is an error. */
  readonly files?: MeshFiles;
  /**
   * The trust domain of the running control plane's CA (null: it runs without a CA). When given, a
   * `mesh.trust_domain` that differs is an error: the CA's trust domain is fixed at start.
   */
  readonly trustDomain?: string | null;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

const SERVICE_NAME = /^[a-z0-9-]{1,63}$/;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
const LABEL_VALUE = /^[A-Za-z0-9._-]{0,63}$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const PSEUDO_HEADERS = [':authority', ':method', ':path', ':scheme'];
const METHOD = /^[A-Z]+$/;
const HOSTNAME = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const MAX_DURATION_MS = 24 * 3600 * 1000;
const MAX_WEIGHT = 1_000_000;
const REDIRECT_CODES: readonly RedirectCode[] = [301, 302, 303, 307, 308];
const PROTOCOLS: readonly Protocol[] = ['http', 'http2', 'grpc', 'tcp'];
const LB_POLICIES: readonly LbPolicyName[] = ['round_robin', 'least_request', 'random', 'ring_hash', 'maglev'];
const HASH_POLICIES: readonly LbPolicyName[] = ['ring_hash', 'maglev'];
const U32 = 4_294_967_295;
/** Rule keys that only make sense with destinations. */
const FORWARD_ONLY = ['rewrite', 'timeout', 'retries', 'max_stream_duration', 'grpc_timeout_header_max', 'fault'] as const;
const COOKIE_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const GRPC_SERVICE_NAME = /^[A-Za-z0-9_.]*$/;
const STATUS_RANGE = /^([1-5]\d\d)-([1-5]\d\d)$/;
const SERVICE_KEYS = [
  'name',
  'protocol',
  'identity',
  'mtls',
  'authorization',
  'lb',
  'connect_timeout',
  'instances',
  'dependencies',
  'circuit_breaker',
  'outlier_detection',
  'health_check',
] as const;

/** A port some process binds on one host: conflicts are reported once per (host, port). */
interface Bind {
  readonly host: string;
  readonly ip: string;
  readonly port: number;
  readonly what: string;
  readonly at: Field;
  readonly path: string;
}

function isLoopbackOrAny(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip === '0.0.0.0' || ip === '::';
}

function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

/** The machine an address lives on: every loopback and wildcard address is "this host". */
function hostKey(ip: string): string {
  return isLoopbackOrAny(ip) ? 'local' : ip;
}

function labelsMatch(subset: Labels, labels: Labels): boolean {
  return Object.entries(subset).every(([k, v]) => labels[k] === v);
}

function formatLabels(labels: Labels): string {
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')}}`;
}

function destinationKey(d: Destination): string {
  return `${d.service}|${d.subset ? JSON.stringify(Object.entries(d.subset).sort()) : ''}`;
}

/** True only when no request can match both (checked on path, methods and exact/presence header matches). */
function matchesDisjoint(a: RouteMatch, b: RouteMatch): boolean {
  const pa = a.path;
  const pb = b.path;
  if (pa.kind !== 'regex' && pb.kind !== 'regex') {
    if (pa.kind === 'path' && pb.kind === 'path' && pa.value !== pb.value) return true;
    if (pa.kind === 'path' && pb.kind === 'prefix' && !pa.value.startsWith(pb.value)) return true;
    if (pa.kind === 'prefix' && pb.kind === 'path' && !pb.value.startsWith(pa.value)) return true;
    if (pa.kind === 'prefix' && pb.kind === 'prefix' && !pa.value.startsWith(pb.value) && !pb.value.startsWith(pa.value)) return true;
  }
  if (a.methods.length > 0 && b.methods.length > 0 && !a.methods.some((x) => b.methods.includes(x))) return true;
  for (const ha of a.headers) {
    for (const hb of b.headers) {
      if (ha.name !== hb.name) continue;
      const presentA = !ha.invert;
      const presentB = !hb.invert;
      // {present} vs {present, invert}: one needs the header, the other its absence.
      if (ha.match === null && hb.match === null && presentA !== presentB) return true;
      if (ha.match?.kind === 'exact' && hb.match?.kind === 'exact' && presentA && presentB && ha.match.value !== hb.match.value) return true;
      // A value match (not inverted) needs the header; an absence match forbids it.
      if (ha.match !== null && presentA && hb.match === null && !presentB) return true;
      if (hb.match !== null && presentB && ha.match === null && !presentA) return true;
    }
  }
  return false;
}

/** Rejects JavaScript-only regex syntax that RE2 (Envoy, gRPC) does not accept; null when fine. */
function regexProblem(source: string): string | null {
  try {
    new RegExp(source, 'u');
  } catch (e) {
    return `invalid regex: ${(e as Error).message}`;
  }
  if (/\(\?<?[=!]/.test(source)) return 'lookaround is not RE2 syntax';
  if (/\\[1-9]/.test(source)) return 'backreferences are not RE2 syntax';
  return null;
}

const EMPTY_OPS: HeaderOps = { add: {}, set: {}, remove: [] };

/** Reads one mesh document; sections are read in dependency order (services, routes, gateways). */
class MeshParser {
  readonly #r: YamlReader;
  readonly #services = new Map<string, { svc: ServiceConfig; at: Field }>();
  readonly #nodes = new Map<string, { path: string; role: NodeRole | null }>();
  readonly #binds: Bind[] = [];
  readonly #pendingDeps: Array<{ service: string; at: Field; path: string }> = [];
  /** Where each forward action's `fault` key is, for the rule-overlap check in #rules. */
  readonly #faultAt = new Map<ForwardAction, Field>();
  /** Where each service and its `mtls` key are, for the STRICT check once all are read. */
  readonly #serviceAt = new Map<ServiceConfig, { at: Field; path: string; mtls: Field | undefined }>();
  /** Authorization policies wait until every service and gateway is read (they name them). */
  readonly #pendingAuthz: Array<{ svc: Writable<ServiceConfig>; at: Field; path: string }> = [];
  /** Every gateway's identity by name, recorded even for a gateway with errors. */
  readonly #gatewayIdentities = new Map<string, WorkloadIdentity>();
  readonly #baseDir: string;
  /** null: only collect the names of referenced files (no content, no file errors). */
  readonly #files: MeshFiles | null;
  readonly #referenced = new Set<string>();
  readonly #expectTrustDomain: string | null | undefined;
  readonly #zt: ZeroTrustContext;
  #meshMtls: MtlsMode = DEFAULT_MTLS;

  constructor(reader: YamlReader, fileName: string, files: MeshFiles | null, expectTrustDomain: string | null | undefined) {
    this.#r = reader;
    this.#baseDir = path.dirname(fileName);
    this.#files = files;
    this.#expectTrustDomain = expectTrustDomain;
    this.#zt = {
      r: reader,
      file: (f, p) => this.#file(f, p),
      duration: (f, p, allowZero) => this.#duration(f, p, allowZero),
      listen: (f, p) => this.#listen(f, p),
    };
  }

  /** Resolved paths of every file the config names, sorted. */
  get referencedFiles(): string[] {
    return [...this.#referenced].sort();
  }

  /** A named file's content, resolved against the mesh file's directory. */
  #file(f: Field, p: string): string | null {
    const name = this.#r.string(f, p);
    if (name === null || name === '') {
      if (name === '') this.#r.error(f, p, 'must name a file');
      return null;
    }
    const resolved = path.resolve(this.#baseDir, name);
    this.#referenced.add(resolved);
    if (this.#files === null) return null;
    const content = this.#files.get(resolved);
    if (content === undefined) {
      this.#r.error(f, p, `cannot read ${name}: not loaded (files named by the config are read by loadMeshConfig)`);
      return null;
    }
    if (!content.ok) {
      this.#r.error(f, p, `cannot read ${name}: ${content.errors.join('; ')}`);
      return null;
    }
    return content.value;
  }

  read(): { mesh: MeshConfig; nodes: Map<string, NodeRole> } | null {
    const r = this.#r;
    const root = r.root();
    if (r.isNull(root)) {
      r.error(root, '', 'the file is empty; expected a mapping with `services`');
      return null;
    }
    const m = r.map(root, '', ['mesh', 'services', 'routes', 'gateways']);
    if (m === null) return null;

    let name = DEFAULT_MESH_NAME;
    let trustDomain: string | null = null;
    const meshField = m.get('mesh');
    if (meshField !== undefined) {
      const mm = r.map(meshField, 'mesh', ['name', 'trust_domain', 'mtls']);
      const n = mm ? r.optional(mm, 'name', 'mesh', (f, p) => r.string(f, p, SERVICE_NAME, '[a-z0-9-]+')) : null;
      if (n) name = n;
      const td = mm ? r.optional(mm, 'trust_domain', 'mesh', (f, p) => readTrustDomain(this.#zt, f, p)) : null;
      if (td) {
        trustDomain = td;
        this.#checkTrustDomain(td, mm!.get('trust_domain')!);
      }
      const mode = mm ? r.optional(mm, 'mtls', 'mesh', (f, p) => readMtls(this.#zt, f, p)) : null;
      if (mode) this.#meshMtls = mode;
    }

    const services: ServiceConfig[] = [];
    const servicesField = m.get('services');
    if (servicesField === undefined) r.error(root, 'services', 'is required');
    else {
      const items = r.list(servicesField, 'services') ?? [];
      items.forEach((f, i) => {
        const s = this.#service(f, `services[${i}]`);
        if (s) services.push(s);
      });
      this.#checkDependencies();
      this.#checkMtls(services);
    }

    const routes: RouteSet[] = [];
    const routesField = m.get('routes');
    if (routesField !== undefined && !r.isNull(routesField)) {
      const seen = new Map<string, string>();
      (r.list(routesField, 'routes') ?? []).forEach((f, i) => {
        const rs = this.#routeSet(f, `routes[${i}]`, seen);
        if (rs) routes.push(rs);
      });
    }

    const gateways: GatewayConfig[] = [];
    const gatewaysField = m.get('gateways');
    if (gatewaysField !== undefined && !r.isNull(gatewaysField)) {
      (r.list(gatewaysField, 'gateways') ?? []).forEach((f, i) => {
        const g = this.#gateway(f, `gateways[${i}]`);
        if (g) gateways.push(g);
      });
    }

    this.#readAuthorizations();
    this.#checkBinds();
    const nodes = new Map<string, NodeRole>();
    for (const [id, n] of this.#nodes) if (n.role) nodes.set(id, n.role);
    return { mesh: { name, trustDomain, mtls: this.#meshMtls, services, routes, gateways }, nodes };
  }

  /** mesh.trust_domain must be the running CA's (which is fixed when the control plane starts). */
  #checkTrustDomain(td: string, at: Field): void {
    const want = this.#expectTrustDomain;
    if (want === undefined || want === td) return;
    this.#r.error(
      at,
      'mesh.trust_domain',
      want === null
        ? `'${td}' needs the mesh CA, and this control plane started without one; restart it to use a trust domain`
        : `is '${td}' but the control plane's CA serves trust domain '${want}' (--trust-domain, or the file's value at start); restart it to change the trust domain`,
    );
  }

  /** STRICT services need a sidecar on every instance: the callers' clusters carry TLS only then. */
  #checkMtls(services: readonly ServiceConfig[]): void {
    services.forEach((svc) => {
      const mode = svc.mtls ?? this.#meshMtls;
      const missing = svc.instances.filter((inst) => inst.sidecarPort === null).map((inst) => inst.id);
      if (mode !== 'STRICT' || missing.length === 0) return;
      // The mesh default does not make a service without any sidecar STRICT: it is simply outside mTLS.
      if (svc.mtls === null && missing.length === svc.instances.length) return;
      const where = this.#serviceAt.get(svc)!;
      this.#r.error(
        where.mtls ?? where.at,
        where.mtls === undefined ? where.path : `${where.path}.mtls`,
        `mtls is STRICT${svc.mtls === null ? ' (the mesh default)' : ''} but ${missing.join(', ')} has no sidecar_port: callers would reach it without TLS (give every instance a sidecar_port, or set mtls: PERMISSIVE on this service)`,
      );
    });
  }

  /** Policies name services and gateways, so they are read once both are. */
  #readAuthorizations(): void {
    const services = new Map([...this.#services].map(([k, v]) => [k, v.svc]));
    const gws = this.#gatewayIdentities;
    for (const p of this.#pendingAuthz) {
      const mtls = p.svc.mtls ?? this.#meshMtls;
      const mtlsFrom = p.svc.mtls === null ? 'the mesh default' : `${p.path.replace(/\.authorization$/, '')}.mtls`;
      p.svc.authorization = readAuthorization(this.#zt, p.at, p.path, { service: p.svc, mtls, mtlsFrom, services, gateways: gws });
    }
  }

  // ---------- services ----------

  #service(f: Field, path: string): ServiceConfig | null {
    const r = this.#r;
    const m = r.map(f, path, SERVICE_KEYS);
    if (m === null) return null;
    const name = r.required(m, 'name', f, path, (g, p) => r.string(g, p, SERVICE_NAME, '[a-z0-9-]+ (at most 63 characters)'));
    const protocol = r.required(m, 'protocol', f, path, (g, p) => r.oneOf<Protocol>(g, p, PROTOCOLS));
    const lb = r.optional(m, 'lb', path, (g, p) => this.#lb(g, p));
    const connectTimeoutMs = r.optional(m, 'connect_timeout', path, (g, p) => this.#duration(g, p, false));
    const circuitBreaker = r.optional(m, 'circuit_breaker', path, (g, p) => this.#circuitBreaker(g, p));
    const outlierDetection = r.optional(m, 'outlier_detection', path, (g, p) => this.#outlierDetection(g, p));
    const healthCheck = r.optional(m, 'health_check', path, (g, p) => this.#healthCheck(g, p, protocol));
    const mtls = r.optional(m, 'mtls', path, (g, p) => readMtls(this.#zt, g, p));
    const identity = r.optional(m, 'identity', path, (g, p) =>
      readIdentity(this.#zt, g, p, { namespace: DEFAULT_NAMESPACE, serviceAccount: name ?? '' }),
    );

    const instances: InstanceConfig[] = [];
    const instancesField = m.get('instances');
    const instanceItems: Field[] = [];
    if (instancesField === undefined) r.error(f, joinPath(path, 'instances'), 'is required (an empty list is allowed)');
    else if (!r.isNull(instancesField)) {
      (r.list(instancesField, joinPath(path, 'instances')) ?? []).forEach((g, i) => {
        const inst = this.#instance(g, `${path}.instances[${i}]`);
        if (inst) {
          instances.push(inst);
          instanceItems.push(g);
        }
      });
    }

    const dependencies: DependencyConfig[] = [];
    const depsField = m.get('dependencies');
    if (depsField !== undefined && !r.isNull(depsField)) {
      const seen = new Set<string>();
      (r.list(depsField, joinPath(path, 'dependencies')) ?? []).forEach((g, i) => {
        const dp = `${path}.dependencies[${i}]`;
        const dm = r.map(g, dp, ['service', 'port']);
        if (dm === null) return;
        const service = r.required(dm, 'service', g, dp, (h, p) => r.string(h, p, SERVICE_NAME, '[a-z0-9-]+'));
        const port = r.required(dm, 'port', g, dp, (h, p) => r.int(h, p, 1, 65535));
        if (service !== null && seen.has(service)) r.error(dm.get('service')!, `${dp}.service`, `'${service}' is listed twice`);
        if (service !== null) {
          seen.add(service);
          this.#pendingDeps.push({ service, at: dm.get('service')!, path: `${dp}.service` });
        }
        if (service !== null && port !== null) dependencies.push({ service, port });
      });
    }

    if (protocol === 'tcp' && lb?.hashOn) {
      r.error(m.get('lb')!, `${path}.lb.hash_on`, 'needs an http, http2 or grpc service (tcp traffic has no route to hash on)');
    }
    const prior = name === null ? undefined : this.#services.get(name);
    if (prior) {
      r.error(m.get('name')!, `${path}.name`, `duplicate service '${name}' (first declared on line ${r.line(prior.at.pos)})`);
      return null;
    }
    if (name === null || protocol === null || identity === null) return null;
    const svc: Writable<ServiceConfig> = {
      name,
      protocol,
      identity: identity ?? { namespace: DEFAULT_NAMESPACE, serviceAccount: name },
      mtls: mtls ?? null,
      authorization: null,
      lb: lb ?? { policy: 'round_robin', hashOn: null, panicThresholdPercent: null, localityWeighted: false },
      connectTimeoutMs: connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      instances,
      dependencies,
      circuitBreaker: circuitBreaker ?? null,
      outlierDetection: outlierDetection ?? null,
      healthCheck: healthCheck ?? null,
    };
    this.#services.set(name, { svc, at: m.get('name')! });
    this.#serviceAt.set(svc, { at: f, path, mtls: m.get('mtls') });
    const authz = m.get('authorization');
    if (authz !== undefined) this.#pendingAuthz.push({ svc, at: authz, path: `${path}.authorization` });
    instances.forEach((inst, i) => {
      const slot = this.#nodes.get(inst.id);
      if (slot && slot.role === null && slot.path === `${path}.instances[${i}]`) slot.role = { role: 'sidecar', service: svc, instance: inst };
      this.#bindInstance(svc, inst, instanceItems[i]!, `${path}.instances[${i}]`);
    });
    return svc;
  }

  // ---------- destination policies (services[]: lb, circuit_breaker, outlier_detection, health_check) ----------

  /** `lb: <policy>` or `lb: {policy, hash_on, panic_threshold, locality_weighted}`. */
  #lb(f: Field, path: string): LbConfig | null {
    const r = this.#r;
    if (r.scalar(f) !== undefined) {
      const policy = r.oneOf<LbPolicyName>(f, path, LB_POLICIES);
      return policy === null ? null : { policy, hashOn: null, panicThresholdPercent: null, localityWeighted: false };
    }
    const m = r.map(f, path, ['policy', 'hash_on', 'panic_threshold', 'locality_weighted']);
    if (m === null) return null;
    const before = r.errorCount;
    const policy = r.optional(m, 'policy', path, (g, p) => r.oneOf<LbPolicyName>(g, p, LB_POLICIES));
    const hashOn = r.optional(m, 'hash_on', path, (g, p) => this.#hashOn(g, p));
    const panic = r.optional(m, 'panic_threshold', path, (g, p) => r.number(g, p, 0, 100));
    const localityWeighted = r.optional(m, 'locality_weighted', path, (g, p) => r.bool(g, p));
    if (hashOn != null && policy != null && !HASH_POLICIES.includes(policy)) {
      r.error(m.get('hash_on')!, `${path}.hash_on`, `needs policy ring_hash or maglev (policy is ${policy})`);
    }
    if (r.errorCount !== before) return null;
    return {
      policy: policy ?? (hashOn ? 'ring_hash' : 'round_robin'),
      hashOn: hashOn ?? null,
      panicThresholdPercent: panic ?? null,
      localityWeighted: localityWeighted ?? false,
    };
  }

  #hashOn(f: Field, path: string): HashOn | null {
    const r = this.#r;
    const m = r.map(f, path, ['header', 'cookie', 'source_ip', 'query_parameter']);
    if (m === null) return null;
    const forms = [...m.keys()];
    if (forms.length !== 1) {
      r.error(f, path, forms.length === 0 ? 'needs one of header, cookie, source_ip, query_parameter' : `has ${forms.join(' and ')}; use exactly one`);
      return null;
    }
    const form = forms[0]!;
    const g = m.get(form)!;
    const p = `${path}.${form}`;
    if (form === 'header') {
      const v = r.string(g, p);
      if (v === null) return null;
      const name = v.toLowerCase();
      if (!HEADER_NAME.test(name) && !PSEUDO_HEADERS.includes(name)) {
        r.error(g, p, `'${v}' is not a valid header name`);
        return null;
      }
      return { kind: 'header', name };
    }
    if (form === 'source_ip') {
      if (r.scalar(g) !== true) {
        r.error(g, p, 'must be true');
        return null;
      }
      return { kind: 'source_ip' };
    }
    if (form === 'query_parameter') {
      const name = r.string(g, p, /^[^&=#\s]+$/, 'a query parameter name');
      return name === null ? null : { kind: 'query_parameter', name };
    }
    const cm = r.map(g, p, ['name', 'ttl', 'path']);
    if (cm === null) return null;
    const before = r.errorCount;
    const name = r.required(cm, 'name', g, p, (h, q) => r.string(h, q, COOKIE_NAME, 'a cookie name'));
    const ttlMs = r.optional(cm, 'ttl', p, (h, q) => this.#duration(h, q, true));
    const cookiePath = r.optional(cm, 'path', p, (h, q) => r.string(h, q, /^\/[^;\s]*$/, "a path starting with '/'"));
    if (cm.has('path') && !cm.has('ttl')) r.error(cm.get('path')!, `${p}.path`, 'only applies with ttl (the proxy sets the cookie only when it generates one)');
    if (r.errorCount !== before || name === null) return null;
    return { kind: 'cookie', name, ttlMs: ttlMs ?? null, path: cookiePath ?? null };
  }

  #circuitBreaker(f: Field, path: string): CircuitBreakerPolicy | null {
    const r = this.#r;
    const m = r.map(f, path, ['max_connections', 'max_pending_requests', 'max_requests', 'max_retries', 'retry_budget']);
    if (m === null) return null;
    if (m.size === 0) {
      r.error(f, path, 'needs at least one of max_connections, max_pending_requests, max_requests, max_retries, retry_budget');
      return null;
    }
    const before = r.errorCount;
    const count = (key: string, min: number): number | null => r.optional(m, key, path, (g, p) => r.int(g, p, min, U32)) ?? null;
    const maxConnections = count('max_connections', 1);
    const maxPendingRequests = count('max_pending_requests', 1);
    const maxRequests = count('max_requests', 1);
    const maxRetries = count('max_retries', 0);
    const retryBudget = r.optional(m, 'retry_budget', path, (g, p) => {
      const bm = r.map(g, p, ['percent', 'min_concurrency']);
      if (bm === null) return null;
      const percent = r.optional(bm, 'percent', p, (h, q) => r.number(h, q, 0, 100));
      const minConcurrency = r.optional(bm, 'min_concurrency', p, (h, q) => r.int(h, q, 0, U32));
      return { percent: percent ?? null, minConcurrency: minConcurrency ?? null };
    });
    if (m.has('retry_budget') && m.has('max_retries')) {
      r.error(m.get('max_retries')!, `${path}.max_retries`, 'is ignored when retry_budget is set; use one');
    }
    if (r.errorCount !== before) return null;
    return { maxConnections, maxPendingRequests, maxRequests, maxRetries, retryBudget: retryBudget ?? null };
  }

  #outlierDetection(f: Field, path: string): OutlierDetectionPolicy | null {
    const r = this.#r;
    const m = r.map(f, path, [
      'consecutive_5xx',
      'consecutive_gateway_failure',
      'consecutive_local_origin_failure',
      'split_external_local_origin_errors',
      'interval',
      'base_ejection_time',
      'max_ejection_time',
      'max_ejection_time_jitter',
      'max_ejection_percent',
      'success_rate',
      'failure_percentage',
    ]);
    if (m === null) return null;
    const before = r.errorCount;
    const int = (key: string, min: number, max: number): number | null => r.optional(m, key, path, (g, p) => r.int(g, p, min, max)) ?? null;
    const dur = (key: string, allowZero: boolean): number | null => r.optional(m, key, path, (g, p) => this.#duration(g, p, allowZero)) ?? null;
    const consecutive5xx = int('consecutive_5xx', 1, U32);
    const consecutiveGatewayFailure = int('consecutive_gateway_failure', 1, U32);
    const consecutiveLocalOriginFailure = int('consecutive_local_origin_failure', 1, U32);
    const split = r.optional(m, 'split_external_local_origin_errors', path, (g, p) => r.bool(g, p)) ?? false;
    const intervalMs = dur('interval', false);
    const baseEjectionTimeMs = dur('base_ejection_time', false);
    const maxEjectionTimeMs = dur('max_ejection_time', false);
    const maxEjectionTimeJitterMs = dur('max_ejection_time_jitter', true);
    const maxEjectionPercent = int('max_ejection_percent', 0, 100);
    const successRate = r.optional(m, 'success_rate', path, (g, p) => {
      if (r.isNull(g)) return { minimumHosts: null, requestVolume: null, stdevFactor: null, enforcing: 100 };
      const sm = r.map(g, p, ['minimum_hosts', 'request_volume', 'stdev_factor', 'enforcing']);
      if (sm === null) return null;
      const minimumHosts = r.optional(sm, 'minimum_hosts', p, (h, q) => r.int(h, q, 0, U32));
      const requestVolume = r.optional(sm, 'request_volume', p, (h, q) => r.int(h, q, 1, U32));
      const stdevFactor = r.optional(sm, 'stdev_factor', p, (h, q) => {
        const v = r.number(h, q, 0.001, 1000);
        if (v !== null && Math.abs(v * 1000 - Math.round(v * 1000)) > 1e-9) {
          r.error(h, q, 'must have at most 3 decimals');
          return null;
        }
        return v === null ? null : Math.round(v * 1000);
      });
      const enforcing = r.optional(sm, 'enforcing', p, (h, q) => r.int(h, q, 0, 100));
      return { minimumHosts: minimumHosts ?? null, requestVolume: requestVolume ?? null, stdevFactor: stdevFactor ?? null, enforcing: enforcing ?? 100 };
    });
    const failurePercentage = r.optional(m, 'failure_percentage', path, (g, p) => {
      if (r.isNull(g)) return { threshold: null, minimumHosts: null, requestVolume: null, enforcing: 100 };
      const fm = r.map(g, p, ['threshold', 'minimum_hosts', 'request_volume', 'enforcing']);
      if (fm === null) return null;
      const threshold = r.optional(fm, 'threshold', p, (h, q) => r.int(h, q, 0, 100));
      const minimumHosts = r.optional(fm, 'minimum_hosts', p, (h, q) => r.int(h, q, 0, U32));
      const requestVolume = r.optional(fm, 'request_volume', p, (h, q) => r.int(h, q, 1, U32));
      const enforcing = r.optional(fm, 'enforcing', p, (h, q) => r.int(h, q, 0, 100));
      return { threshold: threshold ?? null, minimumHosts: minimumHosts ?? null, requestVolume: requestVolume ?? null, enforcing: enforcing ?? 100 };
    });
    const detectors = ['consecutive_5xx', 'consecutive_gateway_failure', 'consecutive_local_origin_failure', 'success_rate', 'failure_percentage'];
    if (!detectors.some((k) => m.has(k))) r.error(f, path, `needs at least one detector: ${detectors.join(', ')}`);
    if (m.has('consecutive_local_origin_failure') && !split) {
      r.error(m.get('consecutive_local_origin_failure')!, `${path}.consecutive_local_origin_failure`, 'needs split_external_local_origin_errors: true');
    }
    if (baseEjectionTimeMs !== null && maxEjectionTimeMs !== null && maxEjectionTimeMs < baseEjectionTimeMs) {
      r.error(m.get('max_ejection_time')!, `${path}.max_ejection_time`, 'must not be less than base_ejection_time');
    }
    if (r.errorCount !== before) return null;
    return {
      consecutive5xx,
      consecutiveGatewayFailure,
      consecutiveLocalOriginFailure,
      splitExternalLocalOriginErrors: split,
      intervalMs,
      baseEjectionTimeMs,
      maxEjectionTimeMs,
      maxEjectionTimeJitterMs,
      maxEjectionPercent,
      successRate: successRate ?? null,
      failurePercentage: failurePercentage ?? null,
    };
  }

  #healthCheck(f: Field, path: string, protocol: Protocol | null): HealthCheckPolicy | null {
    const r = this.#r;
    const m = r.map(f, path, ['http', 'tcp', 'grpc', 'interval', 'timeout', 'healthy_threshold', 'unhealthy_threshold']);
    if (m === null) return null;
    const before = r.errorCount;
    const kinds = (['http', 'tcp', 'grpc'] as const).filter((k) => m.has(k));
    if (kinds.length !== 1) r.error(f, path, kinds.length === 0 ? 'needs one of http, tcp, grpc' : `has ${kinds.join(' and ')}; use exactly one`);
    let check: HealthCheckKind | null = null;
    const kind = kinds.length === 1 ? kinds[0]! : null;
    const kf = kind === null ? null : m.get(kind)!;
    const kp = kind === null ? '' : `${path}.${kind}`;
    if (kind === 'http') {
      const hm = r.map(kf!, kp, ['path', 'host', 'expected_statuses']);
      if (hm) {
        const hcPath = r.required(hm, 'path', kf!, kp, (g, p) => r.string(g, p, /^\/\S*$/, "a path starting with '/'"));
        const host = r.optional(hm, 'host', kp, (g, p) => r.string(g, p, HOSTNAME, 'a host name (host or host:port)'));
        const statuses = r.optional(hm, 'expected_statuses', kp, (g, p) => this.#statusRanges(g, p));
        if (hcPath !== null) check = { kind: 'http', path: hcPath, host: host ?? null, expectedStatuses: statuses ?? [[200, 201]] };
      }
      if (protocol === 'tcp') r.error(kf!, kp, 'the service is tcp; use a tcp health check');
    } else if (kind === 'tcp') {
      if (!r.isNull(kf!)) {
        for (const [k, kpos] of r.entries(kf!, kp) ?? []) r.error(kpos, joinPath(kp, k), 'unknown key (a tcp health check only connects; write tcp: {})');
      }
      check = { kind: 'tcp' };
    } else if (kind === 'grpc') {
      let service: string | null | undefined = null;
      let authority: string | null | undefined = null;
      if (!r.isNull(kf!)) {
        const gm = r.map(kf!, kp, ['service', 'authority']);
        if (gm) {
          service = r.optional(gm, 'service', kp, (g, p) => r.string(g, p, GRPC_SERVICE_NAME, 'a gRPC service name'));
          authority = r.optional(gm, 'authority', kp, (g, p) => r.string(g, p, HOSTNAME, 'a host name (host or host:port)'));
        }
      }
      check = { kind: 'grpc', service: service ?? null, authority: authority ?? null };
      if (protocol !== null && protocol !== 'grpc' && protocol !== 'http2') {
        r.error(kf!, kp, `needs protocol grpc or http2 (the service is ${protocol})`);
      }
    }
    const intervalMs = r.optional(m, 'interval', path, (g, p) => this.#duration(g, p, false));
    const timeoutMs = r.optional(m, 'timeout', path, (g, p) => this.#duration(g, p, false));
    const healthyThreshold = r.optional(m, 'healthy_threshold', path, (g, p) => r.int(g, p, 1, U32));
    const unhealthyThreshold = r.optional(m, 'unhealthy_threshold', path, (g, p) => r.int(g, p, 1, U32));
    if (r.errorCount !== before || check === null) return null;
    return {
      check,
      intervalMs: intervalMs ?? DEFAULT_HEALTH_CHECK.intervalMs,
      timeoutMs: timeoutMs ?? DEFAULT_HEALTH_CHECK.timeoutMs,
      healthyThreshold: healthyThreshold ?? DEFAULT_HEALTH_CHECK.healthyThreshold,
      unhealthyThreshold: unhealthyThreshold ?? DEFAULT_HEALTH_CHECK.unhealthyThreshold,
    };
  }

  /** `[200, "200-299"]` → [start, end) ranges. */
  #statusRanges(f: Field, path: string): Array<[number, number]> | null {
    const r = this.#r;
    const items = r.list(f, path);
    if (items === null) return null;
    if (items.length === 0) {
      r.error(f, path, 'must list at least one status');
      return null;
    }
    const out: Array<[number, number]> = [];
    items.forEach((g, i) => {
      const p = `${path}[${i}]`;
      const v = r.scalar(g);
      if (typeof v === 'number') {
        const code = r.int(g, p, 100, 599);
        if (code !== null) out.push([code, code + 1]);
        return;
      }
      const mm = typeof v === 'string' ? STATUS_RANGE.exec(v) : null;
      if (mm === null || Number(mm[1]) > Number(mm[2])) {
        r.error(g, p, "must be a status 100-599 or an inclusive range like '200-299'");
        return;
      }
      out.push([Number(mm[1]), Number(mm[2]) + 1]);
    });
    return out.length === items.length ? out : null;
  }

  #instance(f: Field, path: string): InstanceConfig | null {
    const r = this.#r;
    const m = r.map(f, path, ['id', 'address', 'port', 'sidecar_port', 'labels']);
    if (m === null) return null;
    const id = r.required(m, 'id', f, path, (g, p) => r.string(g, p, NODE_ID, 'a node id ([A-Za-z0-9._-]+)'));
    const address = r.required(m, 'address', f, path, (g, p) => this.#ip(g, p, false));
    const port = r.required(m, 'port', f, path, (g, p) => r.int(g, p, 1, 65535));
    const sidecarPort = r.optional(m, 'sidecar_port', path, (g, p) => r.int(g, p, 1, 65535));
    const labels = r.optional(m, 'labels', path, (g, p) => this.#labels(g, p));
    if (id !== null) this.#claimNode(id, path, 'id', m.get('id')!);
    if (id === null || address === null || port === null) return null;
    return { id, address, port, sidecarPort: sidecarPort ?? null, labels: labels ?? {} };
  }

  #labels(f: Field, path: string): Labels | null {
    const r = this.#r;
    if (r.isNull(f)) return {};
    const entries = r.entries(f, path);
    if (entries === null) return null;
    const out: Record<string, string> = {};
    for (const [k, kpos, v] of entries) {
      const p = joinPath(path, k);
      if (!LABEL_KEY.test(k)) r.error(kpos, p, 'label keys must match [A-Za-z0-9][A-Za-z0-9._/-]*');
      const value = r.string(v, p, LABEL_VALUE, '[A-Za-z0-9._-]* (at most 63 characters)');
      if (value !== null) out[k] = value;
    }
    return out;
  }

  #ip(f: Field, path: string, allowWildcard: boolean): string | null {
    const v = this.#r.string(f, path);
    if (v === null) return null;
    if (isIP(v) === 0) {
      this.#r.error(f, path, `must be an IP literal, got '${v}'`);
      return null;
    }
    if (!allowWildcard && isWildcard(v)) {
      this.#r.error(f, path, 'must be a reachable address, not a wildcard');
      return null;
    }
    return v;
  }

  #duration(f: Field, path: string, allowZero: boolean): number | null {
    const r = this.#r;
    const v = r.scalar(f);
    const what = allowZero ? 'a duration like 250ms, 2s or 1m (0 disables)' : 'a duration like 250ms, 2s or 1m';
    if (allowZero && (v === 0 || v === '0')) return 0;
    const m = typeof v === 'string' ? DURATION.exec(v) : null;
    if (m === null) {
      r.error(f, path, `must be ${what}`);
      return null;
    }
    const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000);
    if (!Number.isInteger(ms)) {
      r.error(f, path, 'must be a whole number of milliseconds');
      return null;
    }
    if (ms === 0 && !allowZero) {
      r.error(f, path, 'must be greater than 0');
      return null;
    }
    if (ms > MAX_DURATION_MS) {
      r.error(f, path, 'must be at most 24h');
      return null;
    }
    return ms;
  }

  /** Reserves a node id; the role is filled in once its service or gateway is fully read. */
  #claimNode(id: string, path: string, key: string, at: Field): { path: string; role: NodeRole | null } | null {
    const prior = this.#nodes.get(id);
    if (prior) {
      this.#r.error(at, joinPath(path, key), `node id '${id}' is already used by ${prior.path}`);
      return null;
    }
    const slot = { path, role: null };
    this.#nodes.set(id, slot);
    return slot;
  }

  #bindInstance(svc: ServiceConfig, inst: InstanceConfig, at: Field, path: string): void {
    const host = hostKey(inst.address);
    this.#binds.push({ host, ip: inst.address, port: inst.port, what: `app of ${inst.id}`, at, path: `${path}.port` });
    if (inst.sidecarPort !== null) {
      this.#binds.push({ host, ip: inst.address, port: inst.sidecarPort, what: `sidecar inbound of ${inst.id}`, at, path: `${path}.sidecar_port` });
    }
    for (const d of svc.dependencies) {
      this.#binds.push({
        host,
        ip: '127.0.0.1',
        port: d.port,
        what: `outbound listener of ${inst.id} (dependency ${d.service})`,
        at,
        path,
      });
    }
  }

  /** Dependencies may name services declared further down, so they are checked once all are read. */
  #checkDependencies(): void {
    for (const d of this.#pendingDeps) {
      if (!this.#services.has(d.service)) {
        const names = [...this.#services.keys()].sort();
        this.#r.error(d.at, d.path, `unknown service '${d.service}'${names.length > 0 ? ` (declared: ${names.join(', ')})` : ''}`);
      }
    }
  }

  #checkBinds(): void {
    const r = this.#r;
    const taken = new Map<string, Bind[]>();
    for (const b of this.#binds) {
      const key = `${b.host}|${b.port}`;
      const list = taken.get(key) ?? [];
      const clash = list.find((o) => o.ip === b.ip || isWildcard(o.ip) || isWildcard(b.ip));
      if (clash) {
        r.error(b.at, b.path, `port ${b.port} on ${b.ip} is bound twice: ${b.what} and ${clash.what} (${clash.path})`);
        continue;
      }
      list.push(b);
      taken.set(key, list);
    }
  }

  // ---------- routes ----------

  #routeSet(f: Field, path: string, seen: Map<string, string>): RouteSet | null {
    const r = this.#r;
    const m = r.map(f, path, ['service', 'rules']);
    if (m === null) return null;
    const service = r.required(m, 'service', f, path, (g, p) => this.#httpServiceRef(g, p));
    if (service !== null) {
      const prior = seen.get(service);
      if (prior !== undefined) r.error(m.get('service')!, `${path}.service`, `'${service}' already has rules in ${prior}`);
      else seen.set(service, path);
    }
    const rules = r.required(m, 'rules', f, path, (g, p) => this.#rules(g, p, null));
    if (service === null || rules === null) return null;
    return { service, rules };
  }

  /** `gateway`: the auth the rules may use (gateway routes), null for a service's rules. */
  #rules(f: Field, path: string, gateway: GatewayAuthRefs | null): RouteRule[] | null {
    const r = this.#r;
    if (r.isNull(f)) return [];
    const items = r.list(f, path);
    if (items === null) return null;
    const out: RouteRule[] = [];
    const paths: string[] = [];
    items.forEach((g, i) => {
      const rule = this.#rule(g, `${path}[${i}]`, gateway);
      if (rule) {
        out.push(rule);
        paths.push(`${path}[${i}]`);
      }
    });
    this.#checkFaultOverlap(out, paths);
    return out;
  }

  /**
   * A fault is compiled into an HCM-level fault filter scoped by destination cluster and the rule's match as
   * header matchers, so an earlier rule that sends to the same cluster must not match the same requests:
   * report it unless the two matches are provably disjoint.
   */
  #checkFaultOverlap(rules: readonly RouteRule[], paths: readonly string[]): void {
    rules.forEach((rule, k) => {
      const a = rule.action;
      if (a.kind !== 'forward' || a.fault === null) return;
      const mine = new Set(a.destinations.map((d) => destinationKey(d)));
      for (let j = 0; j < k; j++) {
        const other = rules[j]!;
        if (other.action.kind !== 'forward') continue;
        const shared = other.action.destinations.find((d) => mine.has(destinationKey(d)));
        if (shared === undefined || matchesDisjoint(rule.match, other.match)) continue;
        const at = this.#faultAt.get(a)!;
        this.#r.error(
          at,
          `${paths[k]}.fault`,
          `${paths[j]} comes first, also sends to ${shared.subset ? `'${shared.service}' ${formatLabels(shared.subset)}` : `'${shared.service}'`} and may match the same requests; the fault would apply to them too (make the matches disjoint, e.g. by path or an exact header, or move this rule first)`,
        );
        return;
      }
    });
  }

  #serviceRef(f: Field, path: string): ServiceConfig | null {
    const name = this.#r.string(f, path, SERVICE_NAME, '[a-z0-9-]+');
    if (name === null) return null;
    const s = this.#services.get(name);
    if (!s) {
      const names = [...this.#services.keys()].sort();
      this.#r.error(f, path, `unknown service '${name}'${names.length > 0 ? ` (declared: ${names.join(', ')})` : ''}`);
      return null;
    }
    return s.svc;
  }

  #httpServiceRef(f: Field, path: string): string | null {
    const s = this.#serviceRef(f, path);
    if (s === null) return null;
    if (!isHttpProtocol(s.protocol)) {
      this.#r.error(f, path, `service '${s.name}' is tcp; HTTP routes need an http, http2 or grpc service`);
      return null;
    }
    return s.name;
  }

  #rule(f: Field, path: string, gateway: GatewayAuthRefs | null): RouteRule | null {
    const r = this.#r;
    const m = r.map(f, path, [
      'auth',
      'name',
      'match',
      'destinations',
      'rewrite',
      'headers',
      'timeout',
      'retries',
      'max_stream_duration',
      'grpc_timeout_header_max',
      'fault',
      'redirect',
      'direct_response',
    ]);
    if (m === null) return null;
    const before = r.errorCount;
    const name = r.optional(m, 'name', path, (g, p) => r.string(g, p, /^[A-Za-z0-9._-]+$/, '[A-Za-z0-9._-]+'));
    const matchField = m.get('match');
    const match = matchField === undefined ? this.#defaultMatch() : this.#match(matchField, `${path}.match`);

    const actions = (['destinations', 'redirect', 'direct_response'] as const).filter((k) => m.has(k));
    if (actions.length !== 1) {
      r.error(f, path, actions.length === 0 ? 'needs one of destinations, redirect or direct_response' : `has both ${actions.join(' and ')}; use exactly one`);
    }
    const kind = actions[0];
    if (kind !== 'destinations') {
      for (const k of FORWARD_ONLY) {
        const g = m.get(k);
        if (g !== undefined) r.error(g, `${path}.${k}`, 'only applies to a rule with destinations');
      }
    }

    let action: RuleAction | null = null;
    if (kind === 'destinations') {
      const destinations = this.#destinations(m.get('destinations')!, `${path}.destinations`);
      const rw = r.optional(m, 'rewrite', path, (g, p) => this.#rewrite(g, p, match));
      const timeoutMs = r.optional(m, 'timeout', path, (g, p) => this.#duration(g, p, true));
      const retries = r.optional(m, 'retries', path, (g, p) => this.#retries(g, p));
      const maxStreamDurationMs = r.optional(m, 'max_stream_duration', path, (g, p) => this.#duration(g, p, false));
      const grpcTimeoutHeaderMaxMs = r.optional(m, 'grpc_timeout_header_max', path, (g, p) => this.#duration(g, p, true));
      const fault = r.optional(m, 'fault', path, (g, p) => this.#fault(g, p));
      if (fault != null && match !== null && match.query.length > 0) {
        r.error(m.get('fault')!, `${path}.fault`, 'cannot be combined with match.query (faults are matched by request headers; see docs/mesh-config.md)');
      }
      if (destinations !== null) {
        // A rule that only reaches grpc services defaults to no route timeout and honours the client's grpc-timeout.
        const grpc = destinations.every((d) => this.#services.get(d.service)?.svc.protocol === 'grpc');
        action = {
          kind: 'forward',
          destinations,
          rewritePrefix: rw?.prefix ?? null,
          rewriteHost: rw?.host ?? null,
          timeoutMs: timeoutMs ?? (grpc ? DEFAULT_GRPC_ROUTE_TIMEOUT_MS : DEFAULT_ROUTE_TIMEOUT_MS),
          retries: retries ?? null,
          maxStreamDurationMs: maxStreamDurationMs ?? null,
          grpcTimeoutHeaderMaxMs: grpcTimeoutHeaderMaxMs === undefined ? (grpc ? 0 : null) : grpcTimeoutHeaderMaxMs,
          fault: fault ?? null,
        };
        if (fault != null) this.#faultAt.set(action, m.get('fault')!);
      }
    } else if (kind === 'redirect') {
      action = this.#redirect(m.get('redirect')!, `${path}.redirect`);
    } else if (kind === 'direct_response') {
      action = this.#directResponse(m.get('direct_response')!, `${path}.direct_response`);
    }

    let requestHeaders = EMPTY_OPS;
    let responseHeaders = EMPTY_OPS;
    const headersField = m.get('headers');
    if (headersField !== undefined) {
      const hp = `${path}.headers`;
      const hm = r.map(headersField, hp, ['request', 'response']);
      if (hm) {
        requestHeaders = r.optional(hm, 'request', hp, (g, p) => this.#headerOps(g, p)) ?? EMPTY_OPS;
        responseHeaders = r.optional(hm, 'response', hp, (g, p) => this.#headerOps(g, p)) ?? EMPTY_OPS;
      }
    }
    let auth: RouteAuth | null = null;
    const authField = m.get('auth');
    if (authField !== undefined) {
      if (gateway === null) r.error(authField, `${path}.auth`, 'end-user authentication applies to gateway routes only (mesh callers are authorized with services[].authorization)');
      else auth = readRouteAuth(this.#zt, authField, `${path}.auth`, gateway);
    }
    if (r.errorCount !== before || match === null || action === null) return null;
    return { name: name ?? null, match, action, requestHeaders, responseHeaders, auth };
  }

  #defaultMatch(): RouteMatch {
    return { path: { kind: 'prefix', value: '/' }, headers: [], query: [], methods: [] };
  }

  #match(f: Field, path: string): RouteMatch | null {
    const r = this.#r;
    const m = r.map(f, path, ['prefix', 'path', 'regex', 'headers', 'query', 'methods']);
    if (m === null) return null;
    const kinds = (['prefix', 'path', 'regex'] as const).filter((k) => m.has(k));
    let pathMatch: RouteMatch['path'] | null = { kind: 'prefix', value: '/' };
    if (kinds.length > 1) {
      r.error(f, path, `has ${kinds.join(' and ')}; use exactly one of prefix, path, regex`);
      pathMatch = null;
    } else if (kinds.length === 1) {
      const kind = kinds[0]!;
      const g = m.get(kind)!;
      const p = `${path}.${kind}`;
      const v = r.string(g, p);
      pathMatch = null;
      if (v !== null) {
        if (kind === 'regex') {
          const problem = regexProblem(v);
          if (problem) r.error(g, p, problem);
          else pathMatch = { kind, value: v };
        } else if (!v.startsWith('/')) r.error(g, p, "must start with '/'");
        else pathMatch = { kind, value: v };
      }
    }

    const headers: HeaderMatch[] = [];
    const hf = m.get('headers');
    if (hf !== undefined) {
      for (const [k, kpos, v] of r.entries(hf, `${path}.headers`) ?? []) {
        const p = `${path}.headers.${k}`;
        const name = k.toLowerCase();
        if (!HEADER_NAME.test(name) && !PSEUDO_HEADERS.includes(name)) {
          r.error(kpos, p, 'is not a valid header name');
          continue;
        }
        const sm = this.#stringMatcher(v, p, true);
        if (sm) headers.push({ name, match: sm.match, invert: sm.invert });
      }
    }

    const query: QueryMatch[] = [];
    const qf = m.get('query');
    if (qf !== undefined) {
      for (const [k, , v] of r.entries(qf, `${path}.query`) ?? []) {
        const sm = this.#stringMatcher(v, `${path}.query.${k}`, false);
        if (sm) query.push({ name: k, match: sm.match });
      }
    }

    const methods: string[] = [];
    const mf = m.get('methods');
    if (mf !== undefined) {
      (r.list(mf, `${path}.methods`) ?? []).forEach((g, i) => {
        const p = `${path}.methods[${i}]`;
        const v = r.string(g, p, METHOD, 'an upper-case HTTP method');
        if (v === null) return;
        if (methods.includes(v)) r.error(g, p, `'${v}' is listed twice`);
        else methods.push(v);
      });
    }
    if (pathMatch === null) return null;
    return { path: pathMatch, headers, query, methods };
  }

  #stringMatcher(f: Field, path: string, allowInvert: boolean): { match: StringMatch | null; invert: boolean } | null {
    const r = this.#r;
    const keys = ['exact', 'prefix', 'suffix', 'regex', 'present', ...(allowInvert ? ['invert'] : [])];
    const m = r.map(f, path, keys);
    if (m === null) return null;
    const invert = r.optional(m, 'invert', path, (g, p) => r.bool(g, p)) ?? false;
    const forms = ['exact', 'prefix', 'suffix', 'regex', 'present'].filter((k) => m.has(k));
    if (forms.length !== 1) {
      r.error(f, path, forms.length === 0 ? 'needs one of exact, prefix, suffix, regex, present' : `has ${forms.join(' and ')}; use exactly one`);
      return null;
    }
    const form = forms[0]!;
    const g = m.get(form)!;
    const p = `${path}.${form}`;
    if (form === 'present') {
      if (r.scalar(g) !== true) {
        r.error(g, p, allowInvert ? 'must be true (use invert: true to require absence)' : 'must be true');
        return null;
      }
      return { match: null, invert };
    }
    const v = r.string(g, p);
    if (v === null) return null;
    if (form === 'regex') {
      const problem = regexProblem(v);
      if (problem) {
        r.error(g, p, problem);
        return null;
      }
    } else if (form !== 'exact' && v === '') {
      r.error(g, p, 'must not be empty');
      return null;
    }
    return { match: { kind: form as StringMatchKind, value: v }, invert };
  }

  #destinations(f: Field, path: string): Destination[] | null {
    const r = this.#r;
    const items = r.list(f, path);
    if (items === null) return null;
    if (items.length === 0) {
      r.error(f, path, 'must list at least one destination');
      return null;
    }
    const before = r.errorCount;
    const out: Destination[] = [];
    const seen = new Set<string>();
    items.forEach((g, i) => {
      const p = `${path}[${i}]`;
      const m = r.map(g, p, ['service', 'subset', 'weight']);
      if (m === null) return;
      const svc = r.required(m, 'service', g, p, (h, q) => this.#serviceRef(h, q));
      const subset = r.optional(m, 'subset', p, (h, q) => this.#labels(h, q));
      const weight = r.optional(m, 'weight', p, (h, q) => r.int(h, q, 0, MAX_WEIGHT));
      if (svc === null || subset === null || weight === null) return;
      if (!isHttpProtocol(svc.protocol)) {
        r.error(m.get('service')!, `${p}.service`, `service '${svc.name}' is tcp; HTTP routes need an http, http2 or grpc service`);
        return;
      }
      if (subset !== undefined) {
        if (Object.keys(subset).length === 0) {
          r.error(m.get('subset')!, `${p}.subset`, 'must name at least one label (omit it to target the whole service)');
          return;
        }
        if (!svc.instances.some((inst) => labelsMatch(subset, inst.labels))) {
          r.error(m.get('subset')!, `${p}.subset`, `no instance of '${svc.name}' has labels ${formatLabels(subset)}`);
          return;
        }
      }
      const key = `${svc.name}|${subset ? JSON.stringify(Object.entries(subset).sort()) : ''}`;
      if (seen.has(key)) {
        r.error(g, p, 'duplicates an earlier destination (same service and subset)');
        return;
      }
      seen.add(key);
      if (items.length > 1 && weight === undefined) {
        r.error(g, `${p}.weight`, 'is required when a rule has several destinations');
        return;
      }
      out.push({ service: svc.name, subset: subset ?? null, weight: weight ?? null });
    });
    if (r.errorCount !== before) return null;
    const hashes = new Map<string, string>();
    for (const d of out) {
      const h = this.#services.get(d.service)?.svc.lb.hashOn;
      if (h) hashes.set(JSON.stringify(h), d.service);
    }
    if (hashes.size > 1) {
      r.error(f, path, `services ${[...hashes.values()].map((n) => `'${n}'`).join(' and ')} hash on different keys (lb.hash_on); a route has one hash policy`);
      return null;
    }
    const total = out.reduce((sum, d) => sum + (d.weight ?? 1), 0);
    if (total === 0) {
      r.error(f, path, 'weights must add up to more than 0');
      return null;
    }
    return out;
  }

  #rewrite(f: Field, path: string, match: RouteMatch | null): { prefix: string | null; host: string | null } | null {
    const r = this.#r;
    const m = r.map(f, path, ['prefix', 'host']);
    if (m === null) return null;
    const prefix = r.optional(m, 'prefix', path, (g, p) => r.string(g, p, /^\//, "a path starting with '/'"));
    const host = r.optional(m, 'host', path, (g, p) => r.string(g, p, HOSTNAME, 'a host name (host or host:port)'));
    if (prefix != null && match?.path.kind === 'regex') {
      r.error(m.get('prefix')!, `${path}.prefix`, 'needs a prefix or path match, not regex');
      return null;
    }
    if (prefix === undefined && host === undefined) {
      r.error(f, path, 'needs prefix or host');
      return null;
    }
    return { prefix: prefix ?? null, host: host ?? null };
  }

  #redirect(f: Field, path: string): RuleAction | null {
    const r = this.#r;
    const m = r.map(f, path, ['path', 'prefix', 'host', 'scheme', 'port', 'https', 'code']);
    if (m === null) return null;
    const before = r.errorCount;
    const p = r.optional(m, 'path', path, (g, q) => r.string(g, q, /^\//, "a path starting with '/'"));
    const prefix = r.optional(m, 'prefix', path, (g, q) => r.string(g, q, /^\//, "a path starting with '/'"));
    const host = r.optional(m, 'host', path, (g, q) => r.string(g, q, /^[A-Za-z0-9.-]+$/, 'a host name'));
    const scheme = r.optional(m, 'scheme', path, (g, q) => r.string(g, q, /^[a-z][a-z0-9+.-]*$/, 'a URL scheme'));
    const port = r.optional(m, 'port', path, (g, q) => r.int(g, q, 1, 65535));
    const https = r.optional(m, 'https', path, (g, q) => r.bool(g, q));
    const code = r.optional(m, 'code', path, (g, q) => {
      const v = r.scalar(g);
      if (typeof v === 'number' && (REDIRECT_CODES as readonly number[]).includes(v)) return v as RedirectCode;
      r.error(g, q, `must be one of ${REDIRECT_CODES.join(', ')}`);
      return null;
    });
    if (m.has('path') && m.has('prefix')) r.error(f, path, 'has both path and prefix; use one');
    if (m.has('scheme') && m.has('https')) r.error(f, path, 'has both scheme and https; use one');
    if (m.size === 0 || (m.size === 1 && m.has('code'))) r.error(f, path, 'needs at least one of path, prefix, host, scheme, port, https');
    if (https === false && m.size === 1) r.error(f, path, 'https: false redirects nowhere');
    if (r.errorCount !== before) return null;
    return {
      kind: 'redirect',
      path: p ?? null,
      prefix: prefix ?? null,
      host: host ?? null,
      scheme: scheme ?? null,
      port: port ?? null,
      https: https ?? false,
      code: code ?? 301,
    };
  }

  #directResponse(f: Field, path: string): RuleAction | null {
    const r = this.#r;
    const m = r.map(f, path, ['status', 'body']);
    if (m === null) return null;
    const status = r.required(m, 'status', f, path, (g, p) => r.int(g, p, 200, 599));
    const body = r.optional(m, 'body', path, (g, p) => r.string(g, p));
    if (status === null || body === null) return null;
    return { kind: 'direct_response', status, body: body ?? null };
  }

  #retries(f: Field, path: string): RetryPolicy | null {
    const r = this.#r;
    const m = r.map(f, path, ['attempts', 'per_try_timeout', 'retry_on', 'retriable_status_codes', 'backoff', 'prefer_other_hosts']);
    if (m === null) return null;
    const before = r.errorCount;
    const attempts = r.required(m, 'attempts', f, path, (g, p) => r.int(g, p, 1, 100));
    const perTryTimeoutMs = r.optional(m, 'per_try_timeout', path, (g, p) => this.#duration(g, p, false));
    const retryOn = r.optional(m, 'retry_on', path, (g, p) => {
      const items = r.list(g, p);
      if (items === null) return null;
      if (items.length === 0) {
        r.error(g, p, 'must list at least one condition');
        return null;
      }
      const out: RetryOnCondition[] = [];
      items.forEach((h, i) => {
        const v = r.oneOf<RetryOnCondition>(h, `${p}[${i}]`, RETRY_ON);
        if (v === null) return;
        if (out.includes(v)) r.error(h, `${p}[${i}]`, `'${v}' is listed twice`);
        else out.push(v);
      });
      return out;
    });
    const codes = r.optional(m, 'retriable_status_codes', path, (g, p) => {
      const items = r.list(g, p);
      if (items === null) return null;
      const out: number[] = [];
      items.forEach((h, i) => {
        const v = r.int(h, `${p}[${i}]`, 100, 599);
        if (v === null) return;
        if (out.includes(v)) r.error(h, `${p}[${i}]`, `${v} is listed twice`);
        else out.push(v);
      });
      return out;
    });
    const backoff = r.optional(m, 'backoff', path, (g, p) => {
      const bm = r.map(g, p, ['base', 'max']);
      if (bm === null) return null;
      const baseMs = r.required(bm, 'base', g, p, (h, q) => this.#duration(h, q, false));
      const maxMs = r.optional(bm, 'max', p, (h, q) => this.#duration(h, q, false));
      if (baseMs != null && maxMs != null && maxMs < baseMs) {
        r.error(bm.get('max')!, `${p}.max`, 'must not be less than base');
        return null;
      }
      return baseMs === null || maxMs === null ? null : { baseMs, maxMs: maxMs ?? null };
    });
    const preferOtherHosts = r.optional(m, 'prefer_other_hosts', path, (g, p) => r.bool(g, p));
    if (retryOn && codes && codes.length > 0 && !retryOn.includes('retriable-status-codes')) {
      r.error(m.get('retriable_status_codes')!, `${path}.retriable_status_codes`, "needs 'retriable-status-codes' in retry_on");
    }
    if (retryOn?.includes('retriable-status-codes') && (codes ?? []).length === 0) {
      r.error(m.get('retry_on')!, `${path}.retry_on`, "'retriable-status-codes' needs retriable_status_codes");
    }
    if (r.errorCount !== before || attempts === null) return null;
    const statusCodes = codes ?? [];
    return {
      attempts,
      retryOn: retryOn ?? [...DEFAULT_RETRY_ON, ...(statusCodes.length > 0 ? (['retriable-status-codes'] as const) : [])],
      perTryTimeoutMs: perTryTimeoutMs ?? null,
      retriableStatusCodes: statusCodes,
      backoff: backoff ?? null,
      preferOtherHosts: preferOtherHosts ?? false,
    };
  }

  #fault(f: Field, path: string): FaultPolicy | null {
    const r = this.#r;
    const m = r.map(f, path, ['delay', 'abort']);
    if (m === null) return null;
    if (m.size === 0) {
      r.error(f, path, 'needs delay or abort');
      return null;
    }
    const before = r.errorCount;
    const delay = r.optional(m, 'delay', path, (g, p) => {
      const dm = r.map(g, p, ['fixed', 'percent']);
      if (dm === null) return null;
      const fixedMs = r.required(dm, 'fixed', g, p, (h, q) => this.#duration(h, q, false));
      const perMillion = r.required(dm, 'percent', g, p, (h, q) => this.#percent(h, q));
      return fixedMs === null || perMillion === null ? null : { fixedMs, perMillion };
    });
    const abort = r.optional(m, 'abort', path, (g, p) => {
      const am = r.map(g, p, ['http_status', 'grpc_status', 'percent']);
      if (am === null) return null;
      const httpStatus = r.optional(am, 'http_status', p, (h, q) => r.int(h, q, 200, 599));
      const grpcStatus = r.optional(am, 'grpc_status', p, (h, q) => r.int(h, q, 0, 16));
      const perMillion = r.required(am, 'percent', g, p, (h, q) => this.#percent(h, q));
      if (am.has('http_status') === am.has('grpc_status')) {
        r.error(g, p, am.has('http_status') ? 'has http_status and grpc_status; use one' : 'needs http_status or grpc_status');
        return null;
      }
      if (httpStatus === null || grpcStatus === null || perMillion === null) return null;
      return { httpStatus: httpStatus ?? null, grpcStatus: grpcStatus ?? null, perMillion };
    });
    if (r.errorCount !== before) return null;
    return { delay: delay ?? null, abort: abort ?? null };
  }

  /** A percentage 0-100 with at most 4 decimals, as parts per million. */
  #percent(f: Field, path: string): number | null {
    const v = this.#r.number(f, path, 0, 100);
    if (v === null) return null;
    const ppm = Math.round(v * 10_000);
    if (Math.abs(v * 10_000 - ppm) > 1e-6) {
      this.#r.error(f, path, 'must have at most 4 decimals (the resolution is one in a million)');
      return null;
    }
    return ppm;
  }

  #headerOps(f: Field, path: string): HeaderOps | null {
    const r = this.#r;
    const m = r.map(f, path, ['add', 'set', 'remove']);
    if (m === null) return null;
    const before = r.errorCount;
    const kv = (key: 'add' | 'set'): Record<string, string> => {
      const out: Record<string, string> = {};
      const g = m.get(key);
      if (g === undefined) return out;
      for (const [k, kpos, v] of r.entries(g, `${path}.${key}`) ?? []) {
        const p = `${path}.${key}.${k}`;
        const name = this.#mutableHeader(k, kpos, p);
        const value = r.string(v, p);
        if (value !== null && /[\r\n\0]/.test(value)) r.error(v, p, 'must not contain CR, LF or NUL');
        else if (name !== null && value !== null) out[name] = value;
      }
      return out;
    };
    const add = kv('add');
    const set = kv('set');
    for (const k of Object.keys(add)) if (k in set) r.error(m.get('set')!, `${path}.set.${k}`, 'is also in add; use one');
    const remove: string[] = [];
    const rf = m.get('remove');
    if (rf !== undefined) {
      (r.list(rf, `${path}.remove`) ?? []).forEach((g, i) => {
        const p = `${path}.remove[${i}]`;
        const v = r.string(g, p);
        if (v === null) return;
        const name = this.#mutableHeader(v, g.pos, p);
        if (name !== null && !remove.includes(name)) remove.push(name);
      });
    }
    if (r.errorCount !== before) return null;
    return { add, set, remove };
  }

  #mutableHeader(raw: string, pos: number, path: string): string | null {
    const name = raw.toLowerCase();
    if (!HEADER_NAME.test(name)) {
      this.#r.error(pos, path, `'${raw}' is not a valid header name`);
      return null;
    }
    if (name === 'host') {
      this.#r.error(pos, path, 'host cannot be changed here; use rewrite.host');
      return null;
    }
    return name;
  }

  // ---------- gateways ----------

  #gateway(f: Field, path: string): GatewayConfig | null {
    const r = this.#r;
    const m = r.map(f, path, ['name', 'listen', 'identity', 'tls', 'jwt_providers', 'api_keys', 'routes']);
    if (m === null) return null;
    const before = r.errorCount;
    const name = r.required(m, 'name', f, path, (g, p) => r.string(g, p, NODE_ID, 'a node id ([A-Za-z0-9._-]+)'));
    const slot = name === null ? null : this.#claimNode(name, path, 'name', m.get('name')!);
    const listen = r.required(m, 'listen', f, path, (g, p) => this.#listen(g, p));
    const identity = r.optional(m, 'identity', path, (g, p) =>
      readIdentity(this.#zt, g, p, { namespace: DEFAULT_NAMESPACE, serviceAccount: name ?? '' }),
    );
    const tls: GatewayTls | null | undefined = r.optional(m, 'tls', path, (g, p) => readGatewayTls(this.#zt, g, p));
    const jwtProviders: JwtProvider[] | null | undefined = r.optional(m, 'jwt_providers', path, (g, p) => readJwtProviders(this.#zt, g, p));
    const apiKeys: ApiKeyConfig | null | undefined = r.optional(m, 'api_keys', path, (g, p) => readApiKeys(this.#zt, g, p));
    // Recorded even when the gateway has errors, so policies naming it do not add a second, misleading one.
    if (name !== null && identity !== null && !this.#gatewayIdentities.has(name)) {
      this.#gatewayIdentities.set(name, identity ?? { namespace: DEFAULT_NAMESPACE, serviceAccount: name });
    }
    const refs: GatewayAuthRefs = { path, ...gatewayAuthNames(m.get('jwt_providers'), m.get('api_keys')) };
    const routes = r.required(m, 'routes', f, path, (g, p) => this.#rules(g, p, refs));
    if (name !== null && listen !== null) {
      this.#binds.push({ host: hostKey(listen.address), ip: listen.address, port: listen.port, what: `gateway ${name}`, at: m.get('listen')!, path: `${path}.listen` });
    }
    const redirect = tls?.httpRedirectListen;
    if (name !== null && redirect) {
      this.#binds.push({
        host: hostKey(redirect.address),
        ip: redirect.address,
        port: redirect.port,
        what: `gateway ${name} (http redirect)`,
        at: silentField(m.get('tls'), 'http_redirect_listen') ?? m.get('tls')!,
        path: `${path}.tls.http_redirect_listen`,
      });
    }
    if (r.errorCount !== before || name === null || listen === null || routes === null) return null;
    const gw: GatewayConfig = {
      name,
      listen,
      routes,
      identity: identity ?? { namespace: DEFAULT_NAMESPACE, serviceAccount: name },
      tls: tls ?? null,
      jwtProviders: jwtProviders ?? [],
      apiKeys: apiKeys ?? null,
    };
    if (slot) slot.role = { role: 'gateway', gateway: gw };
    return gw;
  }

  #listen(f: Field, path: string): ListenAddress | null {
    const v = this.#r.string(f, path);
    if (v === null) return null;
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:[\]]+):(\d+)$/.exec(v);
    const port = m ? Number(m[2]) : NaN;
    if (m === null || isIP(m[1]!) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
      this.#r.error(f, path, `must be ip:port (IPv6 as [ip]:port) with port 1-65535, got '${v}'`);
      return null;
    }
    return { address: m[1]!, port };
  }
}

/**
 * Parses and validates one mesh config; every error is `file:line:col: field.path: message`. Files the config names
 * are looked up in `opts.files` (`loadMeshConfig` reads them first).
 */
export function parseMeshConfig(text: string, fileName: string, opts: ParseOptions = {}): Result<World> {
  return parse(text, fileName, opts.files ?? new Map(), opts.trustDomain).world;
}

/** The resolved paths of the files `text` names (cert_file, key_file, jwks_file), sorted; [] when it does not parse. */
export function referencedFiles(text: string, fileName: string): string[] {
  return parse(text, fileName, null, undefined).files;
}

function parse(text: string, fileName: string, files: MeshFiles | null, trustDomain: string | null | undefined): { world: Result<World>; files: string[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      return `${fileName}:${line}:${col}: ${e.message.split('\n')[0]}`;
    });
    return { world: err(errors), files: [] };
  }
  const reader = new YamlReader(fileName, doc, lines);
  const parser = new MeshParser(reader, fileName, files, trustDomain);
  const read = parser.read();
  const errors = reader.finish();
  const referenced = parser.referencedFiles;
  if (errors.length > 0 || read === null) return { world: err(errors.length > 0 ? errors : [`${fileName}: invalid mesh config`]), files: referenced };
  const { mesh, nodes } = read;
  const world: World = {
    source: fileName,
    files: referenced,
    mesh,
    services: new Map(mesh.services.map((s) => [s.name, s])),
    routes: new Map(mesh.routes.map((rs) => [rs.service, rs])),
    nodes,
  };
  deepFreeze(mesh);
  return { world: ok(Object.freeze(world)), files: referenced };
}
