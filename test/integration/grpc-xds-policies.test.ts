// The mesh config's resilience and traffic policies reach a real proxyless gRPC client (@grpc/grpc-js-xds) through a
// running `tessera control-plane` process, and the client honours them: fault abort/delay, ring hash on a header,
// retries, circuit breaking (max_requests), outlier ejection (failure percentage), grpc_timeout_header_max, and a
// live edit of the config file.
//
// grpc-js-xds 1.14.1 needs no environment switch for any of these: src/environment.ts defaults
// GRPC_XDS_EXPERIMENTAL_FAULT_INJECTION, GRPC_XDS_EXPERIMENTAL_ENABLE_RETRY, GRPC_XDS_EXPERIMENTAL_ENABLE_RING_HASH
// and GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION to 'true' (only RBAC, WRR and the pick_first config are off).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { greeterDefinition, startGreeter, xdsGreeterClient, type GreeterClient } from '../helpers/grpc-greeter.js';
import { eventually, freePorts, request, startTessera, stopChild, tempDir, type ReadyChild } from '../helpers/mesh.js';

const HELLO = '/tessera.test.Greeter/Hello';
const raw = (b: Buffer): Buffer => b;

interface Served {
  server: grpc.Server;
  port: number;
}

interface Ports {
  g1: number;
  g2: number;
  flaky: number;
  slow: number;
  odGood: number;
  odBad: number;
}

/** The mesh: greeter (ring hash on x-user, fault rules), flaky (retries), slow (circuit breaker, timeout cap), od (outlier detection). */
function mesh(p: Ports, withAbort: boolean): string {
  const abortRule = withAbort
    ? `      - name: abort
        match: { headers: { x-fault: { exact: "yes" } } }
        destinations: [{ service: greeter }]
        fault: { abort: { grpc_status: 7, percent: 100 } }
`
    : '';
  // Both fault rules match on x-fault with different exact values: Tessera refuses a fault rule that an earlier
  // rule to the same service might overlap (docs/mesh-config.md, fault).
  return `mesh: { name: xds-policies }
services:
  - name: greeter
    protocol: grpc
    lb: { policy: ring_hash, hash_on: { header: x-user } }
    circuit_breaker: { max_requests: 200 }
    outlier_detection: { consecutive_5xx: 5, interval: 5s, base_ejection_time: 30s, max_ejection_percent: 50 }
    instances:
      - { id: g1, address: 127.0.0.1, port: ${p.g1} }
      - { id: g2, address: 127.0.0.1, port: ${p.g2} }
  - name: flaky
    protocol: grpc
    instances:
      - { id: flaky-1, address: 127.0.0.1, port: ${p.flaky} }
  - name: slow
    protocol: grpc
    circuit_breaker: { max_requests: 1 }
    instances:
      - { id: slow-1, address: 127.0.0.1, port: ${p.slow} }
  - name: od
    protocol: grpc
    outlier_detection:
      failure_percentage: { threshold: 50, minimum_hosts: 2, request_volume: 5 }
      interval: 500ms
      base_ejection_time: 30s
      max_ejection_percent: 50
    instances:
      - { id: od-good, address: 127.0.0.1, port: ${p.odGood} }
      - { id: od-bad, address: 127.0.0.1, port: ${p.odBad} }
routes:
  - service: greeter
    rules:
${abortRule}      - name: delay
        match: { headers: { x-fault: { exact: "delay" } } }
        destinations: [{ service: greeter }]
        fault: { delay: { fixed: 300ms, percent: 100 } }
  - service: flaky
    rules:
      - name: retry
        destinations: [{ service: flaky }]
        retries: { attempts: 2, retry_on: [unavailable], backoff: { base: 10ms, max: 20ms } }
  - service: slow
    rules:
      - name: capped
        match: { headers: { x-short: { exact: "yes" } } }
        destinations: [{ service: slow }]
        grpc_timeout_header_max: 200ms
`;
}

/** A greeter-shaped server whose handler decides each answer. */
async function startServer(handler: (cb: grpc.sendUnaryData<Buffer>) => void): Promise<Served> {
  const server = new grpc.Server();
  server.addService(greeterDefinition, {
    Hello: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => handler(cb),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, port };
}

interface CallResult {
  code: grpc.status;
  body: string;
  ms: number;
}

/** One unary Hello with metadata; resolves with the status code (never rejects). */
function call(client: grpc.Client, md: Record<string, string> = {}, deadlineMs = 3000): Promise<CallResult> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  const start = performance.now();
  return new Promise((resolve) => {
    client.makeUnaryRequest(HELLO, raw, raw, Buffer.from('hi'), metadata, { deadline: Date.now() + deadlineMs }, (e, res) => {
      const ms = performance.now() - start;
      if (e) resolve({ code: e.code, body: e.details, ms });
      else resolve({ code: grpc.status.OK, body: res!.toString(), ms });
    });
  });
}

