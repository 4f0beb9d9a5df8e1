// Incremental ADS (DeltaAggregatedResources): per-resource versions, subscribe/unsubscribe, removals, ACK/NACK.
import type * as grpc from '@grpc/grpc-js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DeltaResource } from '../../src/xds/ads-service.js';
import { type ProxyStatus, type StreamContext, type XdsStream, orderTypeUrls } from './stream-context.js';

export type DeltaCall = grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/** Marks a name the client was told does not exist (sent in removed_resources). */
const ABSENT = '';

/** Per type URL watch of a delta stream, including what the client holds. */
class DeltaWatch {
  wildcard = false;
  readonly names = new Set<string>();
  /** name -> version the client holds (sent, or declared in initial_resource_versions); ABSENT = told removed. */
  readonly known = new Map<string, string>();
  lastSentVersion: string | null = null;
  lastSentNonce: string | null = null;
  lastAckedVersion: string | null = null;
  nacked = false;
  lastError: string | null = null;

  constructor(readonly typeUrl: string) {}

  wants(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }
}

/**
 * Serves one delta ADS stream. Only resources whose version differs from what the client holds are sent, so a
 * NACKed version is never re-sent: it goes out again only when the resource changes. A request with a stale
 * nonce is not an ACK/NACK, but its subscribe/unsubscribe lists still apply (they are incremental and would
 * otherwise be lost).
 */
