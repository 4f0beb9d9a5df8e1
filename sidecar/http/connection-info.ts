// What filters may know of the downstream connection (built once per connection, shared by its streams):
// addresses, and for TLS the verified peer certificate's identity (SPIFFE ID), SNI and version.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parseSubjectAltName } from '../../src/tls/spiffe.js';

export interface DownstreamConnectionInfo {
  /** The socket peer's address (before any x-forwarded-for rules). */
  readonly directRemoteAddress: string;
  readonly directRemotePort: number;
  readonly localAddress: string;
  /** The listener port the connection arrived on (RBAC destination_port). */
  readonly localPort: number;
  /** TLS terminated on this connection. */
  readonly secure: boolean;
  /** A client certificate was presented and verified against the listener's trust bundle. */
  readonly peerCertificateValidated: boolean;
  /** The verified peer certificate's first URI SAN (its SPIFFE ID), '' when none (Envoy's principal for RBAC). */
  readonly peerPrincipal: string;
  readonly peerUriSans: readonly string[];
  readonly peerDnsSans: readonly string[];
  /** The verified peer certificate's subject, RFC 2253-ish ("CN=a,O=b"), '' when none. */
  readonly peerSubject: string;
  /** SHA-256 of the peer certificate's DER, lower-case hex (XFCC Hash), '' when none. */
  readonly peerCertSha256: string;
  /** SNI the client asked for, '' when none. */
  readonly requestedServerName: string;
  /** 'TLSv1.3', 'TLSv1.2', '' for plaintext. */
  readonly tlsVersion: string;
}

function unmapped(a: string | undefined): string {
  const s = a ?? '';
  return s.startsWith('::ffff:') ? s.slice(7) : s;
}

/** Reads the connection facts once; for TLS sockets after the handshake (the verified chain is final then). */
export function connectionInfo(socket: Socket): DownstreamConnectionInfo {
  const tls = (socket as Partial<TLSSocket>).encrypted === true ? (socket as TLSSocket) : null;
  const uris: string[] = [];
  const dns: string[] = [];
  let subject = '';
  let sha = '';
  let validated = false;
  if (tls !== null) {
    validated = tls.authorized === true;
    const cert = validated ? tls.getPeerCertificate(false) : null;
    if (cert !== null && cert.raw !== undefined) {
      for (const [t, v] of parseSubjectAltName(cert.subjectaltname)) {
        if (t === 'URI') uris.push(v);
        else if (t === 'DNS') dns.push(v);
      }
      subject = subjectString(cert.subject as unknown as Record<string, string | string[]> | undefined);
      sha = cert.fingerprint256.replace(/:/g, '').toLowerCase();
    }
  }
  return {
    directRemoteAddress: unmapped(socket.remoteAddress),
    directRemotePort: socket.remotePort ?? 0,
    localAddress: unmapped(socket.localAddress),
    localPort: socket.localPort ?? 0,
    secure: tls !== null,
    peerCertificateValidated: validated,
    peerPrincipal: uris[0] ?? '',
    peerUriSans: uris,
    peerDnsSans: dns,
    peerSubject: subject,
    peerCertSha256: sha,
    requestedServerName: tls !== null && typeof tls.servername === 'string' ? tls.servername : '',
    tlsVersion: tls !== null ? (tls.getProtocol() ?? '') : '',
  };
}

function subjectString(s: Record<string, string | string[]> | undefined): string {
  if (s === undefined) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s)) for (const x of Array.isArray(v) ? v : [v]) parts.push(`${k}=${x}`);
  return parts.join(',');
}
