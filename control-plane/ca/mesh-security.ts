// The control plane's security side: the CA, the bootstrap-token key, the control plane's own serving certificate
// (xDS over TLS, reissued at half-life and when a rotation changes the signing root), token authentication of ADS
// streams and certificate requests, and the CertificateService.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../src/observability/logger.js';
import { bearerToken, loadOrCreateTokenKey, TokenError, verifyToken, type TokenClaims } from '../../src/tls/bootstrap-token.js';
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from '../../src/tls/ca-service.js';
import { workloadSpiffeId } from '../../src/tls/spiffe.js';
import { createCsr, generateKeyPair, privateKeyPem } from '../../src/tls/x509.js';
import { CaError, CertificateAuthority, type CaSource } from './ca.js';

/** The control plane's own identity (what sidecars expect on the xDS server's certificate). */
export const CONTROL_PLANE_NAMESPACE = 'tessera-system';
export const CONTROL_PLANE_SERVICE_ACCOUNT = 'control-plane';
/** The serving certificate's lifetime; reissued at half of it (and on restart). */
const SERVING_CERT_TTL_S = 7 * 24 * 3600;

/**
 * The xDS port's TLS: the control plane's SVID. `replace` swaps it for new connections (grpc-js sets the new
 * secure context on its listening server); clients authenticate with tokens, so no client certificate is asked.
 */
class ServingCredentials extends grpc.ServerCredentials {
  constructor(serving: { key: string; chain: string }) {
    super({ requestCert: false }, { key: [Buffer.from(serving.key)], cert: [Buffer.from(serving.chain)] });
  }

