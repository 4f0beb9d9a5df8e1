// Mesh TLS in Envoy terms: the SDS sources, TLS params, the Downstream/UpstreamTlsContexts of sidecars and gateways,
// and the Secret resources a node gets (ROOTCA, gateway certificates). Shapes: docs/mesh-config.md "Zero trust".
import { TypeUrl } from '../../src/xds/type-urls.js';
import { workloadSpiffeId } from '../../src/tls/spiffe.js';
import {
  DEFAULT_TRUST_DOMAIN,
  effectiveMtls,
  type GatewayConfig,
  type MtlsMode,
  type Protocol,
  type ServiceConfig,
  type WorkloadIdentity,
  type World,
} from '../model/index.js';
import type { NamedResource } from './names.js';

/** What compile knows of the mesh CA: its trust domain and the roots every proxy trusts (PEM, old and new during a rotation). */
export interface CaView {
  readonly trustDomain: string;
  readonly trustBundlePem: string;
}

export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';
/** Istio's secret names: the workload's own certificate (from the sidecar itself) and the mesh trust bundle (over ADS). */
export const WORKLOAD_SECRET = 'default';
export const ROOTCA_SECRET = 'ROOTCA';

/** The sidecar's in-process workload identity, addressed as an SDS server (Istio's agent role). */
const SDS_LOCAL = {
  api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }] },
  resource_api_version: 'V3',
} as const;
/** Secrets served by the control plane on the ADS stream. */
const SDS_ADS = { ads: {}, resource_api_version: 'V3' } as const;
/** TLS 1.2 minimum; cipher_suites left out = the proxy's AEAD-only default. */
const TLS_PARAMS = { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' } as const;

/** The trust domain SPIFFE IDs are built in: the CA's, else the file's, else the default. */
export function trustDomainOf(world: World, ca: CaView | null): string {
  return ca?.trustDomain ?? world.mesh.trustDomain ?? DEFAULT_TRUST_DOMAIN;
}

export function spiffeIdOf(trustDomain: string, id: WorkloadIdentity): string {
  return workloadSpiffeId(trustDomain, id.namespace, id.serviceAccount);
}

/** The inbound mode of a service's sidecars; DISABLE whenever there is no CA (mTLS needs it). */
export function inboundMode(world: World, svc: ServiceConfig, ca: CaView | null): MtlsMode {
  return ca === null ? 'DISABLE' : effectiveMtls(world.mesh, svc);
}

/**
 * Whether callers (sidecars and gateways) reach `svc` over mTLS: a CA, every instance behind a sidecar (else some
 * endpoints are bare apps), and a mode other than DISABLE (PERMISSIVE services too).
 */
export function upstreamMtls(world: World, svc: ServiceConfig, ca: CaView | null): boolean {
  return ca !== null && svc.instances.length > 0 && svc.instances.every((i) => i.sidecarPort !== null) && effectiveMtls(world.mesh, svc) !== 'DISABLE';
}

function sdsRef(name: string, source: typeof SDS_LOCAL | typeof SDS_ADS): Record<string, unknown> {
  return { name, sds_config: source };
}

function transportSocket(typeUrl: string, body: Record<string, unknown>): Record<string, unknown> {
  return { name: TLS_TRANSPORT_SOCKET, typed_config: { '@type': typeUrl, ...body } };
}

/** The workload certificate plus peer validation against ROOTCA with one SAN matcher. */
function meshCommon(alpn: readonly string[], san: Record<string, unknown>): Record<string, unknown> {
  return {
    tls_params: TLS_PARAMS,
    ...(alpn.length > 0 ? { alpn_protocols: [...alpn] } : {}),
    tls_certificate_sds_secret_configs: [sdsRef(WORKLOAD_SECRET, SDS_LOCAL)],
    combined_validation_context: {
      default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: san }] },
      validation_context_sds_secret_config: sdsRef(ROOTCA_SECRET, SDS_ADS),
    },
  };
}

/** A sidecar's inbound TLS: any workload of the trust domain may connect, with a client certificate. */
export function inboundTlsSocket(trustDomain: string, protocol: Protocol): Record<string, unknown> {
  const alpn = protocol === 'tcp' ? [] : ['h2', 'http/1.1'];
  return transportSocket(TypeUrl.DownstreamTlsContext, {
    common_tls_context: meshCommon(alpn, { prefix: `spiffe://${trustDomain}/` }),
    require_client_certificate: { value: true },
  });
}

/** The ALPN a caller offers to `protocol`'s sidecars: h2 for http2/grpc, http/1.1 for http, none for tcp. */
function upstreamAlpn(protocol: Protocol): string[] {
  if (protocol === 'tcp') return [];
  return protocol === 'http' ? ['http/1.1'] : ['h2'];
}

/** A caller's TLS to `svc`'s sidecars: the caller's workload certificate, the destination's exact SPIFFE ID. */
export function upstreamTlsSocket(trustDomain: string, svc: ServiceConfig): Record<string, unknown> {
  return transportSocket(TypeUrl.UpstreamTlsContext, {
    common_tls_context: meshCommon(upstreamAlpn(svc.protocol), { exact: spiffeIdOf(trustDomain, svc.identity) }),
    sni: `${svc.name}.${svc.identity.namespace}.svc`,
  });
}

/** A gateway's HTTPS: its certificate for the host group over ADS, no client certificate. */
export function gatewayTlsSocket(gateway: string, credential: string): Record<string, unknown> {
  return transportSocket(TypeUrl.DownstreamTlsContext, {
    common_tls_context: {
      tls_params: TLS_PARAMS,
      alpn_protocols: ['h2', 'http/1.1'],
      tls_certificate_sds_secret_configs: [sdsRef(gatewaySecretName(gateway, credential), SDS_ADS)],
    },
  });
}

export function tlsInspector(): Record<string, unknown> {
  return { name: TLS_INSPECTOR, typed_config: { '@type': TypeUrl.TlsInspector } };
}

export function gatewaySecretName(gateway: string, credential: string): string {
  return `${gateway}/${credential}`;
}

/** The trust bundle as the ROOTCA Secret. */
export function rootCaSecret(ca: CaView): NamedResource {
  return { name: ROOTCA_SECRET, resource: { name: ROOTCA_SECRET, validation_context: { trusted_ca: { inline_string: ca.trustBundlePem } } } };
}

/** One Secret per TLS host group of the gateway (its certificate chain and key, read by the control plane). */
export function gatewaySecrets(gw: GatewayConfig): NamedResource[] {
  return (gw.tls?.hosts ?? []).map((g) => {
    const name = gatewaySecretName(gw.name, g.credential);
    return {
      name,
      resource: { name, tls_certificate: { certificate_chain: { inline_string: g.certChainPem }, private_key: { inline_string: g.keyPem } } },
    };
  });
}
