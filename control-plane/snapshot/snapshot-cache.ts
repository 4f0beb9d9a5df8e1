// Holds the current validated snapshot per node id plus a fallback for nodes without one, and notifies watchers.
import type { ChangeListener, ConfigWatcher } from './config-watcher.js';
import { checkConsistency } from './consistency.js';
import { type NodeResources, Snapshot } from './snapshot.js';

/** Builds a snapshot and checks its references; errors mean it must not be served. */
export function buildChecked(resources: NodeResources): { snapshot: Snapshot | null; errors: string[] } {
  const built = Snapshot.build(resources);
  if (!built.ok) return { snapshot: null, errors: built.errors };
  const errors = checkConsistency(built.value);
  return errors.length > 0 ? { snapshot: null, errors } : { snapshot: built.value, errors: [] };
}

/** Owns every node's snapshot and the fallback (proxyless clients); listeners learn of changes synchronously. */
export class SnapshotCache implements ConfigWatcher {
  readonly #own = new Map<string, Snapshot>();
  #fallback: Snapshot | null = null;
  readonly #nodeListeners = new Map<string, Set<ChangeListener>>();
  readonly #allListeners = new Set<ChangeListener>();

  /** Validates and stores `resources` for `nodeId`; returns the errors (then nothing is stored or pushed). */
  set(nodeId: string, resources: NodeResources): string[] {
    const { snapshot, errors } = buildChecked(resources);
    if (!snapshot) return errors;
    const prev = this.#own.get(nodeId);
    this.#own.set(nodeId, snapshot);
    if (!prev || !prev.sameAs(snapshot)) this.#notifyNode(nodeId);
    return [];
  }

  /** Validates and stores the snapshot served to every node id without its own; returns the errors. */
  setFallback(resources: NodeResources): string[] {
    const { snapshot, errors } = buildChecked(resources);
    if (!snapshot) return errors;
    const prev = this.#fallback;
    this.#fallback = snapshot;
    if (prev && prev.sameAs(snapshot)) return [];
    for (const [nodeId, set] of this.#nodeListeners) {
      if (this.#own.has(nodeId)) continue;
      for (const l of [...set]) l(nodeId);
    }
    for (const l of [...this.#allListeners]) l(null);
    return [];
  }

  /** Drops `nodeId`'s own snapshot (it is then served the fallback, if any). */
  clear(nodeId: string): void {
    if (this.#own.delete(nodeId)) this.#notifyNode(nodeId);
  }

  /** Node ids holding their own snapshot, sorted. */
  nodeIds(): string[] {
    return [...this.#own.keys()].sort();
  }

  fallback(): Snapshot | null {
    return this.#fallback;
  }

  // ConfigWatcher
  get(nodeId: string): Snapshot | null {
    return this.#own.get(nodeId) ?? this.#fallback;
  }

  onChange(nodeId: string | null, listener: ChangeListener): () => void {
    if (nodeId === null) {
      this.#allListeners.add(listener);
      return () => void this.#allListeners.delete(listener);
    }
    let set = this.#nodeListeners.get(nodeId);
    if (!set) {
      set = new Set();
      this.#nodeListeners.set(nodeId, set);
    }
    set.add(listener);
    return () => {
      const s = this.#nodeListeners.get(nodeId);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) this.#nodeListeners.delete(nodeId);
    };
  }

  #notifyNode(nodeId: string): void {
    const set = this.#nodeListeners.get(nodeId);
    if (set) for (const l of [...set]) l(nodeId);
    for (const l of [...this.#allListeners]) l(nodeId);
  }
}
