// Sidecar: one proxy process — owns the cluster manager, route provider, listener manager, ADS client and admin.
import type { WorkloadIdentity } from './identity/workload-identity.js';
import { SecretStore } from './tls/secrets.js';
import type { DataSourceConfig, DownstreamTlsConfig, SecretConfig, UpstreamTlsConfig } from '../src/xds/resources/tls.js';
import type { BootstrapConfig } from '../src/config/bootstrap.js';
import { TesseraError } from '../src/core/errors.js';
import { closeAccessLogger, createAccessLogger, silentLogger, type Logger } from '../src/observability/logger.js';
import { StatsStore } from '../src/observability/stats.js';
import { TypeUrl } from '../src/xds/type-urls.js';
import type { ClusterConfig, EndpointsConfig, ListenerConfig, RouteConfigData } from '../src/xds/resources/types.js';
import { startSidecarAdmin, type SidecarAdminHandle } from './admin/admin-server.js';
import type { SidecarContext, XdsSink } from './contracts.js';
import { createHttpConnectionManager } from './http/conn-manager.js';
import { H1ConnPools } from './upstream/conn-pool/h1.js';
import { H2ConnPools } from './upstream/conn-pool/h2.js';
import { ListenerManager } from './listener/listener-manager.js';
import { tcpProxyFactory } from './network/tcp-proxy.js';
import { buildRouteTable, RdsRouteProvider } from './router/route-table.js';
import { ClusterManagerImpl } from './upstream/cluster-manager.js';
import type { AdsClient } from './xds/ads-client.js';

export interface SidecarOptions {
  readonly bootstrap: BootstrapConfig;
  readonly logger: Logger;
  /** Access log destination file; stdout when null; 'off' disables access logging. */
  readonly accessLogPath: string | null;
  /** How long SIGTERM / listener removal waits for in-flight requests (ms). */
  readonly drainTimeoutMs: number;
  /** Workload certificate lifetime to ask the CA for (seconds); undefined = the CA's default. */
  readonly certTtlSeconds?: number | undefined;
}

export class Sidecar implements XdsSink {
  readonly stats = new StatsStore();
  readonly secrets = new SecretStore();
  readonly clusters: ClusterManagerImpl;
  readonly routes = new RdsRouteProvider();
  readonly listeners: ListenerManager;
  readonly ctx: SidecarContext;
  readonly #opts: SidecarOptions;
  #ads: AdsClient | null = null;
  #identity: WorkloadIdentity | null = null;
  #admin: SidecarAdminHandle | null = null;
  #ready = false;
  #draining = false;

  constructor(opts: SidecarOptions) {
    this.#opts = opts;
    const logger = opts.logger;
    this.clusters = new ClusterManagerImpl(this.stats, logger, Math.random, this.secrets);
    const accessLogger =
      opts.accessLogPath === 'off'
        ? silentLogger()
        : opts.accessLogPath
          ? createAccessLogger({ path: opts.accessLogPath })
          : createAccessLogger({ fd: 1 });
    this.ctx = {
      nodeId: opts.bootstrap.node.id,
      stats: this.stats,
      logger,
      accessLogger,
      clusters: this.clusters,
      routes: this.routes,
      compileRouteTable: (config) => buildRouteTable(config),
      connPools: { http1: new H1ConnPools(this.clusters), http2: new H2ConnPools(this.clusters) },
      secrets: this.secrets,
    };
    this.listeners = new ListenerManager({
      factories: {
        tcp_proxy: tcpProxyFactory,
        http_connection_manager: (config, ctx, opts) => {
          if (config.kind !== 'http_connection_manager') throw new TypeError(`expected an HCM config, got ${config.kind}`);
          return createHttpConnectionManager(config, ctx, opts === undefined ? {} : { bufferLimitBytes: opts.bufferLimitBytes });
        },
      },
      ctx: this.ctx,
      logger,
      stats: this.stats,
      drainTimeoutMs: opts.drainTimeoutMs,
    });
  }

  get ready(): boolean {
    return this.#ready && !this.#draining;
  }

  get adminPort(): number {
    return this.#admin?.port ?? 0;
  }

  get ads(): AdsClient | null {
    return this.#ads;
  }

  /** The workload identity (zero-trust mode), null otherwise. */
  get identity(): WorkloadIdentity | null {
    return this.#identity;
  }

