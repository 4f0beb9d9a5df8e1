// envoy.transport_sockets.tls: validates DownstreamTlsContext / UpstreamTlsContext (on filter chains and
// clusters) and SDS Secret resources into the frozen configs the sidecar builds TLS contexts from.
// Pure: files named by `filename` data sources are read by the sidecar (sidecar/tls/), not here.
import { deepFreeze, err, ok, type Result } from '../../core/result.js';
import { TypeUrl } from '../type-urls.js';
import { Issues, NOT_SUPPORTED, anyBody, anyType, bool, boolWrapper, durationMs, join, list, obj, onlyKnown, str, strList, stringMatcher, type Obj } from './common.js';
import type { StringMatchConfig } from './types.js';

export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const RAW_BUFFER_TRANSPORT_SOCKET = 'envoy.transport_sockets.raw_buffer';
/** The cluster name that addresses the sidecar's in-process workload identity as an SDS server (Istio's agent). */
export const LOCAL_SDS_CLUSTER = 'sds-grpc';
/** The only secret the in-process identity serves: the workload's own certificate chain and key. */
export const WORKLOAD_SECRET_NAME = 'default';

/** A PEM held in config, or a file the sidecar reads (and re-reads when the config changes). */
export type DataSourceConfig = { readonly kind: 'inline'; readonly pem: string } | { readonly kind: 'file'; readonly path: string };

export interface TlsCertificateConfig {
  readonly certificateChain: DataSourceConfig;
  readonly privateKey: DataSourceConfig;
}

export type SanType = 'URI' | 'DNS' | 'EMAIL' | 'IP_ADDRESS';

export interface SanMatcherConfig {
  readonly sanType: SanType;
  readonly matcher: StringMatchConfig;
}

export interface CertificateValidationConfig {
  /** The trust bundle; null only in a default_validation_context merged with an SDS one. */
  readonly trustedCa: DataSourceConfig | null;
  /** The peer certificate must carry a SAN matching one of these (empty: any SAN). */
  readonly sanMatchers: readonly SanMatcherConfig[];
}

/** A secret referenced by name; `local` = the in-process workload identity, `ads` = Secret resources over ADS. */
export interface SdsSecretRef {
  readonly name: string;
  readonly source: 'local' | 'ads';
}

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

export interface TlsParamsConfig {
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** OpenSSL cipher list for TLS 1.2 (every entry an AEAD suite). */
  readonly cipherSuites: readonly string[];
  readonly ecdhCurves: readonly string[];
}

export interface CommonTlsConfig {
  readonly params: TlsParamsConfig;
  readonly certificates: readonly TlsCertificateConfig[];
  readonly certificateSds: readonly SdsSecretRef[];
  /** validation_context, or combined_validation_context.default_validation_context. */
  readonly validation: CertificateValidationConfig | null;
  /** validation_context_sds_secret_config (alone or combined with `validation`). */
  readonly validationSds: SdsSecretRef | null;
  readonly alpnProtocols: readonly string[];
}

export interface DownstreamTlsConfig {
  readonly kind: 'downstream';
  readonly common: CommonTlsConfig;
  readonly requireClientCertificate: boolean;
}

export interface UpstreamTlsConfig {
  readonly kind: 'upstream';
  readonly common: CommonTlsConfig;
  /** SNI sent; '' = none. */
  readonly sni: string;
}

export interface SecretConfig {
  readonly name: string;
  readonly tlsCertificate: TlsCertificateConfig | null;
  readonly validationContext: CertificateValidationConfig | null;
  readonly raw: unknown;
}

/** AEAD suites for TLS 1.2 (TLS 1.3's are all AEAD); the default list, strongest curves first. */
export const AEAD_CIPHER_SUITES: readonly string[] = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];
const EXTRA_AEAD = new Set(['AES128-GCM-SHA256', 'AES256-GCM-SHA384']);
const ALL_AEAD = new Set([...AEAD_CIPHER_SUITES, ...EXTRA_AEAD]);
const CURVES = new Set(['X25519', 'P-256', 'P-384', 'P-521', 'prime256v1', 'secp384r1', 'secp521r1']);

