import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterResourceManager, CountedResource } from '../../../../sidecar/upstream/resource-manager.js';
import type { CircuitBreakerThresholds } from '../../../../src/xds/resources/types.js';

const T: CircuitBreakerThresholds = { maxConnections: 2, maxPendingRequests: 1, maxRequests: 3, maxRetries: 1, retryBudget: null };

describe('CountedResource', () => {
  it('allows creation while count < max and never goes below 0', () => {
    const r = new CountedResource(2);
    assert.equal(r.canCreate(), true);
    r.inc();
    r.inc();
    assert.deepEqual([r.count, r.canCreate()], [2, false]);
    r.dec();
    assert.equal(r.canCreate(), true);
    r.dec();
    r.dec();
    assert.equal(r.count, 0);
    assert.equal(new CountedResource(0).canCreate(), false);
  });
});

describe('ClusterResourceManager', () => {
  it('limits connections, pending requests, requests and retries by their thresholds', () => {
    const m = new ClusterResourceManager(T);
    assert.deepEqual([m.connections.max, m.pendingRequests.max, m.requests.max, m.retries.max], [2, 1, 3, 1]);
    m.pendingRequests.inc();
    assert.equal(m.pendingRequests.canCreate(), false);
    m.retries.inc();
    assert.equal(m.retries.canCreate(), false);
    m.retries.dec();
    assert.equal(m.retries.canCreate(), true);
  });

  it('keeps counts when thresholds change', () => {
    const m = new ClusterResourceManager(T);
    m.requests.inc();
    m.requests.inc();
    m.requests.inc();
    assert.equal(m.requests.canCreate(), false);
    m.setThresholds({ ...T, maxRequests: 10 });
    assert.deepEqual([m.requests.count, m.requests.max, m.requests.canCreate()], [3, 10, true]);
    m.setThresholds({ ...T, maxRequests: 2 });
    assert.equal(m.requests.canCreate(), false);
    m.requests.dec();
    m.requests.dec();
    assert.equal(m.requests.canCreate(), true);
  });

  it('with a retry budget allows retries up to budget % of active + pending requests, at least min concurrency', () => {
    const m = new ClusterResourceManager({ ...T, maxRetries: 1000, retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } });
    // no load: the floor of 3 applies (max_retries is ignored)
    assert.equal(m.retries.max, 3);
    for (let i = 0; i < 3; i++) m.retries.inc();
    assert.equal(m.retries.canCreate(), false);
    // 30 active + 10 pending → 20 % of 40 = 8
    m.setThresholds({ ...T, maxRequests: 100, maxPendingRequests: 100, maxRetries: 1000, retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } });
    for (let i = 0; i < 30; i++) m.requests.inc();
    for (let i = 0; i < 10; i++) m.pendingRequests.inc();
    assert.equal(m.retries.max, 8);
    assert.equal(m.retries.canCreate(), true);
    for (let i = 0; i < 5; i++) m.retries.inc();
    assert.deepEqual([m.retries.count, m.retries.canCreate()], [8, false]);
    // floor(20 % of 44) = 8 still; 45 → 9
    for (let i = 0; i < 4; i++) m.requests.inc();
    assert.equal(m.retries.canCreate(), false);
    m.requests.inc();
    assert.equal(m.retries.canCreate(), true);
    // dropping the budget falls back to max_retries
    m.setThresholds({ ...T, maxRetries: 8 });
    assert.deepEqual([m.retries.max, m.retries.canCreate()], [8, false]);
  });
});
