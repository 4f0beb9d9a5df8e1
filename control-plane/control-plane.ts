// ControlPlane: wires the watched mesh config → per-node translation → snapshot cache → ADS server + admin API, and
// in zero-trust mode the mesh CA (whose trust bundle every snapshot carries as the ROOTCA secret).
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../src/observability/logger.js';
import { StatsStore } from '../src/observability/stats.js';
import { ConfigError } from '../src/core/errors.js';
import type { TokenClaims } from '../src/tls/bootstrap-token.js';
import { startControlPlaneAdmin, type AdminHandle, type CaAdmin } from './admin/admin-server.js';
import { compileNode, nodeIds, type CaView } from './compile/index.js';
import { effectiveMtls, type World } from './model/index.js';
import { SnapshotCache } from './snapshot/snapshot-cache.js';
import { MeshSecurity, type MeshSecurityOptions } from './ca/mesh-security.js';
import type { RotationStatus, RotationStep } from './ca/ca.js';
import { XdsServer, type XdsServerSecurity } from './server/xds-server.js';
import { FileSource } from './sources/file-source.js';

/** Node id used to compile the snapshot served to nodes the mesh config does not name (proxyless gRPC clients). */
export const PROXYLESS_NODE = '~proxyless';

export interface ControlPlaneSecurityOptions {
  /** --trust-domain; absent: the mesh file's `mesh.trust_domain`, and no CA when that is not set either. */
  readonly trustDomain?: string | undefined;
  /** Holds root-cert.pem / root-key.pem (self-signed CA), the rotation files and token-key. */
  readonly dir: string;
  readonly caFiles?: MeshSecurityOptions['caFiles'];
}

export interface ControlPlaneOptions {
  readonly configPath: string;
  readonly host: string;
  readonly xdsPort: number;
  readonly adminPort: number | null;
  readonly logger: Logger;
  /**
   * Zero trust: where the CA lives. With a trust domain (given here or in the mesh file) the control plane runs
   * the CA, serves xDS over TLS, requires bootstrap tokens, and compiles mesh mTLS (docs/security.md).
   */
  readonly security?: ControlPlaneSecurityOptions | undefined;
}

/** Degraded-mode warnings said once per process (the conditions are logged, not errors: the config is valid). */
type Warning = 'strict-without-ca' | 'identity-rules-without-ca' | 'gateway-keys-without-ca';

export class ControlPlane {
  readonly stats = new StatsStore();
  readonly cache = new SnapshotCache();
  readonly #opts: ControlPlaneOptions;
  #server: XdsServer | null = null;
  #security: MeshSecurity | null = null;
  readonly #source: FileSource;
  #admin: AdminHandle | null = null;
  #world: World | null = null;
  #version = 0;
  #nodes = new Set<string>();
  #lastErrors: string[] = [];
  readonly #warned = new Set<Warning>();
  xdsPort = 0;
  adminPort = 0;

