// The sidecar's ADS client: one stream (SotW or delta) to the control plane, subscriptions that follow CDS/LDS,
// validation of every resource, apply-valid/keep-last-good, ACK/NACK, and reconnection with jittered backoff.
import type { AdsBootstrap } from '../../src/config/bootstrap.js';
import { controlPlaneCredentials, controlPlaneMetadata, controlPlaneTarget } from './control-plane-channel.js';
import { isDeepStrictEqual } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { NodeConfig } from '../../src/config/bootstrap.js';
import type { Logger } from '../../src/observability/logger.js';
import type { Counter, Gauge, StatsStore } from '../../src/observability/stats.js';
import {
  adsServiceDefinition,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type NodeMessage,
} from '../../src/xds/ads-service.js';
import type { AnyMessage } from '../../src/xds/protos.js';
import { decodeRaw, jsonToStruct, validateResource } from '../../src/xds/resources/index.js';
import type { ClusterConfig, FilterChainConfig, ListenerConfig, SocketAddress } from '../../src/xds/resources/types.js';
import { ShortName, TypeUrl, messageName } from '../../src/xds/type-urls.js';
import { secretRefs } from '../../src/xds/resources/tls.js';
import type { XdsSink } from '../contracts.js';

export interface AdsClientOptions {
  readonly node: NodeConfig;
  readonly server: SocketAddress;
  readonly apiType: 'GRPC' | 'DELTA_GRPC';
  /** TLS to the control plane (null: plaintext) and metadata for every stream (the bootstrap token). */
  readonly tls?: AdsBootstrap['tls'];
  readonly initialMetadata?: AdsBootstrap['initialMetadata'];
  readonly sink: XdsSink;
  readonly logger: Logger;
  readonly stats: StatsStore;
  /** Reconnect backoff: delay = min(maxMs, baseMs·2^attempt), jittered to [50 %, 100 %]; reset after a response. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** `ready` resolves at the latest after this long (Envoy's initial_fetch_timeout); default 15 s, 0 = never. */
  readonly initialFetchTimeoutMs?: number;
  /** Random source for the jitter, [0, 1). */
  readonly random?: () => number;
}

/** One type's state as shown on /config_dump. */
export interface AdsTypeSnapshot {
  /** SotW: the last ACKed version_info; delta: the last ACKed system_version_info. */
  readonly versionInfo: string;
  /** '*' for wildcard (CDS, LDS), else the names subscribed. */
  readonly subscribed: '*' | readonly string[];
  readonly resources: Readonly<Record<string, { readonly version: string; readonly raw: unknown }>>;
  readonly lastError: { readonly message: string; readonly versionInfo: string; readonly at: string } | null;
}

interface CachedResource {
  version: string;
  raw: unknown;
  config: unknown;
}

type AnyStream = grpc.ClientDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, DiscoveryResponse | DeltaDiscoveryResponse>;

const ORDER = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Secret] as const;
const INVALID_ARGUMENT = 3;

/** The subscription, accepted resources and ACK state of one resource type. */
class TypeState {
  readonly names = new Set<string>();
  readonly resources = new Map<string, CachedResource>();
  versionInfo = '';
  nonce = '';
  received = false;
  lastError: AdsTypeSnapshot['lastError'] = null;
  constructor(
    readonly typeUrl: string,
    readonly wildcard: boolean,
  ) {}
}

