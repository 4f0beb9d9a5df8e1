// State-of-the-world ADS (StreamAggregatedResources): one stream's subscriptions, nonces, versions and ACK/NACK.
import type * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest, DiscoveryResponse } from '../../src/xds/ads-service.js';
import type { SnapshotResource } from '../snapshot/snapshot.js';
import { XdsStreamBase, XdsWatch } from './stream-base.js';
import { type StreamContext, sameSet } from './stream-context.js';

export type SotwCall = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/** Per type URL watch of a SotW stream: the shared state plus what was last sent and what the client NACKed. */
class SotwWatch extends XdsWatch {
  /** Names and versions of the last response, to skip unchanged pushes. */
  lastSentContent: string | null = null;
  /** Content the client NACKed: not sent again (even on a subscription change) while the type's version is heldVersion. */
  heldContent: string | null = null;
  heldVersion: string | null = null;
}

/** Serves one SotW ADS stream from the ConfigWatcher: responds to requests and pushes snapshot changes in XDS order. */
export class SotwStream extends XdsStreamBase<DiscoveryRequest, DiscoveryResponse, SotwWatch> {
  constructor(id: number, call: SotwCall, ctx: StreamContext) {
    super(id, call, ctx, 'sotw');
  }

  protected override newWatch(typeUrl: string): SotwWatch {
    return new SotwWatch(typeUrl);
  }

  protected override handle(req: DiscoveryRequest, w: SotwWatch, first: boolean): void {
    if (!first && req.response_nonce !== '') {
      if (req.response_nonce !== w.lastSentNonce) {
        this.ctx.stats.staleNonceTotal.inc();
        return;
      }
      if (req.error_detail) {
        w.heldContent = w.lastSentContent;
        w.heldVersion = w.lastSentVersion;
        this.recordNack(w, req);
      } else {
        this.recordAck(w, req.version_info);
      }
    }
    const changed = this.#subscribe(w, req.resource_names, first);
    if (first || changed) this.push(w, true);
  }

  /**
   * Applies resource_names: the first request with none (or '*') is a wildcard; later, none keeps a legacy
   * wildcard but unsubscribes everything after a named subscription. Returns whether anything changed.
   */
  #subscribe(w: SotwWatch, resourceNames: readonly string[], first: boolean): boolean {
    const star = resourceNames.includes('*');
    const wildcard = first
      ? resourceNames.length === 0 || star
      : star || (resourceNames.length === 0 && w.wildcard && w.names.size === 0);
    const names = new Set(resourceNames.filter((n) => n !== '*'));
    const changed = wildcard !== w.wildcard || !sameSet(names, w.names);
    w.wildcard = wildcard;
    w.names = names;
    return changed;
  }

  /** Sends `w`'s type if its content changed (or `force`), unless the client NACKed exactly that content. */
  protected override push(w: SotwWatch, force: boolean): void {
    if (this.closed || this.nodeId === null) return;
    if (!w.wildcard && w.names.size === 0) return;
    const snapshot = this.ctx.watcher.get(this.nodeId);
    if (!snapshot) return;
    const all = snapshot.resources(w.typeUrl);
    const version = snapshot.version(w.typeUrl);
    let selected: SnapshotResource[];
    let content: string;
    if (w.wildcard) {
      selected = [...all.values()];
      content = `*${version}`;
    } else {
      selected = [];
      const parts: string[] = [];
      for (const n of [...w.names].sort()) {
        const r = all.get(n);
        if (r) {
          selected.push(r);
          parts.push(`${n}@${r.version}`);
        }
      }
      content = parts.join(',');
    }
    if (w.heldContent !== null && version !== w.heldVersion) {
      w.heldContent = null;
      w.heldVersion = null;
    }
    if (content === w.heldContent) return;
    if (!force && content === w.lastSentContent) return;
    const nonce = this.ctx.nextNonce();
    this.call.write({ version_info: version, resources: selected.map((r) => r.any), type_url: w.typeUrl, nonce });
    w.lastSentVersion = version;
    w.lastSentNonce = nonce;
    w.lastSentContent = content;
    this.ctx.stats.pushTotal.inc();
    if (this.ctx.logger.isLevelEnabled('debug')) {
      this.ctx.logger.debug(
        { node_id: this.nodeId, stream_id: this.id, type_url: w.typeUrl, version, nonce, count: selected.length },
        'xDS push',
      );
    }
  }
}
