// The sidecar's secret store (Envoy's SDS secret manager): secrets named by TLS contexts, from the control
// plane over ADS (`ads`) or from the in-process workload identity (`local`, name "default"), and the PEM files
// that `filename` data sources name (read asynchronously before a config that needs them is applied).
// Every change bumps `version`; TLS contexts rebuild their SecureContext lazily when it moved.
import { readFile } from 'node:fs/promises';
import type { IdentityMaterial } from '../identity/workload-identity.js';
import type { DataSourceConfig, SdsSecretRef, SecretConfig, TlsCertificateConfig } from '../../src/xds/resources/tls.js';

export interface CertificateMaterial {
  readonly certChainPem: string;
  readonly keyPem: string;
}

export class SecretStore {
  /** Bumped on every change (ADS secret, identity renewal, file loaded). */
  version = 0;
  readonly #ads = new Map<string, SecretConfig>();
  readonly #files = new Map<string, string>();
  #local: IdentityMaterial | null = null;

  setWorkloadIdentity(m: IdentityMaterial): void {
    this.#local = m;
    this.version++;
  }

  /** The workload's SPIFFE ID ('' before the first certificate). */
  get localSpiffeId(): string {
    return this.#local?.spiffeId ?? '';
  }

  /** Applies SDS Secret resources; returns NACK reasons (files that cannot be read). */
  async applyAds(upserts: ReadonlyMap<string, SecretConfig>, removals: readonly string[]): Promise<string[]> {
    const files: DataSourceConfig[] = [];
    for (const s of upserts.values()) {
      if (s.tlsCertificate) files.push(s.tlsCertificate.certificateChain, s.tlsCertificate.privateKey);
      if (s.validationContext?.trustedCa) files.push(s.validationContext.trustedCa);
    }
    const errors = await this.loadFiles(files);
    if (errors.length > 0) return errors;
    for (const [name, s] of upserts) this.#ads.set(name, s);
    for (const name of removals) this.#ads.delete(name);
    this.version++;
    return [];
  }

  /** Reads (again) every file data source; errors name the file. */
  async loadFiles(sources: readonly (DataSourceConfig | null)[]): Promise<string[]> {
    const paths = [...new Set(sources.flatMap((s) => (s !== null && s.kind === 'file' ? [s.path] : [])))];
    const errors: string[] = [];
    await Promise.all(
      paths.map(async (p) => {
        try {
          const text = await readFile(p, 'utf8');
          if (!text.includes('-----BEGIN ')) errors.push(`${p}: not a PEM file`);
          else if (this.#files.get(p) !== text) {
            this.#files.set(p, text);
            this.version++;
          }
        } catch (e) {
          errors.push(`${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }),
    );
    return errors;
  }

  data(s: DataSourceConfig | null): string | null {
    if (s === null) return null;
    return s.kind === 'inline' ? s.pem : (this.#files.get(s.path) ?? null);
  }

  certificate(c: TlsCertificateConfig): CertificateMaterial | null {
    const certChainPem = this.data(c.certificateChain);
    const keyPem = this.data(c.privateKey);
    return certChainPem === null || keyPem === null ? null : { certChainPem, keyPem };
  }

  /** A tls_certificate secret by reference; null while it has not arrived. */
  sdsCertificate(ref: SdsSecretRef): CertificateMaterial | null {
    if (ref.source === 'local') return this.#local === null ? null : { certChainPem: this.#local.certChainPem, keyPem: this.#local.keyPem };
    const s = this.#ads.get(ref.name);
    return s?.tlsCertificate ? this.certificate(s.tlsCertificate) : null;
  }

  /** A validation_context secret's trusted CA PEM; null while it has not arrived. */
  sdsTrustedCa(ref: SdsSecretRef): string | null {
    const s = this.#ads.get(ref.name);
    return s?.validationContext ? this.data(s.validationContext.trustedCa) : null;
  }

  /** The SAN matchers of a validation_context secret (merged with a default_validation_context's). */
  sdsValidation(ref: SdsSecretRef): SecretConfig['validationContext'] {
    return this.#ads.get(ref.name)?.validationContext ?? null;
  }
}
