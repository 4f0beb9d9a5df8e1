// TLS contexts built from a DownstreamTlsContext (listener filter chains) or UpstreamTlsContext (clusters):
// one SecureContext per secret generation, rebuilt lazily when the SecretStore moved (rotation: new
// handshakes use the new certificate and bundle, established connections keep going), plus the peer
// checks OpenSSL does not do: SAN matchers (the expected SPIFFE ID) and a required client certificate.
import type { Socket } from 'node:net';
import tls, { type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import { StringMatcher } from '../router/string-matcher.js';
import { parseSubjectAltName } from '../../src/tls/spiffe.js';
import type { CommonTlsConfig, DownstreamTlsConfig, SanType, UpstreamTlsConfig } from '../../src/xds/resources/tls.js';
import type { SecretStore } from './secrets.js';

interface Built {
  readonly context: SecureContext;
  /** What built `context` (a tls.Server builds its own from these). */
  readonly options: tls.SecureContextOptions;
  readonly sanMatchers: readonly { readonly type: SanType; readonly matcher: StringMatcher }[];
  readonly verifies: boolean;
}

/** What both directions share: the secret-generation cache and SAN matching. */
abstract class TlsContextBase {
  readonly common: CommonTlsConfig;
  readonly #store: SecretStore;
  #version: number;
  #built: Built | null;
  /** Why the last build produced nothing (a secret not yet received, an unusable key). */
  missing: string;

  constructor(common: CommonTlsConfig, store: SecretStore) {
    this.common = common;
    this.#store = store;
    this.#version = -1;
    this.#built = null;
    this.missing = '';
  }

  /** The context for a new handshake; null while a referenced secret is missing (`missing` says which). */
  protected built(): Built | null {
    if (this.#version !== this.#store.version) {
      this.#version = this.#store.version;
      this.#built = this.#build();
    }
    return this.#built;
  }

  #build(): Built | null {
    const c = this.common;
    const s = this.#store;
    const certs: string[] = [];
    const keys: string[] = [];
    for (const cert of c.certificates) {
      const m = s.certificate(cert);
      if (m === null) return this.#miss('a certificate file is not loaded');
      certs.push(m.certChainPem);
      keys.push(m.keyPem);
    }
    for (const ref of c.certificateSds) {
      const m = s.sdsCertificate(ref);
      if (m === null) return this.#miss(`secret "${ref.name}" (${ref.source === 'local' ? 'workload identity' : 'SDS'}) not received yet`);
      certs.push(m.certChainPem);
      keys.push(m.keyPem);
    }
    let ca: string | null = null;
    const sans = [...(c.validation?.sanMatchers ?? [])];
    if (c.validation?.trustedCa) ca = s.data(c.validation.trustedCa);
    if (c.validationSds !== null) {
      ca = s.sdsTrustedCa(c.validationSds);
      if (ca === null) return this.#miss(`secret "${c.validationSds.name}" (SDS trust bundle) not received yet`);
      sans.push(...(s.sdsValidation(c.validationSds)?.sanMatchers ?? []));
    }
    const verifies = c.validation !== null || c.validationSds !== null;
    if (verifies && ca === null) return this.#miss('the trusted CA file is not loaded');
    const p = c.params;
    const options: tls.SecureContextOptions = {
      ...(certs.length > 0 ? { cert: certs, key: keys } : {}),
      ...(ca !== null ? { ca } : {}),
      minVersion: p.minVersion,
      maxVersion: p.maxVersion,
      ciphers: p.cipherSuites.join(':'),
      ...(p.ecdhCurves.length > 0 ? { ecdhCurve: p.ecdhCurves.join(':') } : {}),
    };
    let context: SecureContext;
    try {
      context = tls.createSecureContext(options);
    } catch (e) {
      return this.#miss(`cannot build the TLS context: ${(e as Error).message}`);
    }
    this.missing = '';
    return { context, options, sanMatchers: sans.map((m) => ({ type: m.sanType, matcher: new StringMatcher(m.matcher) })), verifies };
  }

  #miss(why: string): null {
    this.missing = why;
    return null;
  }

  /** null when the certificate carries a SAN one of the matchers accepts (or there are none), else the reason. */
  protected checkSans(b: Built, cert: PeerCertificate): string | null {
    if (b.sanMatchers.length === 0) return null;
    const sans = parseSubjectAltName(cert.subjectaltname);
    for (const m of b.sanMatchers) for (const [t, v] of sans) if (t === m.type && m.matcher.match(v)) return null;
    return `peer certificate SANs [${sans.map(([t, v]) => `${t}:${v}`).join(', ')}] match none expected`;
  }
}