  constructor(opts: ControlPlaneOptions) {
    this.#opts = opts;
    this.#source = new FileSource(opts.configPath, {
      onWorld: (world: World) => this.#publish(world),
      onInvalid: (errors: string[]) => this.#reject(errors),
    });
  }

  get world(): World | null {
    return this.#world;
  }

  /**
   * Loads the config (throws ConfigError when invalid), starts the CA when there is a trust domain, publishes the
   * config, then opens the xDS and admin ports.
   */
  async start(): Promise<void> {
    const sec = this.#opts.security;
    this.#source.expectTrustDomain(sec?.trustDomain);
    const first = await this.#source.start();
    if (!first.ok) throw new ConfigError(first.errors);
    const trustDomain = sec?.trustDomain ?? first.value.mesh.trustDomain;
    if (trustDomain !== null && sec === undefined) {
      throw new ConfigError([`${this.#opts.configPath}: mesh.trust_domain '${trustDomain}' needs the mesh CA, and this control plane has no CA directory`]);
    }
    if (trustDomain === null && sec?.caFiles !== undefined) {
      throw new ConfigError([`${this.#opts.configPath}: a CA was given (--ca-cert) but no trust domain: pass --trust-domain or set mesh.trust_domain`]);
    }
    if (trustDomain !== null && sec !== undefined) {
      this.#security = await MeshSecurity.start({ trustDomain, dir: sec.dir, caFiles: sec.caFiles, logger: this.#opts.logger });
      // A rotation step changes the trust bundle: every node gets the new ROOTCA at once.
      this.#security.ca.onBundleChange(() => {
        if (this.#world !== null) this.#publish(this.#world);
      });
    }
    // Later edits must keep the trust domain the CA was started with (or stay without one).
    this.#source.expectTrustDomain(trustDomain);
    this.#publish(first.value);
    this.#server = new XdsServer({ cache: this.cache, logger: this.#opts.logger, stats: this.stats, security: this.#xdsSecurity() });
    this.xdsPort = await this.#server.listen(this.#opts.host, this.#opts.xdsPort);
    if (this.#opts.adminPort !== null) {
      this.#admin = await startControlPlaneAdmin({
        host: this.#opts.host,
        port: this.#opts.adminPort,
        server: this.#server,
        stats: this.stats,
        info: () => this.info(),
        ca: this.#caAdmin(),
      });
      this.adminPort = this.#admin.port;
    }
  }

  info(): Record<string, unknown> {
    return {
      config_path: this.#opts.configPath,
      config_version: this.#version,
      nodes: [...this.#nodes].sort(),
      last_rejected_config_errors: this.#lastErrors,
      trust_domain: this.#security?.trustDomain ?? null,
    };
  }

  async close(): Promise<void> {
    this.#source.close();
    this.#security?.close();
    await this.#admin?.close();
    await this.#server?.close();
  }

  /** The CA and token key (zero-trust mode), null otherwise. */
  get security(): MeshSecurity | null {
    return this.#security;
  }

  /** What compile sees of the CA: its trust domain and current bundle (null: no CA, no mesh TLS). */
  caView(): CaView | null {
    const sec = this.#security;
    return sec === null ? null : { trustDomain: sec.trustDomain, trustBundlePem: sec.ca.trustBundle.join('') };
  }

  /** The CA's token check, plus a warning when a node's token names another identity than the mesh config gives it. */
  #xdsSecurity(): XdsServerSecurity | undefined {
    const sec = this.#security;
    if (sec === null) return undefined;
    return {
      serverCredentials: (): grpc.ServerCredentials => sec.serverCredentials(),
      service: () => sec.service(),
      authenticate: async (md: grpc.Metadata): Promise<TokenClaims> => {
        const claims = await sec.authenticate(md);
        this.#checkIdentity(claims);
        return claims;
      },
    };
  }

  #checkIdentity(claims: TokenClaims): void {
    const role = this.#world?.nodes.get(claims.nodeId);
    if (role === undefined) return;
    const want = role.role === 'sidecar' ? role.service.identity : role.gateway.identity;
    if (want.namespace === claims.namespace && want.serviceAccount === claims.serviceAccount) return;
    this.stats.counter('control_plane.identity_mismatch_total').inc();
    this.#opts.logger.warn(
      {
        node_id: claims.nodeId,
        token_identity: `ns/${claims.namespace}/sa/${claims.serviceAccount}`,
        mesh_identity: `ns/${want.namespace}/sa/${want.serviceAccount}`,
      },
      "the node's bootstrap token names another identity than the mesh config: its certificate will not match what its peers expect, so mTLS to and from it fails",
    );
  }

  #caAdmin(): CaAdmin | undefined {
    const sec = this.#security;
    if (sec === null) return undefined;
    return {
      status: (): RotationStatus => sec.ca.status(),
      rotate: async (step: RotationStep, force: boolean): Promise<RotationStatus> => {
        const status = await sec.ca.rotate(step, { force });
        this.#opts.logger.info({ step, phase: status.phase, roots: status.roots.map((r) => r.fingerprint256) }, 'trust bundle rotation step applied');
        return status;
      },
    };
  }

  #publish(world: World): void {
    const t0 = performance.now();
    const ca = this.caView();
    this.#warnDegraded(world, ca);
    const ids = nodeIds(world);
    const errors: string[] = [];
    for (const id of ids) {
      for (const e of this.cache.set(id, compileNode(world, id, ca))) errors.push(`node ${id}: ${e}`);
    }
    for (const e of this.cache.setFallback(compileNode(world, PROXYLESS_NODE, ca))) errors.push(`proxyless: ${e}`);
    for (const gone of this.#nodes) if (!ids.includes(gone)) this.cache.clear(gone);
    this.#nodes = new Set(ids);
    this.#world = world;
    this.#version++;
    this.stats.counter('control_plane.config_applied_total').inc();
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    if (errors.length > 0) {
      this.#opts.logger.error({ errors }, 'translated snapshot failed its consistency check; those nodes keep their previous config');
    }
    this.#opts.logger.info({ config_version: this.#version, nodes: ids.length, translate_ms: ms }, 'mesh config applied');
  }

  /** Without a CA there is no mesh TLS: say so once for each thing the config asks for that needs it. */
  #warnDegraded(world: World, ca: CaView | null): void {
    if (ca !== null) return;
    const strict = world.mesh.services.filter((s) => effectiveMtls(world.mesh, s) === 'STRICT' && s.instances.some((i) => i.sidecarPort !== null));
    if (strict.length > 0) {
      this.#warn('strict-without-ca', { services: strict.map((s) => s.name) }, 'mtls STRICT needs the mesh CA (--trust-domain): these services are served in plaintext');
    }
    const identityRules = world.mesh.services.filter((s) => s.authorization?.rules.some((r) => r.from.some((f) => f.kind !== 'ip')));
    if (identityRules.length > 0) {
      this.#warn(
        'identity-rules-without-ca',
        { services: identityRules.map((s) => s.name) },
        'authorization by service, gateway, principal or namespace needs mTLS, hence the mesh CA: without it those rules match no caller (ALLOW policies deny, DENY policies do not deny)',
      );
    }
    const keyed = world.mesh.gateways.filter((g) => g.tls !== null);
    if (keyed.length > 0) {
      this.#warn(
        'gateway-keys-without-ca',
        { gateways: keyed.map((g) => g.name) },
        'gateway TLS private keys are served over plaintext xDS without bootstrap tokens (no CA): keep the xDS port on loopback, or run with --trust-domain',
      );
    }
  }

  #warn(what: Warning, fields: Record<string, unknown>, message: string): void {
    if (this.#warned.has(what)) return;
    this.#warned.add(what);
    this.stats.counter('control_plane.degraded_without_ca_total').inc();
    this.#opts.logger.warn(fields, message);
  }

  #reject(errors: string[]): void {
    this.#lastErrors = errors;
    this.stats.counter('control_plane.config_rejected_total').inc();
    this.#opts.logger.error({ errors }, 'mesh config edit rejected; the previous config keeps serving');
  }
}
