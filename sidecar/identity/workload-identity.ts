// The sidecar's workload identity (Istio's agent, in process): a private key generated here and never sent, a
// CSR to the control plane's CertificateService (authenticated by the bootstrap token), the SVID chain and trust
// bundle it returns, and rotation before expiry. Listeners and clusters get the result through SDS-style
// subscriptions (secret names "default" and "ROOTCA", as Istio names them).
import * as grpc from '@grpc/grpc-js';
import type { AdsBootstrap } from '../../src/config/bootstrap.js';
import type { Logger } from '../../src/observability/logger.js';
import type { StatsStore } from '../../src/observability/stats.js';
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from '../../src/tls/ca-service.js';
import { certInfo } from '../../src/tls/x509.js';
import { controlPlaneCredentials, controlPlaneMetadata, controlPlaneTarget } from '../xds/control-plane-channel.js';

export interface IdentityMaterial {
  readonly spiffeId: string;
  /** PKCS#8 PEM of the workload key (stays in this process). */
  readonly keyPem: string;
  /** Leaf first, then intermediates. */
  readonly certChainPem: string;
  readonly trustBundlePem: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface WorkloadIdentityOptions {
  readonly ads: Pick<AdsBootstrap, 'server' | 'tls' | 'initialMetadata'>;
  readonly logger: Logger;
  readonly stats: StatsStore;
  /** Requested SVID lifetime in seconds (0: the CA's default, 24 h). */
  readonly ttlSeconds?: number;
  /** Renew at this fraction of the lifetime (Istio and SPIRE: one half). */
  readonly renewAt?: number;
  /** Retry backoff after a failed request: base and cap in ms. */
  readonly retry?: { readonly baseMs: number; readonly maxMs: number };
}

const CALL_TIMEOUT_MS = 10_000;
/** Floor between renewals, whatever the lifetime and fraction. */
const MIN_RENEW_MS = 1000;

export class WorkloadIdentity {
  readonly #opts: WorkloadIdentityOptions;
  readonly #client: grpc.Client;
  #current: IdentityMaterial | null;
  readonly #listeners: ((m: IdentityMaterial) => void)[];
  #timer: NodeJS.Timeout | null;
  #failures: number;
  #stopped: boolean;
  #first: { resolve: () => void; reject: (e: Error) => void } | null;
  readonly #issued: { inc(): void };
  readonly #failed: { inc(): void };

  constructor(opts: WorkloadIdentityOptions) {
    this.#opts = opts;
    const Ctor = grpc.makeGenericClientConstructor(caServiceDefinition(), 'CertificateService');
    this.#client = new Ctor(controlPlaneTarget(opts.ads), controlPlaneCredentials(opts.ads));
    this.#current = null;
    this.#listeners = [];
    this.#timer = null;
    this.#failures = 0;
    this.#stopped = false;
    this.#first = null;
    this.#issued = opts.stats.counter('identity.cert_issued');
    this.#failed = opts.stats.counter('identity.cert_request_failed');
  }

  /** The current SVID and bundle, null before the first one arrived. */
  get current(): IdentityMaterial | null {
    return this.#current;
  }

  /** Called with every new SVID (first one and each rotation). */
  onUpdate(fn: (m: IdentityMaterial) => void): void {
    this.#listeners.push(fn);
  }

  /** Requests the first SVID; resolves once it is here (retries until then), rejects on stop(). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#first = { resolve, reject };
      void this.#renew();
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#client.close();
    this.#first?.reject(new Error('workload identity stopped'));
    this.#first = null;
  }

  async #renew(): Promise<void> {
    if (this.#stopped) return;
    const log = this.#opts.logger;
    try {
      const m = await this.#request();
      if (this.#stopped) return;
      this.#failures = 0;
      this.#current = m;
      this.#issued.inc();
      log.info({ spiffe_id: m.spiffeId, not_after: new Date(m.notAfter).toISOString() }, 'workload certificate received');
      for (const fn of this.#listeners) fn(m);
      this.#first?.resolve();
      this.#first = null;
      // From now, not from notBefore (the CA back-dates it a minute for clock skew); never sooner than a second.
      const now = Date.now();
      this.#schedule(Math.max(MIN_RENEW_MS, (m.notAfter - now) * (this.#opts.renewAt ?? 0.5)));
    } catch (e) {
      if (this.#stopped) return;
      this.#failed.inc();
      this.#failures++;
      const r = this.#opts.retry ?? { baseMs: 500, maxMs: 30_000 };
      const delay = Math.min(r.maxMs, r.baseMs * 2 ** Math.min(this.#failures - 1, 16)) * (0.5 + Math.random() / 2);
      log.warn({ err_code: 'TESSERA_ERR_IDENTITY_UNAVAILABLE', retry_in_ms: Math.round(delay), attempt: this.#failures }, `certificate request failed: ${(e as Error).message}`);
      this.#schedule(delay);
    }
  }

  #schedule(ms: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    // setTimeout caps at ~24.8 days; SVIDs are far shorter.
    this.#timer = setTimeout(() => void this.#renew(), Math.min(ms, 0x7fffffff));
    this.#timer.unref();
  }

  async #request(): Promise<IdentityMaterial> {
    // Loaded on first use: @peculiar/x509 is only needed by sidecars that run with an identity.
    const { createCsr, generateKeyPair, privateKeyPem } = await import('../../src/tls/x509.js');
    const keys = await generateKeyPair();
    // The CA fills in the identity the token names; the CSR asks for none so a token change needs no config change.
    const csr = await createCsr(keys, null);
    const req: CertificateRequest = { csr, validity_duration: String(this.#opts.ttlSeconds ?? 0) };
    const res = await new Promise<CertificateResponse>((resolve, reject) => {
      const c = this.#client as unknown as Record<string, (r: CertificateRequest, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: CertificateResponse) => void) => void>;
      c.CreateCertificate!(req, controlPlaneMetadata(this.#opts.ads), { deadline: Date.now() + CALL_TIMEOUT_MS }, (e, v) => {
        if (e) reject(new Error(`${grpc.status[e.code] ?? e.code}: ${e.details}`));
        else resolve(v!);
      });
    });
    if (res.cert_chain.length === 0 || res.trust_bundle.length === 0) throw new Error('the CA answered without a certificate or trust bundle');
    const info = certInfo(res.cert_chain[0]!);
    if (!info.uris.includes(res.spiffe_id)) throw new Error(`the issued certificate does not carry ${res.spiffe_id}`);
    return {
      spiffeId: res.spiffe_id,
      keyPem: await privateKeyPem(keys.privateKey),
      certChainPem: res.cert_chain.join(''),
      trustBundlePem: res.trust_bundle.join(''),
      notBefore: info.notBefore,
      notAfter: info.notAfter,
    };
  }
}
