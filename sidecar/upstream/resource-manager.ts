// Circuit-breaker accounting of one cluster and routing priority (Envoy's ResourceManagerImpl): four
// counted resources against thresholds; thresholds change with CDS while counts carry on.
import type { CircuitBreakerThresholds } from '../../src/xds/resources/types.js';
import type { ClusterResources, ResourceLimit } from '../contracts.js';

/** Owns one count against one max (connections, pending requests, requests, or retries without a budget). */
export class CountedResource implements ResourceLimit {
  #max: number;
  #count: number;

  constructor(max: number) {
    this.#max = max;
    this.#count = 0;
  }

  get max(): number {
    return this.#max;
  }

  get count(): number {
    return this.#count;
  }

  setMax(max: number): void {
    this.#max = max;
  }

  canCreate(): boolean {
    return this.#count < this.#max;
  }

  inc(): void {
    this.#count++;
  }

  /** Never goes below 0 (a stray dec after a config swap must not poison later checks). */
  dec(): void {
    if (this.#count > 0) this.#count--;
  }
}

/**
 * Owns the retry count; with a retry budget its max follows the load (Envoy's RetryBudgetImpl):
 * max(min_retry_concurrency, floor(budget_percent % × (active requests + pending requests))).
 */
export class RetryResource implements ResourceLimit {
  #maxRetries: number;
  #budgetPercent: number;
  #minConcurrency: number;
  #useBudget: boolean;
  #count: number;
  readonly #requests: ResourceLimit;
  readonly #pending: ResourceLimit;

  constructor(t: CircuitBreakerThresholds, requests: ResourceLimit, pending: ResourceLimit) {
    this.#maxRetries = 0;
    this.#budgetPercent = 0;
    this.#minConcurrency = 0;
    this.#useBudget = false;
    this.#count = 0;
    this.#requests = requests;
    this.#pending = pending;
    this.setThresholds(t);
  }

  setThresholds(t: CircuitBreakerThresholds): void {
    this.#maxRetries = t.maxRetries;
    const b = t.retryBudget;
    this.#useBudget = b !== null;
    this.#budgetPercent = b === null ? 0 : b.budgetPercent;
    this.#minConcurrency = b === null ? 0 : b.minRetryConcurrency;
  }

  get max(): number {
    if (!this.#useBudget) return this.#maxRetries;
    const budget = Math.floor((this.#budgetPercent * (this.#requests.count + this.#pending.count)) / 100);
    return budget > this.#minConcurrency ? budget : this.#minConcurrency;
  }

  get count(): number {
    return this.#count;
  }

  canCreate(): boolean {
    return this.#count < this.max;
  }

  inc(): void {
    this.#count++;
  }

  dec(): void {
    if (this.#count > 0) this.#count--;
  }
}

/** Owns the four circuit-breaker resources of one (cluster, routing priority). */
export class ClusterResourceManager implements ClusterResources {
  readonly connections: CountedResource;
  readonly pendingRequests: CountedResource;
  readonly requests: CountedResource;
  readonly retries: RetryResource;

  constructor(t: CircuitBreakerThresholds) {
    this.connections = new CountedResource(t.maxConnections);
    this.pendingRequests = new CountedResource(t.maxPendingRequests);
    this.requests = new CountedResource(t.maxRequests);
    this.retries = new RetryResource(t, this.requests, this.pendingRequests);
  }

  /** New thresholds from CDS; in-flight counts are kept. */
  setThresholds(t: CircuitBreakerThresholds): void {
    this.connections.setMax(t.maxConnections);
    this.pendingRequests.setMax(t.maxPendingRequests);
    this.requests.setMax(t.maxRequests);
    this.retries.setThresholds(t);
  }
}