/** Called once per handshake: the TLS socket after 'secure', or null and why it failed. */
export type HandshakeDone = (t: TLSSocket | null, why: string) => void;

/**
 * A filter chain's DownstreamTlsContext: terminates TLS on an accepted socket. The handshake runs in a
 * tls.Server per secret generation (never listening; sockets are handed to it), because Node completes
 * server-side sockets fully only there: `authorized`, the handshake timeout, and HTTP/2 sessions over TLS
 * (a hand-made server TLSSocket given to node:http2 never gets a working session).
 */
export class ServerTlsContext extends TlsContextBase {
  readonly config: DownstreamTlsConfig;
  readonly #handshakeTimeoutMs: number;
  #server: tls.Server | null;
  #serverFor: Built | null;
  readonly #pending = new WeakMap<Socket, HandshakeDone>();

  constructor(config: DownstreamTlsConfig, store: SecretStore, handshakeTimeoutMs: number) {
    super(config.common, store);
    this.config = config;
    this.#handshakeTimeoutMs = handshakeTimeoutMs;
    this.#server = null;
    this.#serverFor = null;
  }

  /** Starts the server handshake on `socket` (its buffered bytes included); false while secrets are missing. */
  handshake(socket: Socket, done: HandshakeDone): boolean {
    const b = this.built();
    if (b === null) return false;
    if (this.#serverFor !== b) {
      this.#serverFor = b;
      this.#server = this.#newServer(b);
    }
    this.#pending.set(socket, done);
    this.#server!.emit('connection', socket);
    return true;
  }

  #newServer(b: Built): tls.Server {
    const alpn = this.common.alpnProtocols;
    const server = tls.createServer({
      ...b.options,
      requestCert: b.verifies,
      // Decided in checkPeer: a client without a certificate is allowed when not required (Envoy's behaviour).
      rejectUnauthorized: false,
      ...(alpn.length > 0 ? { ALPNProtocols: [...alpn] } : {}),
      handshakeTimeout: this.#handshakeTimeoutMs > 0 ? this.#handshakeTimeoutMs : 0x7fffffff,
    });
    const settle = (t: TLSSocket, ok: boolean, why: string): void => {
      const raw = (t as unknown as { _parent: Socket | null })._parent;
      if (raw === null) return;
      const done = this.#pending.get(raw);
      if (done === undefined) return;
      this.#pending.delete(raw);
      done(ok ? t : null, why);
    };
    server.on('secureConnection', (t: TLSSocket) => settle(t, true, ''));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, t: TLSSocket) => settle(t, false, err.code ?? err.message));
    return server;
  }

  /** After 'secure': null when the peer is acceptable, else why the connection is closed. */
  checkPeer(sock: TLSSocket): string | null {
    const b = this.built();
    if (b === null || !b.verifies) return null;
    const cert = sock.getPeerCertificate(false);
    const presented = cert !== null && cert !== undefined && cert.raw !== undefined;
    if (!presented) return this.config.requireClientCertificate ? 'no client certificate' : null;
    if (!sock.authorized) return `client certificate rejected: ${String(sock.authorizationError)}`;
    return this.checkSans(b, cert);
  }
}

export interface ClientConnectOptions {
  readonly host: string;
  readonly port: number;
}

/** A cluster's UpstreamTlsContext: originates TLS and checks the server (chain, then SAN matchers). */
export class ClientTlsContext extends TlsContextBase {
  readonly config: UpstreamTlsConfig;

  constructor(config: UpstreamTlsConfig, store: SecretStore) {
    super(config.common, store);
    this.config = config;
  }

  /** Connects; emits 'secureConnect' when the server passed every check, 'error' otherwise. null: secrets missing. */
  connect(o: ClientConnectOptions): TLSSocket | null {
    const b = this.built();
    if (b === null) return null;
    const alpn = this.common.alpnProtocols;
    const sni = this.config.sni;
    return tls.connect({
      host: o.host,
      port: o.port,
      secureContext: b.context,
      ...(sni !== '' ? { servername: sni } : {}),
      ...(alpn.length > 0 ? { ALPNProtocols: [...alpn] } : {}),
      rejectUnauthorized: b.verifies,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        if (!b.verifies) return undefined;
        const why = this.checkSans(b, cert);
        return why === null ? undefined : Object.assign(new Error(why), { code: 'ERR_TLS_SAN_MISMATCH' });
      },
    });
  }
}