export class DeltaStream implements XdsStream {
  readonly #call: DeltaCall;
  readonly #ctx: StreamContext;
  readonly #watches = new Map<string, DeltaWatch>();
  readonly #connectedAt = new Date().toISOString();
  #nodeId: string | null = null;
  #unwatch: (() => void) | null = null;
  #pushScheduled: NodeJS.Immediate | null = null;
  #closed = false;
  readonly #onData = (req: DeltaDiscoveryRequest): void => this.#handle(req);
  readonly #onEnd = (): void => this.close();
  readonly #onError = (): void => this.#release();
  readonly #onChange = (): void => this.#schedulePush();
  readonly #pushAll = (): void => {
    this.#pushScheduled = null;
    for (const url of orderTypeUrls(this.#watches.keys())) this.#push(this.#watches.get(url)!);
  };

  constructor(readonly id: number, call: DeltaCall, ctx: StreamContext) {
    this.#call = call;
    this.#ctx = ctx;
    call.on('data', this.#onData);
    call.on('end', this.#onEnd);
    call.on('error', this.#onError);
    call.on('cancelled', this.#onError);
  }

  // XdsStream
  status(): ProxyStatus {
    return {
      streamId: this.id,
      nodeId: this.#nodeId ?? '',
      mode: 'delta',
      connectedAt: this.#connectedAt,
      types: orderTypeUrls(this.#watches.keys()).map((url) => {
        const w = this.#watches.get(url)!;
        return {
          typeUrl: url,
          wildcard: w.wildcard,
          names: [...w.names].sort(),
          lastSentVersion: w.lastSentVersion,
          lastSentNonce: w.lastSentNonce,
          lastAckedVersion: w.lastAckedVersion,
          nacked: w.nacked,
          lastError: w.lastError,
        };
      }),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#release();
    this.#call.end();
  }

  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pushScheduled) clearImmediate(this.#pushScheduled);
    this.#pushScheduled = null;
    this.#unwatch?.();
    this.#unwatch = null;
    this.#ctx.onStreamClosed(this);
  }

  #handle(req: DeltaDiscoveryRequest): void {
    if (this.#closed) return;
    if (this.#nodeId === null) {
      this.#nodeId = req.node?.id ?? '';
      this.#unwatch = this.#ctx.watcher.onChange(this.#nodeId, this.#onChange);
      this.#ctx.logger.info({ node_id: this.#nodeId, stream_id: this.id, mode: 'delta' }, 'xDS stream opened');
    }
    const typeUrl = req.type_url;
    if (!typeUrl) {
      this.#ctx.logger.warn({ node_id: this.#nodeId, stream_id: this.id }, 'xDS delta request without type_url ignored');
      return;
    }
    let w = this.#watches.get(typeUrl);
    const first = w === undefined;
    if (!w) {
      w = new DeltaWatch(typeUrl);
      this.#watches.set(typeUrl, w);
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) w.known.set(name, version);
    } else if (req.response_nonce !== '') {
      if (req.response_nonce !== w.lastSentNonce) this.#ctx.stats.staleNonceTotal.inc();
      else if (req.error_detail) this.#nack(w, req);
      else this.#ack(w);
    }
    const changed = this.#subscribe(w, req, first);
    if (first || changed) this.#push(w);
  }

  #ack(w: DeltaWatch): void {
    w.lastAckedVersion = w.lastSentVersion;
    w.nacked = false;
    this.#ctx.stats.ackTotal.inc();
  }

  #nack(w: DeltaWatch, req: DeltaDiscoveryRequest): void {
    const reason = req.error_detail?.message ?? '';
    w.nacked = true;
    w.lastError = reason;
    this.#ctx.stats.nackTotal.inc();
    const version = w.lastSentVersion ?? '';
    this.#ctx.nacks.add({
      nodeId: this.#nodeId ?? '',
      typeUrl: w.typeUrl,
      version,
      nonce: req.response_nonce,
      reason,
      time: new Date().toISOString(),
    });
    this.#ctx.logger.warn(
      { node_id: this.#nodeId, stream_id: this.id, type_url: w.typeUrl, version, reason, err_code: 'TESSERA_ERR_XDS_NACK' },
      'xDS NACK',
    );
  }

  /**
   * Applies subscribe/unsubscribe. A first request subscribing nothing is a (legacy) wildcard, which lasts
   * until '*' is unsubscribed. Returns whether the subscription changed.
   */
  #subscribe(w: DeltaWatch, req: DeltaDiscoveryRequest, first: boolean): boolean {
    let changed = false;
    const sub = req.resource_names_subscribe ?? [];
    if (first && sub.length === 0) w.wildcard = true;
    for (const n of sub) {
      if (n === '*') {
        if (!w.wildcard) changed = true;
        w.wildcard = true;
      } else if (!w.names.has(n)) {
        w.names.add(n);
        changed = true;
      }
    }
    for (const n of req.resource_names_unsubscribe ?? []) {
      if (n === '*') {
        if (w.wildcard) changed = true;
        w.wildcard = false;
      } else if (w.names.delete(n)) {
        changed = true;
      }
    }
    // The client forgets what it no longer subscribes to; forget it too, so a resubscribe sends it again.
    for (const n of [...w.known.keys()]) if (!w.wants(n)) w.known.delete(n);
    return changed;
  }

  #schedulePush(): void {
    if (this.#closed || this.#pushScheduled) return;
    this.#pushScheduled = setImmediate(this.#pushAll);
  }

  /** Sends what changed for `w` since the client's view; the first response of a type is sent even when empty. */
  #push(w: DeltaWatch): void {
    if (this.#closed || this.#nodeId === null) return;
    const snapshot = this.#ctx.watcher.get(this.#nodeId);
    if (!snapshot) return;
    const all = snapshot.resources(w.typeUrl);
    const resources: DeltaResource[] = [];
    const removed: string[] = [];
    const consider = (name: string): void => {
      const r = all.get(name);
      const held = w.known.get(name);
      if (r) {
        if (held !== r.version) {
          resources.push({ name, version: r.version, resource: r.any });
          w.known.set(name, r.version);
        }
      } else if (held !== ABSENT && (held !== undefined || w.names.has(name))) {
        removed.push(name);
        if (w.names.has(name)) w.known.set(name, ABSENT);
        else w.known.delete(name);
      }
    };
    if (w.wildcard) for (const name of all.keys()) consider(name);
    for (const name of [...w.names].sort()) if (!w.wildcard || !all.has(name)) consider(name);
    for (const name of [...w.known.keys()]) if (!all.has(name) && !w.names.has(name)) consider(name);
    if (resources.length === 0 && removed.length === 0 && w.lastSentNonce !== null) return;
    const version = snapshot.version(w.typeUrl);
    const nonce = this.#ctx.nextNonce();
    this.#call.write({
      system_version_info: version,
      resources,
      type_url: w.typeUrl,
      removed_resources: removed.sort(),
      nonce,
    });
    w.lastSentVersion = version;
    w.lastSentNonce = nonce;
    this.#ctx.stats.pushTotal.inc();
    if (this.#ctx.logger.isLevelEnabled('debug')) {
      this.#ctx.logger.debug(
        { node_id: this.#nodeId, stream_id: this.id, type_url: w.typeUrl, version, nonce, count: resources.length, removed: removed.length },
        'xDS delta push',
      );
    }
  }
}