const VERSIONS: Readonly<Record<string, TlsVersion | 'old' | 'auto'>> = {
  TLS_AUTO: 'auto',
  TLSv1_0: 'old',
  TLSv1_1: 'old',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};

/** Envoy's TLS handshake limit when a filter chain sets no transport_socket_connect_timeout (Tessera: 10 s). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Validates a transport_socket (filter chain or cluster); null = plaintext. */
export function transportSocket(ts: Obj | null, path: string, issues: Issues, side: 'downstream'): DownstreamTlsConfig | null;
export function transportSocket(ts: Obj | null, path: string, issues: Issues, side: 'upstream'): UpstreamTlsConfig | null;
export function transportSocket(ts: Obj | null, path: string, issues: Issues, side: 'downstream' | 'upstream'): DownstreamTlsConfig | UpstreamTlsConfig | null {
  if (ts === null) return null;
  onlyKnown(ts, path, ['name', 'typed_config'], [], issues);
  const tc = obj(ts, 'typed_config');
  const name = str(ts, 'name');
  if (tc === null) {
    if (name === RAW_BUFFER_TRANSPORT_SOCKET) return null;
    issues.add(join(path, 'typed_config'), `required (${TLS_TRANSPORT_SOCKET} with a ${side === 'downstream' ? 'DownstreamTlsContext' : 'UpstreamTlsContext'})`);
    return null;
  }
  const t = anyType(tc, join(path, 'typed_config'), issues);
  if (t === null) return null;
  const want = side === 'downstream' ? TypeUrl.DownstreamTlsContext : TypeUrl.UpstreamTlsContext;
  if (t !== want) {
    issues.add(join(path, 'typed_config'), `transport socket ${t} ${NOT_SUPPORTED} here (expected ${want})`);
    return null;
  }
  const body = anyBody(tc);
  const p = join(path, 'typed_config');
  return side === 'downstream' ? downstreamTlsContext(body, p, issues) : upstreamTlsContext(body, p, issues);
}

function downstreamTlsContext(o: Obj, path: string, issues: Issues): DownstreamTlsConfig {
  onlyKnown(o, path, ['common_tls_context', 'require_client_certificate'], ['session_timeout', 'disable_stateless_session_resumption', 'disable_stateful_session_resumption'], issues);
  if (o.require_sni !== undefined && boolWrapper(o, 'require_sni', false)) issues.unsupported(join(path, 'require_sni'));
  const common = commonTlsContext(obj(o, 'common_tls_context') ?? {}, join(path, 'common_tls_context'), issues);
  if (common.certificates.length + common.certificateSds.length === 0) {
    issues.add(join(path, 'common_tls_context'), 'a server certificate is required (tls_certificates or tls_certificate_sds_secret_configs)');
  }
  const requireClientCertificate = boolWrapper(o, 'require_client_certificate', false);
  if (requireClientCertificate && common.validation?.trustedCa == null && common.validationSds === null) {
    issues.add(join(path, 'require_client_certificate'), 'needs a validation context with trusted_ca to verify client certificates');
  }
  return { kind: 'downstream', common, requireClientCertificate };
}

function upstreamTlsContext(o: Obj, path: string, issues: Issues): UpstreamTlsConfig {
  onlyKnown(o, path, ['common_tls_context', 'sni'], ['max_session_keys'], issues);
  if (bool(o, 'allow_renegotiation')) issues.unsupported(join(path, 'allow_renegotiation'));
  const common = commonTlsContext(obj(o, 'common_tls_context') ?? {}, join(path, 'common_tls_context'), issues);
  if (common.certificates.length + common.certificateSds.length > 1) issues.add(join(path, 'common_tls_context'), 'at most one client certificate');
  return { kind: 'upstream', common, sni: str(o, 'sni') };
}