  replace(serving: { key: string; chain: string }): void {
    this.updateSecureContextOptions({ key: [Buffer.from(serving.key)], cert: [Buffer.from(serving.chain)] });
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

async function issueServing(ca: CertificateAuthority, id: string): Promise<{ key: string; chain: string; notAfter: number }> {
  const keys = await generateKeyPair();
  const issued = await ca.sign(await createCsr(keys, id), id, SERVING_CERT_TTL_S);
  return { key: await privateKeyPem(keys.privateKey), chain: issued.certChain.join(''), notAfter: issued.notAfter };
}

export interface MeshSecurityOptions {
  readonly trustDomain: string;
  /** Holds root-cert.pem / root-key.pem (self-signed CA) and token-key. */
  readonly dir: string;
  /** A user-provided signing CA instead of the generated root. */
  readonly caFiles?: { readonly certChainFile: string; readonly keyFile: string; readonly rootFile: string } | undefined;
  readonly logger: Logger;
}

export class MeshSecurity {
  readonly trustDomain: string;
  readonly ca: CertificateAuthority;
  readonly controlPlaneId: string;
  readonly #tokenKey: Uint8Array;
  readonly #logger: Logger;
  readonly #credentials: ServingCredentials;
  /** The root that signed the current serving certificate (its first trust-bundle entry then). */
  #servingRoot: string;
  #renewTimer: NodeJS.Timeout | null = null;

  private constructor(opts: MeshSecurityOptions, ca: CertificateAuthority, tokenKey: Uint8Array, serving: { key: string; chain: string; notAfter: number }) {
    this.trustDomain = opts.trustDomain;
    this.ca = ca;
    this.#tokenKey = tokenKey;
    this.#logger = opts.logger;
    this.#credentials = new ServingCredentials(serving);
    this.#servingRoot = ca.trustBundle[0]!;
    this.controlPlaneId = workloadSpiffeId(opts.trustDomain, CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_SERVICE_ACCOUNT);
    this.#scheduleRenewal(serving.notAfter);
    // activate changes the signing root: new connections get a serving certificate from the new root.
    ca.onBundleChange(() => {
      if (ca.trustBundle[0] !== this.#servingRoot) void this.#renew('the signing root changed');
    });
  }

  static async start(opts: MeshSecurityOptions): Promise<MeshSecurity> {
    const src: CaSource = opts.caFiles !== undefined
      ? { kind: 'files', ...opts.caFiles }
      : { kind: 'self-signed', dir: opts.dir, trustDomain: opts.trustDomain };
    const ca = await CertificateAuthority.load(src);
    const tokenKey = await loadOrCreateTokenKey(opts.dir);
    const id = workloadSpiffeId(opts.trustDomain, CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_SERVICE_ACCOUNT);
    return new MeshSecurity(opts, ca, tokenKey, await issueServing(ca, id));
  }

  /** TLS for the xDS/CA port: the control plane's SVID; clients authenticate with tokens, not certificates. */
  serverCredentials(): grpc.ServerCredentials {
    return this.#credentials;
  }

  /** Stops the renewal timer. */
  close(): void {
    if (this.#renewTimer !== null) clearTimeout(this.#renewTimer);
    this.#renewTimer = null;
  }

  #scheduleRenewal(notAfter: number): void {
    if (this.#renewTimer !== null) clearTimeout(this.#renewTimer);
    const delay = Math.max(60_000, Math.min((notAfter - Date.now()) / 2, 2 ** 31 - 1));
    this.#renewTimer = setTimeout(() => void this.#renew('half of its lifetime passed'), delay);
    this.#renewTimer.unref();
  }

  async #renew(why: string): Promise<void> {
    const root = this.ca.trustBundle[0]!;
    try {
      const serving = await issueServing(this.ca, this.controlPlaneId);
      this.#credentials.replace(serving);
      this.#servingRoot = root;
      this.#scheduleRenewal(serving.notAfter);
      this.#logger.info({ spiffe_id: this.controlPlaneId, not_after: new Date(serving.notAfter).toISOString(), reason: why }, 'control plane serving certificate reissued');
    } catch (e) {
      this.#logger.error({ err: (e as Error).message }, 'control plane serving certificate could not be reissued; the current one stays');
      this.#scheduleRenewal(Date.now() + 120_000);
    }
  }

  /** Checks the call's bootstrap token; throws TokenError (→ UNAUTHENTICATED) when missing or invalid. */
  async authenticate(md: grpc.Metadata): Promise<TokenClaims> {
    const token = bearerToken(md.get('authorization'));
    if (token === null) throw new TokenError('missing bootstrap token (authorization: Bearer …)');
    return verifyToken(this.#tokenKey, token);
  }

  spiffeIdFor(c: TokenClaims): string {
    return workloadSpiffeId(this.trustDomain, c.namespace, c.serviceAccount);
  }

  /** The CertificateService implementation for the gRPC server. */
  service(): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
    const createCertificate = (call: grpc.ServerUnaryCall<CertificateRequest, CertificateResponse>, cb: grpc.sendUnaryData<CertificateResponse>): void => {
      void this.#createCertificate(call).then(
        (res) => cb(null, res),
        (e: Error & { code?: number }) => cb({ code: e.code ?? grpc.status.INTERNAL, details: e.message }),
      );
    };
    return { definition: caServiceDefinition(), implementation: { CreateCertificate: createCertificate } };
  }

  async #createCertificate(call: grpc.ServerUnaryCall<CertificateRequest, CertificateResponse>): Promise<CertificateResponse> {
    let claims: TokenClaims;
    try {
      claims = await this.authenticate(call.metadata);
    } catch (e) {
      this.#logger.warn({ err_code: 'TESSERA_ERR_CA_UNAUTHENTICATED', peer: call.getPeer() }, (e as Error).message);
      throw Object.assign(new Error((e as Error).message), { code: grpc.status.UNAUTHENTICATED });
    }
    const id = this.spiffeIdFor(claims);
    try {
      const ttl = Number(call.request.validity_duration);
      const issued = await this.ca.sign(call.request.csr, id, Number.isFinite(ttl) ? ttl : 0);
      this.#logger.info({ node_id: claims.nodeId, spiffe_id: id, not_after: new Date(issued.notAfter).toISOString() }, 'certificate issued');
      return { cert_chain: [...issued.certChain], trust_bundle: [...issued.trustBundle], spiffe_id: id };
    } catch (e) {
      if (e instanceof CaError) {
        this.#logger.warn({ err_code: 'TESSERA_ERR_CA_REJECTED', node_id: claims.nodeId, spiffe_id: id }, e.message);
        throw Object.assign(new Error(e.message), { code: grpc.status.INVALID_ARGUMENT });
      }
      throw e;
    }
  }
}

export { TokenError };