function newClient(target: string): grpc.Client {
  const Ctor = grpc.makeGenericClientConstructor(greeterDefinition, 'Greeter');
  return new Ctor(target, grpc.credentials.createInsecure());
}

describe('mesh policies honoured by grpc-js-xds through the control plane process', { timeout: 90_000 }, () => {
  const t = tempDir();
  const file = path.join(t.dir, 'mesh.yaml');
  const servers: Served[] = [];
  let ports: Ports;
  let cp: ReadyChild | null = null;
  let adminPort = 0;
  let greeter: GreeterClient | null = null;
  const clients: grpc.Client[] = [];
  const counts = { flaky: 0, slowActive: 0, slowMaxActive: 0, odGood: 0, odBad: 0 };

  before(async () => {
    const g1 = await startGreeter('g1');
    const g2 = await startGreeter('g2');
    // Every odd-numbered attempt fails with UNAVAILABLE, so each call succeeds on exactly its second attempt.
    const flaky = await startServer((cb) => {
      counts.flaky++;
      if (counts.flaky % 2 === 1) cb({ code: grpc.status.UNAVAILABLE, details: 'flaky' });
      else cb(null, Buffer.from('flaky'));
    });
    const slow = await startServer((cb) => {
      counts.slowActive++;
      counts.slowMaxActive = Math.max(counts.slowMaxActive, counts.slowActive);
      setTimeout(() => {
        counts.slowActive--;
        cb(null, Buffer.from('slow'));
      }, 500);
    });
    const odGood = await startServer((cb) => {
      counts.odGood++;
      cb(null, Buffer.from('od-good'));
    });
    const odBad = await startServer((cb) => {
      counts.odBad++;
      cb({ code: grpc.status.INTERNAL, details: 'bad host' });
    });
    servers.push(g1, g2, flaky, slow, odGood, odBad);
    ports = { g1: g1.port, g2: g2.port, flaky: flaky.port, slow: slow.port, odGood: odGood.port, odBad: odBad.port };
    writeFileSync(file, mesh(ports, true));
    const [xds, admin] = await freePorts(2);
    adminPort = admin!;
    cp = await startTessera(['control-plane', '--config', file, '--xds-port', String(xds), '--admin-port', String(admin)], { dir: t.dir, name: 'cp' });
    greeter = await xdsGreeterClient(xds!, 'grpc-policies-client', 'xds:///greeter');
  });

  after(async () => {
    greeter?.close();
    for (const c of clients) c.close();
    if (cp) await stopChild(cp);
    for (const s of servers) s.server.forceShutdown();
    t.cleanup();
  });

  it('fault abort: calls with x-fault: yes get PERMISSION_DENIED (7), others are answered', async () => {
    const plain = await call(greeter!);
    assert.equal(plain.code, grpc.status.OK, plain.body);
    assert.match(plain.body, /^g[12]$/);
    for (let i = 0; i < 5; i++) {
      const r = await call(greeter!, { 'x-fault': 'yes' });
      assert.equal(r.code, grpc.status.PERMISSION_DENIED, `call ${i}: ${r.code} ${r.body}`);
    }
    const other = await call(greeter!, { 'x-fault': 'no' });
    assert.equal(other.code, grpc.status.OK, other.body);
  });

  it('fault delay: calls with x-fault: delay take at least ~300 ms, others do not', async () => {
    const fast = await call(greeter!);
    assert.equal(fast.code, grpc.status.OK);
    assert.ok(fast.ms < 250, `undelayed call took ${fast.ms} ms`);
    for (let i = 0; i < 3; i++) {
      const r = await call(greeter!, { 'x-fault': 'delay' });
      assert.equal(r.code, grpc.status.OK, r.body);
      assert.ok(r.ms >= 280, `delayed call ${i} took only ${r.ms} ms`);
      assert.ok(r.ms < 2000, `delayed call ${i} took ${r.ms} ms`);
    }
  });

  it('ring hash on x-user: one user always reaches the same instance, and users spread over both', async () => {
    const byUser = new Map<string, string>();
    for (let u = 0; u < 20; u++) {
      const user = `user-${u}`;
      for (let i = 0; i < 3; i++) {
        const r = await call(greeter!, { 'x-user': user });
        assert.equal(r.code, grpc.status.OK, r.body);
        const seen = byUser.get(user);
        if (seen === undefined) byUser.set(user, r.body);
        else assert.equal(r.body, seen, `${user} moved from ${seen} to ${r.body}`);
      }
    }
    const hit = new Set(byUser.values());
    assert.deepEqual([...hit].sort(), ['g1', 'g2'], `users reached only ${[...hit].join(',')}`);
  });

  it('retries: every call to flaky succeeds on its second attempt (retry_on unavailable)', async () => {
    const flaky = newClient('xds:///flaky');
    clients.push(flaky);
    for (let i = 0; i < 10; i++) {
      const r = await call(flaky);
      assert.equal(r.code, grpc.status.OK, `call ${i}: ${r.code} ${r.body}`);
      assert.equal(r.body, 'flaky');
    }
    assert.equal(counts.flaky, 20, 'two attempts per call');
  });

  it('circuit breaker: with max_requests 1, concurrent calls beyond the first fail fast with UNAVAILABLE', async () => {
    const slow = newClient('xds:///slow');
    clients.push(slow);
    // Warm up: resolve and connect, so the concurrent burst below starts on a ready channel.
    assert.equal((await call(slow)).code, grpc.status.OK);
    // grpc-js-xds counts a call when it starts on a subchannel, after the pick (and an async metadata step), so
    // calls picked in the same tick all pass; the limit is checked against calls already in flight. Hence the
    // first call must be at the server before the others are made.
    const first = call(slow);
    await eventually(async () => counts.slowActive === 1, 2000, 5);
    const burst = await Promise.all([first, call(slow), call(slow)]);
    const ok = burst.filter((r) => r.code === grpc.status.OK);
    const dropped = burst.filter((r) => r.code === grpc.status.UNAVAILABLE);
    assert.equal(ok.length, 1, JSON.stringify(burst));
    assert.equal(dropped.length, 2, JSON.stringify(burst));
    for (const d of dropped) assert.ok(d.ms < 400, `dropped call took ${d.ms} ms (it waited for the server)`);
    assert.equal(counts.slowMaxActive, 1, 'the server never saw two calls at once');
  });

  it('grpc_timeout_header_max: a rule caps the client deadline (3 s) at 200 ms', async () => {
    const slow = clients.at(-1)!;
    const capped = await call(slow, { 'x-short': 'yes' });
    assert.equal(capped.code, grpc.status.DEADLINE_EXCEEDED, `${capped.code} ${capped.body}`);
    assert.ok(capped.ms >= 150 && capped.ms < 450, `capped call took ${capped.ms} ms`);
    await eventually(async () => counts.slowActive === 0, 2000, 20);
    const uncapped = await call(slow);
    assert.equal(uncapped.code, grpc.status.OK, 'without the header the 500 ms call completes');
  });

  it('outlier detection: the failing instance is ejected and calls then all succeed', async () => {
    const od = newClient('xds:///od');
    clients.push(od);
    // Round robin over a good and a bad instance: about half fail until the 500 ms detector ejects the bad one.
    const early: grpc.status[] = [];
    for (let i = 0; i < 10; i++) early.push((await call(od)).code);
    assert.ok(early.some((c) => c === grpc.status.INTERNAL), `no failure before ejection: ${early.join(',')}`);
    await eventually(
      async () => {
        for (let i = 0; i < 10; i++) if ((await call(od)).code !== grpc.status.OK) return false;
        return true;
      },
      6000,
      100,
    );
    const badBefore = counts.odBad;
    for (let i = 0; i < 10; i++) assert.equal((await call(od)).code, grpc.status.OK);
    assert.equal(counts.odBad, badBefore, 'the ejected instance gets no calls');
  });

  it('a live edit removing the abort fault reaches the client; every resource stays ACKed', async () => {
    assert.equal((await call(greeter!, { 'x-fault': 'yes' })).code, grpc.status.PERMISSION_DENIED);
    writeFileSync(file, mesh(ports, false));
    const r = await eventually(async () => {
      const res = await call(greeter!, { 'x-fault': 'yes' });
      return res.code === grpc.status.OK ? res : null;
    }, 8000, 100);
    assert.match(r.body, /^g[12]$/);
    // The delay rule that stayed is still honoured.
    const delayed = await call(greeter!, { 'x-fault': 'delay' });
    assert.ok(delayed.ms >= 280, `delayed call took only ${delayed.ms} ms`);

    const status = JSON.parse((await request(`http://127.0.0.1:${adminPort}/status`)).body) as {
      proxies: Array<{ nodeId: string; types: Array<{ typeUrl: string; names: string[]; nacked: boolean; lastAckedVersion: string | null }> }>;
    };
    const me = status.proxies.find((p) => p.nodeId === 'grpc-policies-client');
    assert.ok(me, JSON.stringify(status));
    assert.equal(me.types.length, 4);
    for (const ty of me.types) {
      assert.equal(ty.nacked, false, JSON.stringify(ty));
      assert.ok(ty.lastAckedVersion, JSON.stringify(ty));
    }
    const listeners = me.types.find((ty) => ty.typeUrl.endsWith('.Listener'));
    assert.deepEqual([...listeners!.names].sort(), ['flaky', 'greeter', 'od', 'slow']);
  });
});
