// The control plane's gRPC ADS endpoint: SotW and delta streams on one port, their status and recent NACKs.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../src/observability/logger.js';
import type { StatsStore } from '../../src/observability/stats.js';
import { adsServiceDefinition } from '../../src/xds/ads-service.js';
import type { ConfigWatcher } from '../snapshot/config-watcher.js';
import { type SotwCall, SotwStream } from './ads-server.js';
import { type DeltaCall, DeltaStream } from './delta-server.js';
import {
  NackLog,
  type NackRecord,
  type ProxyStatus,
  type StreamContext,
  type XdsStats,
  type XdsStream,
  resolveXdsStats,
} from './stream-context.js';

export interface XdsServerOptions {
  readonly cache: ConfigWatcher;
  readonly logger: Logger;
  readonly stats: StatsStore;
  /** How many recent NACKs `nacks()` keeps (default 128). */
  readonly nackHistory?: number;
  /** How long close() waits for streams to finish before forcing the server down (default 2000 ms). */
  readonly shutdownGraceMs?: number;
  /** Zero-trust mode: TLS on the port, a bootstrap token on every stream, and more services (the CA). */
  readonly security?: XdsServerSecurity | undefined;
}

export interface XdsServerSecurity {
  serverCredentials(): grpc.ServerCredentials;
  /** Resolves with the node id the call's token names; rejects when the token is missing or invalid. */
  authenticate(md: grpc.Metadata): Promise<{ readonly nodeId: string }>;
  service(): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation };
}

/** Owns the gRPC server and every open ADS stream (SotW and delta). */
export class XdsServer {
  readonly #server: grpc.Server;
  readonly #streams = new Map<number, XdsStream>();
  readonly #ctx: StreamContext;
  readonly #stats: XdsStats;
  readonly #logger: Logger;
  readonly #graceMs: number;
  readonly #noncePrefix = randomBytes(4).toString('hex');
  #nonceSeq = 0;
  #streamSeq = 0;
  #listening = false;
  #closing: Promise<void> | null = null;
  readonly #security: XdsServerSecurity | null;

  constructor(opts: XdsServerOptions) {
    this.#logger = opts.logger;
    this.#stats = resolveXdsStats(opts.stats);
    this.#graceMs = opts.shutdownGraceMs ?? 2000;
    this.#ctx = {
      watcher: opts.cache,
      logger: opts.logger,
      stats: this.#stats,
      nacks: new NackLog(opts.nackHistory ?? 128),
      nextNonce: () => `${this.#noncePrefix}-${++this.#nonceSeq}`,
      onStreamClosed: (s) => {
        if (this.#streams.delete(s.id)) this.#stats.connectedProxies.dec();
      },
    };
    this.#security = opts.security ?? null;
    this.#server = new grpc.Server();
    this.#server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: SotwCall) => this.#open(call, () => new SotwStream(++this.#streamSeq, call, this.#ctx)),
      DeltaAggregatedResources: (call: DeltaCall) => this.#open(call, () => new DeltaStream(++this.#streamSeq, call, this.#ctx)),
    });
    if (this.#security !== null) {
      const ca = this.#security.service();
      this.#server.addService(ca.definition, ca.implementation);
    }
  }

  /** Opens a stream; in zero-trust mode only after its token checked out, bound to the token's node. */
  #open(call: SotwCall | DeltaCall, make: () => SotwStream | DeltaStream): void {
    const sec = this.#security;
    if (sec === null) {
      this.#accept(make());
      return;
    }
    sec.authenticate(call.metadata).then(
      (claims) => {
        if (call.cancelled) return;
        const s = make();
        s.expectNode(claims.nodeId);
        this.#accept(s);
      },
      (e: Error) => {
        this.#stats.rejectedStreams.inc();
        this.#logger.warn({ err_code: 'TESSERA_ERR_XDS_UNAUTHENTICATED', peer: call.getPeer() }, `xDS stream refused: ${e.message}`);
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: e.message });
      },
    );
  }

  /** Binds `host:port` (port 0 picks one) and resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const addr = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const creds = this.#security?.serverCredentials() ?? grpc.ServerCredentials.createInsecure();
      this.#server.bindAsync(addr, creds, (e, bound) => {
        if (e) {
          reject(e);
          return;
        }
        this.#listening = true;
        this.#logger.info({ address: host, port: bound, tls: this.#security !== null }, 'xDS server listening');
        resolve(bound);
      });
    });
  }

  /** Ends every stream with status OK, then shuts the server down (forcing it after the grace period). */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** Every open stream, by stream id. */
  status(): ProxyStatus[] {
    return [...this.#streams.values()].map((s) => s.status());
  }

  /** Recent NACKs, oldest first. */
  nacks(): NackRecord[] {
    return this.#ctx.nacks.list();
  }

  #accept(stream: XdsStream): void {
    if (this.#closing) {
      stream.close();
      return;
    }
    this.#streams.set(stream.id, stream);
    this.#stats.connectedProxies.inc();
  }

  async #shutdown(): Promise<void> {
    for (const s of [...this.#streams.values()]) s.close();
    if (!this.#listening) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, this.#graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