function commonTlsContext(o: Obj, path: string, issues: Issues): CommonTlsConfig {
  onlyKnown(
    o,
    path,
    ['tls_params', 'tls_certificates', 'tls_certificate_sds_secret_configs', 'validation_context', 'validation_context_sds_secret_config', 'combined_validation_context', 'alpn_protocols'],
    [],
    issues,
  );
  const params = tlsParams(obj(o, 'tls_params'), join(path, 'tls_params'), issues);
  const certificates = list(o, 'tls_certificates').map((c, i) => tlsCertificate(c, join(join(path, 'tls_certificates'), i), issues, true)!);
  const certificateSds = list(o, 'tls_certificate_sds_secret_configs').map((c, i) =>
    sdsSecretConfig(c, join(join(path, 'tls_certificate_sds_secret_configs'), i), issues),
  );
  let validation: CertificateValidationConfig | null = null;
  let validationSds: SdsSecretRef | null = null;
  const vc = obj(o, 'validation_context');
  const vsds = obj(o, 'validation_context_sds_secret_config');
  const cvc = obj(o, 'combined_validation_context');
  const set = [vc, vsds, cvc].filter((x) => x !== null).length;
  if (set > 1) issues.add(path, 'only one of validation_context, validation_context_sds_secret_config, combined_validation_context');
  if (vc) validation = validationContext(vc, join(path, 'validation_context'), issues, true);
  else if (vsds) validationSds = sdsSecretConfig(vsds, join(path, 'validation_context_sds_secret_config'), issues);
  else if (cvc) {
    const cp = join(path, 'combined_validation_context');
    onlyKnown(cvc, cp, ['default_validation_context', 'validation_context_sds_secret_config'], [], issues);
    const dvc = obj(cvc, 'default_validation_context');
    if (dvc) validation = validationContext(dvc, join(cp, 'default_validation_context'), issues, false);
    const s = obj(cvc, 'validation_context_sds_secret_config');
    if (s) validationSds = sdsSecretConfig(s, join(cp, 'validation_context_sds_secret_config'), issues);
    else issues.add(join(cp, 'validation_context_sds_secret_config'), 'required');
    if (validation?.trustedCa) issues.add(join(cp, 'default_validation_context.trusted_ca'), 'comes from the SDS secret in a combined validation context');
  }
  const alpnProtocols = strList(o, 'alpn_protocols');
  alpnProtocols.forEach((a, i) => {
    if (a === '' || a.length > 255) issues.add(join(join(path, 'alpn_protocols'), i), 'must be 1-255 bytes');
  });
  return { params, certificates, certificateSds, validation, validationSds, alpnProtocols };
}

