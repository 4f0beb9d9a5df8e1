// Interop through the whole control plane: a mesh config declares a grpc-js server; the real @grpc/grpc-js-xds
// client with target xds:///greeter resolves it from a running `tessera control-plane` process and follows an
// edit of the config file to a new endpoint.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { hello, startGreeter, xdsGreeterClient, type GreeterClient } from '../helpers/grpc-greeter.js';
import { eventually, freePorts, request, startTessera, stopChild, tempDir, type ReadyChild } from '../helpers/mesh.js';

function mesh(port: number): string {
  return `services:
  - name: greeter
    protocol: http
    instances:
      - { id: greeter-1, address: 127.0.0.1, port: ${port} }
`;
}

describe('grpc-js-xds through the control plane process', { timeout: 60_000 }, () => {
  const t = tempDir();
  const file = path.join(t.dir, 'mesh.yaml');
  let a: { server: grpc.Server; port: number };
  let b: { server: grpc.Server; port: number };
  let cp: ReadyChild;
  let adminPort = 0;
  let client: GreeterClient | null = null;

  before(async () => {
    a = await startGreeter('A');
    b = await startGreeter('B');
    writeFileSync(file, mesh(a.port));
    const [xds, admin] = await freePorts(2);
    adminPort = admin!;
    cp = await startTessera(['control-plane', '--config', file, '--xds-port', String(xds), '--admin-port', String(admin)], { dir: t.dir, name: 'cp' });
    client = await xdsGreeterClient(xds!, 'grpc-client-1', 'xds:///greeter');
  });

  after(async () => {
    client?.close();
    if (cp) await stopChild(cp);
    a?.server.forceShutdown();
    b?.server.forceShutdown();
    t.cleanup();
  });

  it('calls the server declared in the mesh config, then follows an edit to a new endpoint', async () => {
    assert.equal(await hello(client!), 'A');
    writeFileSync(file, mesh(b.port));
    const reached = await eventually(async () => ((await hello(client!)) === 'B' ? 'B' : null), 10000, 100);
    assert.equal(reached, 'B');
    const status = JSON.parse((await request(`http://127.0.0.1:${adminPort}/status`)).body) as {
      proxies: Array<{ nodeId: string; types: Array<{ nacked: boolean; lastAckedVersion: string | null }> }>;
    };
    const me = status.proxies.find((p) => p.nodeId === 'grpc-client-1');
    assert.ok(me, JSON.stringify(status));
    assert.equal(me.types.length, 4);
    assert.ok(me.types.every((x) => !x.nacked && x.lastAckedVersion), JSON.stringify(me.types));
  });
});
