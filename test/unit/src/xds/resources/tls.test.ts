// DownstreamTlsContext / UpstreamTlsContext / Secret validation, through the real protobuf decode.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateCluster } from '../../../../../src/xds/resources/cluster.js';
import { validateListener } from '../../../../../src/xds/resources/listener.js';
import { validateSecret } from '../../../../../src/xds/resources/tls.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { decoded, edsCluster, listener } from './fixtures.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const LOCAL = { api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }] }, resource_api_version: 'V3' };
const ADS = { ads: {}, resource_api_version: 'V3' };

function meshCommon(san: object): object {
  return {
    tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
    tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: LOCAL }],
    combined_validation_context: {
      default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: san }] },
      validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: ADS },
    },
  };
}

function tlsListener(ctx: object, extra: Record<string, unknown> = {}) {
  const l = listener('in') as Record<string, unknown>;
  const fc = (l.filter_chains as Record<string, unknown>[])[0]!;
  fc.transport_socket = { name: 'envoy.transport_sockets.tls', typed_config: { '@type': TypeUrl.DownstreamTlsContext, ...ctx } };
  Object.assign(fc, extra);
  return validateListener(decoded(TypeUrl.Listener, l));
}

test('a mesh inbound DownstreamTlsContext: SDS certificate from the workload identity, ROOTCA over ADS, SAN prefix', () => {
  const r = tlsListener({ common_tls_context: meshCommon({ prefix: 'spiffe://td/' }), require_client_certificate: { value: true } });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const tls = r.value.filterChains[0]!.tls!;
  assert.equal(tls.requireClientCertificate, true);
  assert.deepEqual(tls.common.certificateSds, [{ name: 'default', source: 'local' }]);
  assert.deepEqual(tls.common.validationSds, { name: 'ROOTCA', source: 'ads' });
  assert.equal(tls.common.validation?.sanMatchers[0]?.sanType, 'URI');
  assert.equal(tls.common.params.minVersion, 'TLSv1.2');
  assert.equal(r.value.filterChains[0]!.handshakeTimeoutMs, 10_000);
});

test('TLS contexts: versions below 1.2, non-AEAD suites, a missing certificate, an unknown SDS server are NACKed', () => {
  const errs = (r: { ok: boolean; errors?: string[] }) => (r.ok ? [] : r.errors!);
  const p = 'filter_chains[0].transport_socket.typed_config.common_tls_context';
  assert.ok(errs(tlsListener({ common_tls_context: { ...meshCommon({ exact: 'x' }), tls_params: { tls_minimum_protocol_version: 'TLSv1_1' } } })).includes(`${p}.tls_params.tls_minimum_protocol_version: TLSv1_1: Tessera requires TLS 1.2 or later`));
  assert.ok(errs(tlsListener({ common_tls_context: { ...meshCommon({ exact: 'x' }), tls_params: { cipher_suites: ['AES128-SHA'] } } })).some((e) => e.startsWith(`${p}.tls_params.cipher_suites[0]: AES128-SHA is not an AEAD suite`)));
  assert.ok(errs(tlsListener({ common_tls_context: {} })).includes(`${p}: a server certificate is required (tls_certificates or tls_certificate_sds_secret_configs)`));
  const other = { name: 'default', sds_config: { api_config_source: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'spire' } }] } } };
  assert.ok(errs(tlsListener({ common_tls_context: { tls_certificate_sds_secret_configs: [other] } })).some((e) => e.includes('only the in-process workload identity is supported as an SDS server')));
  assert.ok(errs(tlsListener({ common_tls_context: { tls_certificates: [{ certificate_chain: { filename: '/c.pem' }, private_key: { filename: '/k.pem' } }] }, require_client_certificate: { value: true } })).includes('filter_chains[0].transport_socket.typed_config.require_client_certificate: needs a validation context with trusted_ca to verify client certificates'));
});

test('filter_chain_match on TLS properties needs tls_inspector; with it, server_names/transport_protocol are kept and duplicates NACKed', () => {
  const l = listener('edge') as Record<string, unknown>;
  const chains = l.filter_chains as Record<string, unknown>[];
  chains[0]!.filter_chain_match = { server_names: ['Shop.Example.com', '*.example.com'], transport_protocol: 'tls' };
  const no = validateListener(decoded(TypeUrl.Listener, l));
  assert.equal(no.ok, false);
  l.listener_filters = [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TypeUrl.TlsInspector } }];
  const yes = validateListener(decoded(TypeUrl.Listener, l));
  assert.ok(yes.ok, JSON.stringify(!yes.ok && yes.errors));
  assert.equal(yes.value.tlsInspector, true);
  assert.deepEqual(yes.value.filterChains[0]!.match.serverNames, ['shop.example.com', '*.example.com']);
  chains.push({ ...chains[0]!, filter_chain_match: { server_names: ['shop.example.com'], transport_protocol: 'tls' } });
  const dup = validateListener(decoded(TypeUrl.Listener, l));
  assert.ok(!dup.ok && dup.errors.includes('filter_chains[1].filter_chain_match: same match as filter_chains[0]'));
});

test('a cluster UpstreamTlsContext: exact SPIFFE ID, SNI, ALPN must offer h2 for an HTTP/2 cluster', () => {
  const ts = (alpn: string[]) => ({
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': TypeUrl.UpstreamTlsContext, common_tls_context: { ...meshCommon({ exact: 'spiffe://td/ns/a/sa/b' }), alpn_protocols: alpn }, sni: 'b.a.svc' },
  });
  const ok = validateCluster(decoded(TypeUrl.Cluster, edsCluster('b', { transport_socket: ts(['http/1.1']) })));
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.errors));
  assert.equal(ok.value.tls?.sni, 'b.a.svc');
  const h2 = {
    '@type': TypeUrl.HttpProtocolOptions,
    explicit_http_config: { http2_protocol_options: {} },
  };
  const bad = validateCluster(decoded(TypeUrl.Cluster, edsCluster('b', { transport_socket: ts(['http/1.1']), typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': h2 } })));
  assert.ok(!bad.ok && bad.errors.includes('transport_socket.typed_config.common_tls_context.alpn_protocols: must offer h2 for the cluster\'s http2 upstream'));
});

test('SDS Secret: a trust bundle or a certificate, exactly one, PEM inline or a file', () => {
  const root = validateSecret(decoded(TypeUrl.Secret, { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: PEM } } }));
  assert.ok(root.ok);
  assert.equal(root.value.validationContext?.trustedCa?.kind, 'inline');
  const cert = validateSecret(decoded(TypeUrl.Secret, { name: 'gw/shop', tls_certificate: { certificate_chain: { filename: '/etc/c.pem' }, private_key: { filename: '/etc/k.pem' } } }));
  assert.ok(cert.ok);
  assert.deepEqual(cert.value.tlsCertificate?.privateKey, { kind: 'file', path: '/etc/k.pem' });
  const both = validateSecret(decoded(TypeUrl.Secret, { name: 'x' }));
  assert.deepEqual(both.ok ? [] : both.errors, ['exactly one of tls_certificate, validation_context is required']);
  const notPem = validateSecret(decoded(TypeUrl.Secret, { name: 'x', validation_context: { trusted_ca: { inline_string: 'hello' } } }));
  assert.deepEqual(notPem.ok ? [] : notPem.errors, ['validation_context.trusted_ca: inline data is not PEM']);
});
