// ControlPlane: wires the watched mesh config → per-node translation → snapshot cache → ADS server + admin API.
import type { Logger } from '../src/observability/logger.js';
import { StatsStore } from '../src/observability/stats.js';
import { ConfigError } from '../src/core/errors.js';
import { startControlPlaneAdmin, type AdminHandle } from './admin/admin-server.js';
import { compileNode, nodeIds } from './compile/index.js';
import type { World } from './model/index.js';
import { SnapshotCache } from './snapshot/snapshot-cache.js';
import { MeshSecurity, type MeshSecurityOptions } from './ca/mesh-security.js';
import { XdsServer } from './server/xds-server.js';
import { FileSource } from './sources/file-source.js';

/** Node id used to compile the snapshot served to nodes the mesh config does not name (proxyless gRPC clients). */
export const PROXYLESS_NODE = '~proxyless';

export interface ControlPlaneOptions {
  readonly configPath: string;
  readonly host: string;
  readonly xdsPort: number;
  readonly adminPort: number | null;
  readonly logger: Logger;
  /** Zero trust: run the CA, serve xDS over TLS and require bootstrap tokens (docs/security.md). */
  readonly security?: Omit<MeshSecurityOptions, 'logger'> | undefined;
}

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

  /** Loads the config (throws ConfigError when invalid), publishes it, then opens the xDS and admin ports. */
  async start(): Promise<void> {
    const first = await this.#source.start();
    if (!first.ok) throw new ConfigError(first.errors);
    this.#publish(first.value);
    const sec = this.#opts.security;
    if (sec !== undefined) this.#security = await MeshSecurity.start({ ...sec, logger: this.#opts.logger });
    this.#server = new XdsServer({ cache: this.cache, logger: this.#opts.logger, stats: this.stats, security: this.#security ?? undefined });
    this.xdsPort = await this.#server.listen(this.#opts.host, this.#opts.xdsPort);
    if (this.#opts.adminPort !== null) {
      this.#admin = await startControlPlaneAdmin({
        host: this.#opts.host,
        port: this.#opts.adminPort,
        server: this.#server,
        stats: this.stats,
        info: () => this.info(),
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
    };
  }

  async close(): Promise<void> {
    this.#source.close();
    await this.#admin?.close();
    await this.#server?.close();
  }

  /** The CA and token key (zero-trust mode), null otherwise. */
  get security(): MeshSecurity | null {
    return this.#security;
  }

  #publish(world: World): void {
    const t0 = performance.now();
    const ids = nodeIds(world);
    const errors: string[] = [];
    for (const id of ids) {
      for (const e of this.cache.set(id, compileNode(world, id))) errors.push(`node ${id}: ${e}`);
    }
    for (const e of this.cache.setFallback(compileNode(world, PROXYLESS_NODE))) errors.push(`proxyless: ${e}`);
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

  #reject(errors: string[]): void {
    this.#lastErrors = errors;
    this.stats.counter('control_plane.config_rejected_total').inc();
    this.#opts.logger.error({ errors }, 'mesh config edit rejected; the previous config keeps serving');
  }
}
