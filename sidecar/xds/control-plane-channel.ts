// How the sidecar talks to its control plane (ADS and the CA): the target, channel credentials (TLS checked
// against the mesh root and the control plane's SPIFFE ID) and the bootstrap token sent on every call.
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { AdsBootstrap } from '../../src/config/bootstrap.js';
import { uriSans } from '../../src/tls/spiffe.js';

export function controlPlaneTarget(ads: Pick<AdsBootstrap, 'server'>): string {
  const { address, port } = ads.server;
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/**
 * TLS when the bootstrap's xDS cluster has an UpstreamTlsContext: the server must chain to its trusted_ca and,
 * when SAN matchers are given, carry one of those URI SANs (the control plane's SPIFFE ID, like Istio's sidecars
 * check istiod's). Host names are not checked: the identity is the SAN.
 */
export function controlPlaneCredentials(ads: Pick<AdsBootstrap, 'tls'>): grpc.ChannelCredentials {
  const tls = ads.tls;
  if (tls === null) return grpc.credentials.createInsecure();
  const sans = tls.sanUris;
  return grpc.credentials.createSsl(Buffer.from(tls.trustedCaPem), null, null, {
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      if (sans.length === 0) return undefined;
      const got = uriSans(cert.subjectaltname);
      if (got.some((u) => sans.includes(u))) return undefined;
      return new Error(`control plane certificate carries ${got.join(', ') || 'no URI SAN'}, expected ${sans.join(' or ')}`);
    },
  });
}

/** The bootstrap's initial_metadata (the token) as call metadata, built once per call. */
export function controlPlaneMetadata(ads: Pick<AdsBootstrap, 'initialMetadata'>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const { key, value } of ads.initialMetadata) md.add(key, value);
  return md;
}
