// The control plane's security side: the CA, the bootstrap-token key, the control plane's own serving certificate
// (xDS over TLS), token authentication of ADS streams and certificate requests, and the CertificateService.
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
/** The serving certificate's lifetime; the control plane reissues it on restart. */
const SERVING_CERT_TTL_S = 7 * 24 * 3600;

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
  readonly #serving: { readonly key: string; readonly chain: string };

  private constructor(opts: MeshSecurityOptions, ca: CertificateAuthority, tokenKey: Uint8Array, serving: { key: string; chain: string }) {
    this.trustDomain = opts.trustDomain;
    this.ca = ca;
    this.#tokenKey = tokenKey;
    this.#logger = opts.logger;
    this.#serving = serving;
    this.controlPlaneId = workloadSpiffeId(opts.trustDomain, CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_SERVICE_ACCOUNT);
  }

  static async start(opts: MeshSecurityOptions): Promise<MeshSecurity> {
    const src: CaSource = opts.caFiles !== undefined
      ? { kind: 'files', ...opts.caFiles }
      : { kind: 'self-signed', dir: opts.dir, trustDomain: opts.trustDomain };
    const ca = await CertificateAuthority.load(src);
    const tokenKey = await loadOrCreateTokenKey(opts.dir);
    const keys = await generateKeyPair();
    const id = workloadSpiffeId(opts.trustDomain, CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_SERVICE_ACCOUNT);
    const issued = await ca.sign(await createCsr(keys, id), id, SERVING_CERT_TTL_S);
    return new MeshSecurity(opts, ca, tokenKey, { key: await privateKeyPem(keys.privateKey), chain: issued.certChain.join('') });
  }

  /** TLS for the xDS/CA port: the control plane's SVID; clients authenticate with tokens, not certificates. */
  serverCredentials(): grpc.ServerCredentials {
    return grpc.ServerCredentials.createSsl(
      Buffer.from(this.ca.trustBundle.join('')),
      [{ private_key: Buffer.from(this.#serving.key), cert_chain: Buffer.from(this.#serving.chain) }],
      false,
    );
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