function tlsParams(o: Obj | null, path: string, issues: Issues): TlsParamsConfig {
  if (o === null) return { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', cipherSuites: AEAD_CIPHER_SUITES, ecdhCurves: [] };
  onlyKnown(o, path, ['tls_minimum_protocol_version', 'tls_maximum_protocol_version', 'cipher_suites', 'ecdh_curves'], [], issues);
  const version = (key: string, dflt: TlsVersion): TlsVersion => {
    const v = o[key] === undefined ? 'TLS_AUTO' : String(o[key]);
    const mapped = VERSIONS[v];
    if (mapped === undefined) issues.add(join(path, key), `unknown version ${v}`);
    else if (mapped === 'old') issues.add(join(path, key), `${v}: Tessera requires TLS 1.2 or later`);
    return mapped === 'TLSv1.2' || mapped === 'TLSv1.3' ? mapped : dflt;
  };
  const minVersion = version('tls_minimum_protocol_version', 'TLSv1.2');
  const maxVersion = version('tls_maximum_protocol_version', 'TLSv1.3');
  if (minVersion === 'TLSv1.3' && maxVersion === 'TLSv1.2') issues.add(path, 'tls_minimum_protocol_version is above tls_maximum_protocol_version');
  const suites: string[] = [];
  strList(o, 'cipher_suites').forEach((entry, i) => {
    // BoringSSL's equal-preference groups `[A|B]` are flattened: OpenSSL has no such groups.
    for (const s of entry.replace(/^\[|\]$/g, '').split('|')) {
      if (ALL_AEAD.has(s)) suites.push(s);
      else issues.add(join(join(path, 'cipher_suites'), i), `${s} is not an AEAD suite Tessera allows (${[...ALL_AEAD].join(', ')})`);
    }
  });
  const ecdhCurves = strList(o, 'ecdh_curves');
  ecdhCurves.forEach((c, i) => {
    if (!CURVES.has(c)) issues.add(join(join(path, 'ecdh_curves'), i), `unknown curve ${c} (${[...CURVES].join(', ')})`);
  });
  return { minVersion, maxVersion, cipherSuites: suites.length > 0 ? suites : AEAD_CIPHER_SUITES, ecdhCurves };
}

/** envoy.config.core.v3.DataSource: inline_string / inline_bytes (PEM) or filename. */
function dataSource(o: Obj | null, path: string, issues: Issues): DataSourceConfig | null {
  if (o === null) {
    issues.add(path, 'required');
    return null;
  }
  onlyKnown(o, path, ['inline_string', 'inline_bytes', 'filename'], [], issues);
  if (typeof o.filename === 'string' && o.filename !== '') return { kind: 'file', path: o.filename };
  let pem = '';
  if (typeof o.inline_string === 'string') pem = o.inline_string;
  else if (o.inline_bytes instanceof Uint8Array) pem = Buffer.from(o.inline_bytes).toString('utf8');
  else if (typeof o.inline_bytes === 'string') pem = Buffer.from(o.inline_bytes, 'base64').toString('utf8');
  if (!pem.includes('-----BEGIN ')) {
    issues.add(path, pem === '' ? 'one of filename, inline_string, inline_bytes is required' : 'inline data is not PEM');
    return null;
  }
  return { kind: 'inline', pem };
}

function tlsCertificate(o: Obj, path: string, issues: Issues, required: boolean): TlsCertificateConfig | null {
  onlyKnown(o, path, ['certificate_chain', 'private_key'], [], issues);
  const certificateChain = dataSource(obj(o, 'certificate_chain'), join(path, 'certificate_chain'), issues);
  const privateKey = dataSource(obj(o, 'private_key'), join(path, 'private_key'), issues);
  if (certificateChain === null || privateKey === null) return required ? { certificateChain: EMPTY, privateKey: EMPTY } : null;
  return { certificateChain, privateKey };
}
const EMPTY: DataSourceConfig = { kind: 'inline', pem: '' };

const SAN_TYPES: readonly SanType[] = ['URI', 'DNS', 'EMAIL', 'IP_ADDRESS'];

function validationContext(o: Obj, path: string, issues: Issues, requireCa: boolean): CertificateValidationConfig {
  onlyKnown(o, path, ['trusted_ca', 'match_typed_subject_alt_names'], [], issues);
  if (o.trust_chain_verification !== undefined && o.trust_chain_verification !== 'VERIFY_TRUST_CHAIN') issues.unsupported(join(path, 'trust_chain_verification'));
  let trustedCa: DataSourceConfig | null = null;
  if (o.trusted_ca !== undefined) trustedCa = dataSource(obj(o, 'trusted_ca'), join(path, 'trusted_ca'), issues);
  else if (requireCa) issues.add(join(path, 'trusted_ca'), 'required (Tessera always verifies the peer chain)');
  const sanMatchers: SanMatcherConfig[] = [];
  list(o, 'match_typed_subject_alt_names').forEach((m, i) => {
    const mp = join(join(path, 'match_typed_subject_alt_names'), i);
    onlyKnown(m, mp, ['san_type', 'matcher'], [], issues);
    const t = String(m.san_type ?? 'SAN_TYPE_UNSPECIFIED') as SanType;
    if (!SAN_TYPES.includes(t)) issues.add(join(mp, 'san_type'), `one of ${SAN_TYPES.join(', ')} is required`);
    const sm = stringMatcher(obj(m, 'matcher') ?? {}, join(mp, 'matcher'), issues);
    if (sm !== null && SAN_TYPES.includes(t)) sanMatchers.push({ sanType: t, matcher: sm });
  });
  return { trustedCa, sanMatchers };
}

/** SdsSecretConfig: a name and where it comes from (ADS, or the in-process identity under `sds-grpc`). */
function sdsSecretConfig(o: Obj, path: string, issues: Issues): SdsSecretRef {
  onlyKnown(o, path, ['name', 'sds_config'], [], issues);
  const name = str(o, 'name');
  if (name === '') issues.add(join(path, 'name'), 'required');
  const cs = obj(o, 'sds_config');
  const cp = join(path, 'sds_config');
  if (cs === null) {
    issues.add(cp, 'required (inline secrets go in tls_certificates / validation_context)');
    return { name, source: 'ads' };
  }
  onlyKnown(cs, cp, ['ads', 'api_config_source', 'resource_api_version'], ['initial_fetch_timeout'], issues);
  if (cs.resource_api_version !== undefined && cs.resource_api_version !== 'V3') issues.add(join(cp, 'resource_api_version'), `${String(cs.resource_api_version)} ${NOT_SUPPORTED}`);
  if (cs.ads !== undefined) return { name, source: 'ads' };
  const api = obj(cs, 'api_config_source');
  if (api === null) {
    issues.add(cp, 'one of ads, api_config_source (the sds-grpc workload identity) is required');
    return { name, source: 'ads' };
  }
  const ap = join(cp, 'api_config_source');
  onlyKnown(api, ap, ['api_type', 'grpc_services', 'transport_api_version'], ['set_node_on_first_message_only'], issues);
  const services = list(api, 'grpc_services');
  const cluster = str(obj(services[0] ?? {}, 'envoy_grpc') ?? {}, 'cluster_name');
  if (String(api.api_type ?? '') !== 'GRPC' || services.length !== 1 || cluster !== LOCAL_SDS_CLUSTER) {
    issues.add(ap, `only the in-process workload identity is supported as an SDS server: api_type GRPC with one grpc_services envoy_grpc cluster_name "${LOCAL_SDS_CLUSTER}"`);
  } else if (name !== WORKLOAD_SECRET_NAME) {
    issues.add(join(path, 'name'), `the workload identity serves only the secret "${WORKLOAD_SECRET_NAME}" (the trust bundle comes over ads)`);
  }
  return { name, source: 'local' };
}

/** Validates an SDS envoy.extensions.transport_sockets.tls.v3.Secret. */
export function validateSecret(raw: Obj): Result<SecretConfig> {
  const issues = new Issues();
  onlyKnown(raw, '', ['name', 'tls_certificate', 'validation_context'], [], issues);
  const name = str(raw, 'name');
  if (name === '') issues.add('name', 'required');
  const tc = obj(raw, 'tls_certificate');
  const vc = obj(raw, 'validation_context');
  if ((tc === null) === (vc === null)) issues.add('', 'exactly one of tls_certificate, validation_context is required');
  const certificate = tc ? tlsCertificate(tc, 'tls_certificate', issues, false) : null;
  const validation = vc ? validationContext(vc, 'validation_context', issues, true) : null;
  if (!issues.empty) return err(issues.list);
  return ok(deepFreeze({ name, tlsCertificate: certificate, validationContext: validation, raw }));
}

/** Every secret a TLS config names, by source. */
export function secretRefs(c: DownstreamTlsConfig | UpstreamTlsConfig | null): SdsSecretRef[] {
  if (c === null) return [];
  const out = [...c.common.certificateSds];
  if (c.common.validationSds) out.push(c.common.validationSds);
  return out;
}

/** FilterChain.transport_socket_connect_timeout: the TLS handshake limit (Tessera's default 10 s). */
export function handshakeTimeoutMs(fc: Obj, path: string, issues: Issues): number {
  return durationMs(fc, 'transport_socket_connect_timeout', DEFAULT_HANDSHAKE_TIMEOUT_MS, path, issues);
}
