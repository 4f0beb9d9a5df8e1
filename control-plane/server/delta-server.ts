// Incremental ADS (DeltaAggregatedResources): per-resource versions, subscribe/unsubscribe, removals, ACK/NACK.
import type * as grpc from '@grpc/grpc-js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DeltaResource } from '../../src/xds/ads-service.js';
import { XdsStreamBase, XdsWatch } from './stream-base.js';
import type { StreamContext } from './stream-context.js';

export type DeltaCall = grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/** Marks a name the client was told does not exist (sent in removed_resources). */
const ABSENT = '';

/** Per type URL watch of a delta stream: the shared state plus what the client holds. */
class DeltaWatch extends XdsWatch {
  /** name -> version the client holds (sent, or declared in initial_resource_versions); ABSENT = told removed. */
  readonly known = new Map<string, string>();

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
export class DeltaStream extends XdsStreamBase<DeltaDiscoveryRequest, DeltaDiscoveryResponse, DeltaWatch> {
  constructor(id: number, call: DeltaCall, ctx: StreamContext) {
    super(id, call, ctx, 'delta');
  }

  protected override newWatch(typeUrl: string, req: DeltaDiscoveryRequest): DeltaWatch {
    const w = new DeltaWatch(typeUrl);
    for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) w.known.set(name, version);
    return w;
  }

  protected override handle(req: DeltaDiscoveryRequest, w: DeltaWatch, first: boolean): void {
    if (!first && req.response_nonce !== '') {
      if (req.response_nonce !== w.lastSentNonce) this.ctx.stats.staleNonceTotal.inc();
      else if (req.error_detail) this.recordNack(w, req);
      else this.recordAck(w, w.lastSentVersion);
    }
    const changed = this.#subscribe(w, req, first);
    if (first || changed) this.push(w);
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

  /** Sends what changed for `w` since the client's view; the first response of a type is sent even when empty. */
  protected override push(w: DeltaWatch): void {
    if (this.closed || this.nodeId === null) return;
    const snapshot = this.ctx.watcher.get(this.nodeId);
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
    const nonce = this.ctx.nextNonce();
    this.call.write({
      system_version_info: version,
      resources,
      type_url: w.typeUrl,
      removed_resources: removed.sort(),
      nonce,
    });
    w.lastSentVersion = version;
    w.lastSentNonce = nonce;
    this.ctx.stats.pushTotal.inc();
    if (this.ctx.logger.isLevelEnabled('debug')) {
      this.ctx.logger.debug(
        { node_id: this.nodeId, stream_id: this.id, type_url: w.typeUrl, version, nonce, count: resources.length, removed: removed.length },
        'xDS delta push',
      );
    }
  }
}