/** Subscribes to CDS/LDS (wildcard) and the EDS/RDS names they reference; hands valid resources to an XdsSink. */
export class AdsClient {
  /** Resolves once the first full config is applied: CDS and LDS answered, and every EDS/RDS name they announced. */
  readonly ready: Promise<void>;
  readonly #opts: AdsClientOptions;
  readonly #delta: boolean;
  readonly #types = new Map<string, TypeState>();
  readonly #node: NodeMessage;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  readonly #stats: { success: Counter; rejected: Counter; connected: Gauge; reconnects: Counter };
  #resolveReady: () => void = () => {};
  #isReady = false;
  #client: grpc.Client | null = null;
  #stream: AnyStream | null = null;
  #chain: Promise<void> = Promise.resolve();
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #readyTimer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(opts: AdsClientOptions) {
    this.#opts = opts;
    this.#delta = opts.apiType === 'DELTA_GRPC';
    this.#baseMs = opts.backoff?.baseMs ?? 250;
    this.#maxMs = opts.backoff?.maxMs ?? 10_000;
    this.#random = opts.random ?? Math.random;
    for (const t of ORDER) this.#types.set(t, new TypeState(t, t === TypeUrl.Cluster || t === TypeUrl.Listener));
    const n = opts.node;
    this.#node = {
      id: n.id,
      cluster: n.cluster,
      metadata: jsonToStruct(n.metadata),
      locality: { region: n.locality.region, zone: n.locality.zone, sub_zone: n.locality.subZone },
      user_agent_name: 'tessera',
      user_agent_version: '0.1.0',
      client_features: [],
    };
    this.#stats = {
      success: opts.stats.counter('xds.update_success'),
      rejected: opts.stats.counter('xds.update_rejected'),
      connected: opts.stats.gauge('xds.connected'),
      reconnects: opts.stats.counter('xds.reconnect_total'),
    };
    this.ready = new Promise((resolve) => {
      this.#resolveReady = resolve;
    });
  }

  start(): void {
    if (this.#client || this.#stopped) return;
    const Ctor = grpc.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');
    this.#client = new Ctor(controlPlaneTarget(this.#opts), controlPlaneCredentials({ tls: this.#opts.tls ?? null }), {
      'grpc.initial_reconnect_backoff_ms': this.#baseMs,
      'grpc.max_reconnect_backoff_ms': this.#maxMs,
    });
    const timeout = this.#opts.initialFetchTimeoutMs ?? 15_000;
    if (timeout > 0) {
      this.#readyTimer = setTimeout(() => {
        if (this.#isReady) return;
        this.#opts.logger.warn({ timeout_ms: timeout }, 'xDS initial fetch timed out; serving with the config received so far');
        this.#markReady();
      }, timeout);
      this.#readyTimer.unref();
    }
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#readyTimer) clearTimeout(this.#readyTimer);
    this.#retryTimer = null;
    this.#readyTimer = null;
    const s = this.#stream;
    this.#stream = null;
    s?.cancel();
    this.#client?.close();
    this.#stats.connected.set(0);
  }

  /** Per type URL: ACKed version, accepted resources (raw) with their versions, last NACK (for /config_dump). */
  snapshot(): Record<string, AdsTypeSnapshot> {
    const out: Record<string, AdsTypeSnapshot> = {};
    for (const st of this.#types.values()) {
      const resources: Record<string, { version: string; raw: unknown }> = {};
      for (const name of [...st.resources.keys()].sort()) {
        const r = st.resources.get(name)!;
        resources[name] = { version: r.version, raw: r.raw };
      }
      out[st.typeUrl] = {
        versionInfo: st.versionInfo,
        subscribed: st.wildcard ? '*' : [...st.names].sort(),
        resources,
        lastError: st.lastError,
      };
    }
    return out;
  }

  // ---------- stream lifecycle ----------

  #connect(): void {
    if (this.#stopped || !this.#client) return;
    const c = this.#client as unknown as Record<string, (md: grpc.Metadata) => AnyStream>;
    const md = controlPlaneMetadata({ initialMetadata: this.#opts.initialMetadata ?? [] });
    const stream = this.#delta ? c.DeltaAggregatedResources!(md) : c.StreamAggregatedResources!(md);
    this.#stream = stream;
    let gotResponse = false;
    stream.on('data', (res: DiscoveryResponse | DeltaDiscoveryResponse) => {
      if (!gotResponse) {
        gotResponse = true;
        this.#attempt = 0;
        this.#stats.connected.set(1);
      }
      this.#chain = this.#chain
        .then(() => (this.#delta ? this.#onDelta(stream, res as DeltaDiscoveryResponse) : this.#onSotw(stream, res as DiscoveryResponse)))
        .catch((e: unknown) => this.#opts.logger.error({ err: e }, 'xDS response handling failed'));
    });
    stream.on('metadata', () => this.#stats.connected.set(1));
    stream.on('error', (e: grpc.ServiceError) => this.#onStreamEnd(stream, e));
    stream.on('end', () => this.#onStreamEnd(stream, null));
    for (const t of ORDER) {
      const st = this.#types.get(t)!;
      if (!st.wildcard && st.names.size === 0) continue;
      if (this.#delta) {
        const versions: Record<string, string> = {};
        for (const [name, r] of st.resources) versions[name] = r.version;
        this.#send(stream, this.#deltaRequest(t, { subscribe: st.wildcard ? [] : [...st.names].sort(), initial: versions }));
      } else {
        this.#send(stream, this.#sotwRequest(st, st.versionInfo, ''));
      }
    }
  }

  #onStreamEnd(stream: AnyStream, e: grpc.ServiceError | null): void {
    if (stream !== this.#stream) return;
    this.#stream = null;
    this.#stats.connected.set(0);
    if (this.#stopped) return;
    const delay = Math.round(Math.min(this.#maxMs, this.#baseMs * 2 ** this.#attempt) * (0.5 + this.#random() * 0.5));
    this.#attempt = Math.min(this.#attempt + 1, 30);
    this.#opts.logger.warn({ err_code: e?.code ?? null, err: e?.details ?? 'stream ended', retry_ms: delay }, 'xDS stream closed; reconnecting');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#stats.reconnects.inc();
      this.#connect();
    }, delay);
  }

  #send(stream: AnyStream, req: DiscoveryRequest | DeltaDiscoveryRequest): void {
    if (stream !== this.#stream) return;
    stream.write(req);
  }

  #sotwRequest(st: TypeState, version: string, nonce: string, error: string | null = null): DiscoveryRequest {
    return {
      version_info: version,
      node: this.#node,
      resource_names: st.wildcard ? [] : [...st.names].sort(),
      type_url: st.typeUrl,
      response_nonce: nonce,
      error_detail: error === null ? null : { code: INVALID_ARGUMENT, message: error },
    };
  }

  #deltaRequest(
    typeUrl: string,
    o: { subscribe?: string[]; unsubscribe?: string[]; initial?: Record<string, string>; nonce?: string; error?: string | null },
  ): DeltaDiscoveryRequest {
    return {
      node: this.#node,
      type_url: typeUrl,
      resource_names_subscribe: o.subscribe ?? [],
      resource_names_unsubscribe: o.unsubscribe ?? [],
      initial_resource_versions: o.initial ?? {},
      response_nonce: o.nonce ?? '',
      error_detail: o.error ? { code: INVALID_ARGUMENT, message: o.error } : null,
    };
  }

  // ---------- responses ----------

  async #onSotw(stream: AnyStream, res: DiscoveryResponse): Promise<void> {
    const st = this.#types.get(res.type_url);
    if (!st) {
      this.#nackUnknownType(stream, res.type_url, res.nonce);
      return;
    }
    const entries = res.resources.map((r) => ({ name: null as string | null, version: res.version_info, resource: r }));
    const { errors, present } = await this.#process(st, entries, null);
    st.nonce = res.nonce;
    st.received = true;
    if (errors.length === 0) st.versionInfo = res.version_info;
    this.#finish(st, res.version_info, errors, present);
    this.#send(stream, this.#sotwRequest(st, st.versionInfo, res.nonce, errors.length > 0 ? errors.join('\n') : null));
    await this.#updateSubscriptions(stream, st);
    this.#checkReady();
  }

  async #onDelta(stream: AnyStream, res: DeltaDiscoveryResponse): Promise<void> {
    const st = this.#types.get(res.type_url);
    if (!st) {
      this.#nackUnknownType(stream, res.type_url, res.nonce);
      return;
    }
    const entries = res.resources.map((r) => ({ name: r.name, version: r.version, resource: r.resource as AnyMessage | null }));
    const { errors, present } = await this.#process(st, entries, res.removed_resources);
    st.nonce = res.nonce;
    st.received = true;
    if (errors.length === 0) st.versionInfo = res.system_version_info;
    this.#finish(st, res.system_version_info, errors, present);
    this.#send(stream, this.#deltaRequest(st.typeUrl, { nonce: res.nonce, error: errors.length > 0 ? errors.join('\n') : null }));
    await this.#updateSubscriptions(stream, st);
    this.#checkReady();
  }

  #nackUnknownType(stream: AnyStream, typeUrl: string, nonce: string): void {
    const msg = `resource type ${typeUrl} is not supported by Tessera`;
    this.#stats.rejected.inc();
    this.#opts.logger.warn({ type_url: typeUrl, errors: [msg] }, 'xDS update rejected (NACK)');
    if (this.#delta) this.#send(stream, this.#deltaRequest(typeUrl, { nonce, error: msg }));
    else this.#send(stream, { version_info: '', node: this.#node, resource_names: [], type_url: typeUrl, response_nonce: nonce, error_detail: { code: INVALID_ARGUMENT, message: msg } });
  }

  #finish(st: TypeState, version: string, errors: string[], present: number): void {
    const short = ShortName[st.typeUrl] ?? st.typeUrl;
    if (errors.length === 0) {
      this.#stats.success.inc();
      this.#opts.logger.debug({ type_url: st.typeUrl, version_info: version, resources: present }, `${short} update accepted`);
      return;
    }
    this.#stats.rejected.inc();
    st.lastError = { message: errors.join('\n'), versionInfo: version, at: new Date().toISOString() };
    this.#opts.logger.warn({ type_url: st.typeUrl, version_info: version, errors }, `${short} update rejected (NACK)`);
  }

  /**
   * Decodes and validates every resource, hands the valid changed ones and the removals to the sink, updates the
   * cache. `removed` is null for SotW (removal is inferred for wildcard types), the removed names for delta.
   */
  async #process(
    st: TypeState,
    entries: { name: string | null; version: string; resource: AnyMessage | null }[],
    removed: readonly string[] | null,
  ): Promise<{ errors: string[]; present: number }> {
    const kind = messageName(st.typeUrl).split('.').pop()!;
    const errors: string[] = [];
    const seen = new Set<string>();
    const valid = new Map<string, { version: string; raw: unknown; config: unknown }>();
    entries.forEach((e, i) => {
      if (!e.resource) {
        errors.push(`${kind} ${e.name === null ? `resources[${i}]` : `"${e.name}"`}: resource missing`);
        return;
      }
      const d = decodeRaw(st.typeUrl, e.resource);
      if (d.name === null || d.name === '') {
        errors.push(`${kind} resources[${i}]: ${d.name === null ? d.error : 'name: required'}`);
        return;
      }
      const name = d.name;
      if (e.name !== null && e.name !== name) {
        errors.push(`${kind} "${e.name}": the resource inside is named "${name}"`);
        return;
      }
      if (seen.has(name)) {
        errors.push(`${kind} "${name}": duplicate in one response`);
        return;
      }
      seen.add(name);
      if (!st.wildcard && !st.names.has(name)) return; // not subscribed: ignored, as Envoy does
      const r = validateResource(st.typeUrl, d.raw);
      if (!r.ok) {
        errors.push(...r.errors.map((m) => `${kind} "${name}": ${m}`));
        return;
      }
      valid.set(name, { version: e.version, raw: d.raw, config: r.value });
    });

    const upserts = new Map<string, unknown>();
    for (const [name, v] of valid) {
      const old = st.resources.get(name);
      if (old && isDeepStrictEqual(old.raw, v.raw)) old.version = v.version;
      else upserts.set(name, v.config);
    }
    const removals =
      removed === null
        ? st.wildcard
          ? [...st.resources.keys()].filter((n) => !seen.has(n))
          : []
        : removed.filter((n) => st.resources.has(n));
    const sinkErrors = await this.#applyToSink(st.typeUrl, upserts, removals);
    for (const name of upserts.keys()) {
      if (sinkErrors.some((m) => m.startsWith(`${name}:`) || m.includes(`"${name}"`))) continue; // not applied: keep last good
      st.resources.set(name, valid.get(name)!);
    }
    for (const n of removals) st.resources.delete(n);
    errors.push(...sinkErrors.map((m) => `${kind}: ${m}`));
    return { errors, present: seen.size };
  }

  async #applyToSink(typeUrl: string, upserts: ReadonlyMap<string, unknown>, removals: readonly string[]): Promise<string[]> {
    if (upserts.size === 0 && removals.length === 0) return [];
    try {
      return await this.#opts.sink.apply(typeUrl, upserts, removals);
    } catch (e) {
      return [`applying failed: ${(e as Error).message}`];
    }
  }

  // ---------- subscriptions that follow CDS / LDS ----------

  /** After CDS/LDS changed: subscribe EDS/RDS to the names now referenced, drop the ones no longer referenced. */
  async #updateSubscriptions(stream: AnyStream, changed: TypeState): Promise<void> {
    if (changed.typeUrl !== TypeUrl.Cluster && changed.typeUrl !== TypeUrl.Listener) return;
    let target: TypeState;
    let wanted: Set<string>;
    if (changed.typeUrl === TypeUrl.Cluster) {
      target = this.#types.get(TypeUrl.ClusterLoadAssignment)!;
      wanted = new Set();
      for (const r of changed.resources.values()) {
        const c = r.config as ClusterConfig;
        if (c.type === 'EDS') wanted.add(c.edsServiceName);
      }
    } else {
      target = this.#types.get(TypeUrl.RouteConfiguration)!;
      wanted = new Set();
      for (const r of changed.resources.values()) {
        for (const fc of chainsOf(r.config as ListenerConfig)) {
          if (fc.network.kind === 'http_connection_manager' && fc.network.rdsRouteConfigName !== null) wanted.add(fc.network.rdsRouteConfigName);
        }
      }
    }
    await this.#resubscribe(stream, target, wanted);
    // SDS: the secrets every listener and cluster names with sds_config ads (the trust bundle, gateway certificates).
    const secrets = new Set<string>();
    for (const r of this.#types.get(TypeUrl.Cluster)!.resources.values()) for (const ref of secretRefs((r.config as ClusterConfig).tls)) if (ref.source === 'ads') secrets.add(ref.name);
    for (const r of this.#types.get(TypeUrl.Listener)!.resources.values()) {
      for (const fc of chainsOf(r.config as ListenerConfig)) for (const ref of secretRefs(fc.tls)) if (ref.source === 'ads') secrets.add(ref.name);
    }
    await this.#resubscribe(stream, this.#types.get(TypeUrl.Secret)!, secrets);
  }

  async #resubscribe(stream: AnyStream, target: TypeState, wanted: Set<string>): Promise<void> {
    const added = [...wanted].filter((n) => !target.names.has(n)).sort();
    const dropped = [...target.names].filter((n) => !wanted.has(n)).sort();
    if (added.length === 0 && dropped.length === 0) return;
    for (const n of added) target.names.add(n);
    for (const n of dropped) target.names.delete(n);
    const gone = dropped.filter((n) => target.resources.has(n));
    for (const n of gone) target.resources.delete(n);
    if (gone.length > 0) {
      const errs = await this.#applyToSink(target.typeUrl, new Map(), gone);
      if (errs.length > 0) this.#opts.logger.warn({ type_url: target.typeUrl, errors: errs }, 'removing unsubscribed resources failed');
    }
    if (this.#delta) this.#send(stream, this.#deltaRequest(target.typeUrl, { subscribe: added, unsubscribe: dropped }));
    else this.#send(stream, this.#sotwRequest(target, target.versionInfo, target.nonce));
  }

  #checkReady(): void {
    if (this.#isReady) return;
    for (const st of this.#types.values()) {
      if (st.wildcard ? !st.received : [...st.names].some((n) => !st.resources.has(n))) return;
    }
    this.#markReady();
  }

  #markReady(): void {
    if (this.#isReady) return;
    this.#isReady = true;
    if (this.#readyTimer) clearTimeout(this.#readyTimer);
    this.#readyTimer = null;
    this.#opts.logger.info({ node_id: this.#opts.node.id }, 'xDS initial config applied');
    this.#resolveReady();
  }
}

function chainsOf(l: ListenerConfig): FilterChainConfig[] {
  return l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : [...l.filterChains];
}