  /** Applies static resources, opens the admin port, connects to the control plane; resolves once config is applied. */
  async start(opts: { waitForXds: boolean } = { waitForXds: true }): Promise<void> {
    const b = this.#opts.bootstrap;
    const fileErrors = await this.secrets.loadFiles([...tlsFiles(b.staticClusters), ...tlsFiles(b.staticListeners)]);
    if (fileErrors.length > 0) throw new TesseraError('TESSERA_ERR_CONFIG_INVALID', `TLS files: ${fileErrors.join('; ')}`);
    if (b.staticClusters.length > 0) {
      this.clusters.applyClusters(new Map(b.staticClusters.map((c) => [c.name, c])), []);
    }
    if (b.staticListeners.length > 0) {
      const errors = await this.listeners.apply(new Map(b.staticListeners.map((l) => [l.name, l])), []);
      if (errors.length > 0) throw new TesseraError('TESSERA_ERR_CONFIG_INVALID', `static listeners: ${errors.join('; ')}`);
    }
    if (b.admin) {
      this.#admin = await startSidecarAdmin({ address: b.admin, sidecar: this });
    }
    if (b.ads && b.ads.tls !== null && b.ads.initialMetadata.some((m) => m.key === 'authorization')) {
      // Zero-trust mode (TLS to the control plane and a bootstrap token): this sidecar gets a workload SVID.
      const { WorkloadIdentity } = await import('./identity/workload-identity.js');
      this.#identity = new WorkloadIdentity({
        ads: b.ads,
        logger: this.#opts.logger,
        stats: this.stats,
        ...(this.#opts.certTtlSeconds === undefined ? {} : { ttlSeconds: this.#opts.certTtlSeconds }),
      });
      // SDS secret "default" under sds-grpc: new handshakes use each renewed certificate.
      this.#identity.onUpdate((m) => this.secrets.setWorkloadIdentity(m));
      const first = this.#identity.start();
      first.catch(() => {});
      if (opts.waitForXds) {
        // Like initial_fetch_timeout: without a certificate by then, serve what needs none and keep asking.
        let t: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => {
          t = setTimeout(() => {
            this.#opts.logger.warn({ err_code: 'TESSERA_ERR_IDENTITY_UNAVAILABLE' }, 'no workload certificate after 15 s; starting without one');
            resolve();
          }, 15_000);
        });
        await Promise.race([first.catch(() => {}), late]);
        clearTimeout(t);
      }
    }
    if (b.ads) {
      // Loaded only when the bootstrap has ADS: grpc-js costs ~4.5 MB a static-only proxy does not need.
      const { AdsClient } = await import('./xds/ads-client.js');
      this.#ads = new AdsClient({
        node: b.node,
        server: b.ads.server,
        apiType: b.ads.apiType,
        tls: b.ads.tls,
        initialMetadata: b.ads.initialMetadata,
        sink: this,
        logger: this.#opts.logger,
        stats: this.stats,
      });
      this.#ads.start();
      if (opts.waitForXds) await this.#ads.ready;
    }
    this.#ready = true;
  }

  // XdsSink
  async apply(typeUrl: string, upserts: ReadonlyMap<string, unknown>, removals: readonly string[]): Promise<string[]> {
    if (typeUrl === TypeUrl.Cluster || typeUrl === TypeUrl.Listener) {
      // PEM files named by TLS contexts are read before the config that needs them applies (NACK if unreadable).
      const errors = await this.secrets.loadFiles(tlsFiles([...upserts.values()] as (ClusterConfig | ListenerConfig)[]));
      if (errors.length > 0) return errors.map((e) => `TLS file ${e}`);
    }
    switch (typeUrl) {
      case TypeUrl.Secret:
        return this.secrets.applyAds(upserts as ReadonlyMap<string, SecretConfig>, removals);
      case TypeUrl.Cluster:
        this.clusters.applyClusters(upserts as ReadonlyMap<string, ClusterConfig>, removals);
        return [];
      case TypeUrl.ClusterLoadAssignment:
        this.clusters.applyEndpoints(upserts as ReadonlyMap<string, EndpointsConfig>, removals);
        return [];
      case TypeUrl.Listener:
        return this.listeners.apply(upserts as ReadonlyMap<string, ListenerConfig>, removals);
      case TypeUrl.RouteConfiguration:
        this.routes.apply(upserts as ReadonlyMap<string, RouteConfigData>, removals);
        return [];
      default:
        return [`type ${typeUrl} is not supported by this sidecar`];
    }
  }

  /** SIGTERM: stop being ready, drain every listener (in-flight requests finish), disconnect, close admin. */
  async shutdown(): Promise<void> {
    this.#draining = true;
    await this.listeners.drainAll(this.#opts.drainTimeoutMs);
    this.ctx.connPools.http1.closeAll();
    this.ctx.connPools.http2.closeAll();
    this.clusters.close();
    this.#ads?.stop();
    this.#identity?.stop();
    await this.#admin?.close();
    await closeAccessLogger(this.ctx.accessLogger);
    this.#opts.logger.info({ node_id: this.ctx.nodeId }, 'sidecar drained and stopped');
  }
}

/** Every PEM file the TLS contexts of these clusters/listeners name. */
function tlsFiles(configs: readonly (ClusterConfig | ListenerConfig)[]): (DataSourceConfig | null)[] {
  const out: (DataSourceConfig | null)[] = [];
  const add = (t: DownstreamTlsConfig | UpstreamTlsConfig | null): void => {
    if (t === null) return;
    for (const c of t.common.certificates) out.push(c.certificateChain, c.privateKey);
    out.push(t.common.validation?.trustedCa ?? null);
  };
  for (const c of configs) {
    if ('filterChains' in c) {
      for (const fc of c.filterChains) add(fc.tls);
      if (c.defaultFilterChain) add(c.defaultFilterChain.tls);
    } else add(c.tls);
  }
  return out;
}
