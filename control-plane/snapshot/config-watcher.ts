// The read side of the snapshot cache that the ADS server depends on (the server never sees the translator).
import type { Snapshot } from './snapshot.js';

/** Called with the node id whose snapshot changed, or null when the fallback changed (every node without its own). */
export type ChangeListener = (nodeId: string | null) => void;

export interface ConfigWatcher {
  /** The snapshot serving `nodeId`: its own, else the fallback, else null (nothing to serve yet). */
  get(nodeId: string): Snapshot | null;
  /**
   * Calls `listener` whenever `nodeId`'s effective snapshot changes (its own, or the fallback while it has none);
   * with `nodeId` null, on every change. Returns a function removing the listener.
   */
  onChange(nodeId: string | null, listener: ChangeListener): () => void;
}
