// The sidecar's identity agent against a real CA-mode xDS server (gRPC over TLS on loopback, token auth): first
// certificate, renewal at the configured fraction of its lifetime with a new key, and retry after a refusal.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MeshSecurity } from '../../../../control-plane/ca/mesh-security.js';
import { XdsServer } from '../../../../control-plane/server/xds-server.js';
import { SnapshotCache } from '../../../../control-plane/snapshot/snapshot-cache.js';
import { WorkloadIdentity, type IdentityMaterial } from '../../../../sidecar/identity/workload-identity.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { StatsStore } from '../../../../src/observability/stats.js';
import { issueToken, loadOrCreateTokenKey } from '../../../../src/tls/bootstrap-token.js';
import { certInfo } from '../../../../src/tls/x509.js';

describe('WorkloadIdentity', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-identity-'));
  let server: XdsServer;
  let port = 0;
  let security: MeshSecurity;
  const agents: WorkloadIdentity[] = [];

  before(async () => {
    security = await MeshSecurity.start({ trustDomain: 'id.test', dir, logger: silentLogger() });
    server = new XdsServer({ cache: new SnapshotCache(), logger: silentLogger(), stats: new StatsStore(), security });
    port = await server.listen('127.0.0.1', 0);
  });

  after(async () => {
    for (const a of agents) a.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function agent(token: string, over: { ttlSeconds?: number; renewAt?: number } = {}): WorkloadIdentity {
    const a = new WorkloadIdentity({
      ads: {
        server: { address: '127.0.0.1', port },
        tls: { trustedCaPem: readFileSync(path.join(dir, 'root-cert.pem'), 'utf8'), trustedCaFile: null, sanUris: [security.controlPlaneId] },
        initialMetadata: [{ key: 'authorization', value: `Bearer ${token}` }],
      },
      logger: silentLogger(),
      stats: new StatsStore(),
      retry: { baseMs: 50, maxMs: 200 },
      ...over,
    });
    agents.push(a);
    return a;
  }

  it('gets a certificate for the token\'s identity and renews it with a new key at the configured fraction', async () => {
    const key = await loadOrCreateTokenKey(dir);
    const a = agent(await issueToken(key, { nodeId: 'n1', namespace: 'shop', serviceAccount: 'cart' }), { ttlSeconds: 60, renewAt: 0.03 });
    const seen: IdentityMaterial[] = [];
    a.onUpdate((m) => seen.push(m));
    await a.start();
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.spiffeId, 'spiffe://id.test/ns/shop/sa/cart');
    // 3 % of the 60 s left → renewed about every 1.8 s.
    const deadline = Date.now() + 8000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen.length >= 2, `renewed (${seen.length} certificates)`);
    const [first, second] = [seen[0]!, seen[1]!];
    assert.notEqual(certInfo(first.certChainPem).serialNumber, certInfo(second.certChainPem).serialNumber);
    assert.notEqual(first.keyPem, second.keyPem, 'a new key with every certificate');
    assert.equal(a.current, seen[seen.length - 1]);
  });

  it('keeps asking after a refusal and never holds a certificate for a bad token', async () => {
    const a = agent('not-a-token');
    let updates = 0;
    a.onUpdate(() => updates++);
    const started = a.start();
    started.catch(() => {});
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(a.current, null);
    assert.equal(updates, 0);
    a.stop();
    await assert.rejects(started, /stopped/);
  });
});
