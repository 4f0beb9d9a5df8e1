// tessera.filters.http.api_key in a real sidecar process, with curl as the client and an echoing upstream.
// (1) A static bootstrap: keys from a header and from the query (removed before forwarding — the upstream asserts it
// never sees them), both keys of a rotating consumer valid, wrong and missing keys 401, allow_missing and skip rules,
// allowed_consumers 403, consumer headers replacing client-sent ones, gRPC status mapping, stats, /config_dump, and
// the sidecar's own output (debug logs + access log) free of every key sent. Keys and hashes come from the real
// `tessera apikey new|hash` commands. (2) Over xDS: a key removed by an LDS update stops working, and an invalid
// update is NACKed with its field path while the last good config keeps serving.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { XdsServer } from '../../control-plane/server/xds-server.js';
import { SnapshotCache } from '../../control-plane/snapshot/snapshot-cache.js';
import { silentLogger } from '../../src/observability/logger.js';
import { StatsStore } from '../../src/observability/stats.js';
import { TypeUrl } from '../../src/xds/type-urls.js';
import { edsCluster, loadAssignment } from '../helpers/ads-test-client.js';
import { bootstrap, httpListener, staticCluster, writeBootstrap, type Json } from '../helpers/bootstraps.js';
import { BIN, eventually, freePorts, request, startTessera, startUpstream, stopChild, tempDir, type ReadyChild, type Upstream } from '../helpers/mesh.js';

const execFileP = promisify(execFile);

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request with curl (`-i`): status, lower-cased response headers (last of each), body. */
async function curl(url: string, args: string[] = []): Promise<CurlResult> {
  const { stdout } = await execFileP('curl', ['-s', '-i', '--max-time', '5', ...args, url]);
  const sep = stdout.indexOf('\r\n\r\n');
  const head = stdout.slice(0, sep).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const c = line.indexOf(':');
    headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
  }
  return { status: Number(head[0]!.split(' ')[1]), headers, body: stdout.slice(sep + 4) };
}

/** What the echoing upstream saw. */
interface Echo {
  path: string;
  headers: Record<string, string | undefined>;
}

/** `tessera apikey <args>` with `stdin`; its stdout. */
function tesseraApikey(args: string[], stdin = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'apikey', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`tessera apikey ${args.join(' ')}: exit ${code}`))));
    child.stdin.end(stdin);
  });
}

interface IssuedKey {
  key: string;
  sha256: string;
}

async function issueKey(prefix: string): Promise<IssuedKey> {
  const k = JSON.parse(await tesseraApikey(['new', '--prefix', prefix])) as IssuedKey;
  assert.equal((await tesseraApikey(['hash'], `${k.key}\n`)).trim(), k.sha256, 'apikey hash agrees with apikey new');
  return k;
}

function apiKeyFilter(body: Json): Json {
  return { name: 'tessera.filters.http.api_key', typed_config: { '@type': TypeUrl.ApiKeyAuth, ...body } };
}

describe('api_key: a sidecar checking keys from a static bootstrap', { timeout: 60000 }, () => {
  const { dir, cleanup } = tempDir('tessera-apikey-');
  let side: ReadyChild | null = null;
  let up: Upstream;
  let port = 0;
  let admin = 0;
  let accepted = 0;
  let acmeOld: IssuedKey;
  let acmeNew: IssuedKey;
  let beta: IssuedKey;
  /** Every key value any request carried (valid or not): none may show up in the sidecar's output. */
  const sent = new Set<string>();

  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  const stats = async (): Promise<Record<string, number>> => JSON.parse((await request(`http://127.0.0.1:${admin}/stats?format=json`)).body) as Record<string, number>;
  const withKey = (key: string, extra: string[] = []) => {
    sent.add(key);
    return ['-H', `x-api-key: ${key}`, ...extra];
  };
  const ok = async (p: string, args: string[]): Promise<Echo> => {
    const r = await curl(url(p), args);
    assert.equal(r.status, 200, r.body);
    accepted++;
    return JSON.parse(r.body) as Echo;
  };

  before(async () => {
    [acmeOld, acmeNew, beta] = await Promise.all([issueKey('acme_'), issueKey('acme_'), issueKey('beta_')]);
    up = await startUpstream('orders');
    [port, admin] = (await freePorts(2)) as [number, number];
    const filter = apiKeyFilter({
      consumers: [
        { id: 'acme', keys: [{ sha256: acmeOld.sha256, name: 'acme-2024' }, { sha256: acmeNew.sha256, name: 'acme-2025' }], metadata: { plan: 'gold' } },
        { id: 'beta', keys: [{ sha256: beta.sha256 }], metadata: { plan: 'free' } },
      ],
      sources: [{ header: 'x-api-key' }, { query: 'api_key' }],
      rules: [
        { match: { path: '/healthz' }, skip: true },
        { match: { prefix: '/catalog' }, allow_missing: true },
        { match: { prefix: '/admin' }, allowed_consumers: ['acme'] },
      ],
      forward_metadata: ['plan'],
    });
    const b = bootstrap('apikey-sidecar', admin, [httpListener('main', port, [{ match: { prefix: '/' }, route: { cluster: 'orders' } }], {}, [filter])], [staticCluster('orders', [up.port])]);
    // Debug logging and the access log on stdout: everything the sidecar could write is captured in sidecar.log.
    side = await startTessera(['sidecar', '--bootstrap', writeBootstrap(dir, 'sidecar', b)], { dir, name: 'sidecar', env: { TESSERA_LOG_LEVEL: 'debug' } });
  });

  after(async () => {
    if (side) await stopChild(side);
    await up?.close();
    cleanup();
  });

  it('a header key reaches the upstream as consumer headers; the key and client-sent identity headers do not', async () => {
    const e = await ok('/orders/1', withKey(acmeNew.key, ['-H', 'x-consumer-id: admin', '-H', 'x-consumer-plan: platinum']));
    assert.equal(e.headers['x-consumer-id'], 'acme');
    assert.equal(e.headers['x-consumer-plan'], 'gold');
    assert.equal(e.headers['x-api-key'], undefined);
    assert.equal(up.requests, accepted);
  });

  it('a query key is removed from the target before forwarding; the other parameters stay', async () => {
    sent.add(beta.key);
    const e = await ok(`/orders/2?x=1&api_key=${encodeURIComponent(beta.key)}&y=2`, []);
    assert.equal(e.path, '/orders/2?x=1&y=2');
    assert.equal(e.headers['x-consumer-id'], 'beta');
    assert.equal(e.headers['x-consumer-plan'], 'free');
  });

  it('rotation: both keys of one consumer are valid', async () => {
    assert.equal((await ok('/orders/3', withKey(acmeOld.key))).headers['x-consumer-id'], 'acme');
    assert.equal((await ok('/orders/3', withKey(acmeNew.key))).headers['x-consumer-id'], 'acme');
  });

  it('a wrong key gets 401 "API key is invalid" with the ApiKey challenge, and never reaches the upstream', async () => {
    for (const k of ['acme_guess', acmeNew.key.slice(0, -1), `${acmeNew.key}x`]) {
      const r = await curl(url('/orders/4'), withKey(k));
      assert.equal(r.status, 401);
      assert.equal(r.body, 'API key is invalid');
      assert.equal(r.headers['www-authenticate'], 'ApiKey realm="tessera", error="invalid_key"');
    }
    sent.add('acme_wrong_in_query');
    const q = await curl(url('/orders/4?api_key=acme_wrong_in_query'));
    assert.equal(q.status, 401);
    assert.equal(up.requests, accepted);
  });

  it('a missing key gets 401 "API key is missing" with the ApiKey challenge', async () => {
    const r = await curl(url('/orders/5'), ['-H', 'x-consumer-id: acme']);
    assert.equal(r.status, 401);
    assert.equal(r.body, 'API key is missing');
    assert.equal(r.headers['www-authenticate'], 'ApiKey realm="tessera"');
    assert.equal(up.requests, accepted);
  });

  it('allow_missing: no key passes anonymously (forged identity removed); a wrong key is still 401', async () => {
    const anon = await ok('/catalog/items', ['-H', 'x-consumer-id: acme']);
    assert.equal(anon.headers['x-consumer-id'], undefined);
    assert.equal((await ok('/catalog/items', withKey(beta.key))).headers['x-consumer-id'], 'beta');
    assert.equal((await curl(url('/catalog/items'), withKey('beta_wrong'))).status, 401);
  });

  it('skip: no check at all, and a key sent anyway is still not forwarded', async () => {
    await ok('/healthz', []);
    const e = await ok('/healthz', withKey('whatever-key'));
    assert.equal(e.headers['x-api-key'], undefined);
  });

  it('allowed_consumers: another valid consumer gets 403', async () => {
    await ok('/admin/users', withKey(acmeOld.key));
    const r = await curl(url('/admin/users'), withKey(beta.key));
    assert.equal(r.status, 403);
    assert.equal(r.body, 'API key is not allowed on this route');
    assert.equal(r.headers['www-authenticate'], undefined);
    assert.equal(up.requests, accepted);
  });

  it('gRPC requests get UNAUTHENTICATED (16) and PERMISSION_DENIED (7)', async () => {
    const grpc = ['--http2-prior-knowledge', '-X', 'POST', '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--data-binary', ''];
    const missing = await curl(url('/orders.Orders/Get'), grpc);
    assert.equal(missing.headers['grpc-status'], '16');
    assert.equal(decodeURIComponent(missing.headers['grpc-message'] ?? ''), 'API key is missing');
    const denied = await curl(url('/admin.Admin/Drop'), [...withKey(beta.key), ...grpc]);
    assert.equal(denied.headers['grpc-status'], '7');
    assert.equal(up.requests, accepted);
  });

  it('stats count each outcome under http.<stat_prefix>.api_key', async () => {
    const s = await stats();
    assert.equal(s['http.main.api_key.allowed'], accepted);
    assert.equal(s['http.main.api_key.denied_invalid'], 5);
    assert.equal(s['http.main.api_key.denied_missing'], 2);
    assert.equal(s['http.main.api_key.denied_consumer'], 2);
  });

  it('/config_dump never holds a key', async () => {
    const dump = (await request(`http://127.0.0.1:${admin}/config_dump`)).body;
    assert.ok(dump.includes('"main"'), dump);
    for (const k of sent) assert.equal(dump.includes(k), false, `key ${k} in /config_dump`);
  });

  it("no key ever appears in the sidecar's output (debug logs and access log)", async () => {
    // Let the batched access log flush, then stop the sidecar so its output is complete.
    await eventually(async () => side!.lines.some((l) => l.includes('"path":"/admin.Admin/Drop"')), 5000);
    await stopChild(side!);
    const out = `${readFileSync(path.join(dir, 'sidecar.log'), 'utf8')}\n${side!.lines.join('\n')}`;
    side = null;
    assert.ok(out.includes('"path":"/orders/2?x=1&y=2"'), 'the access log shows the target without the key');
    assert.ok(sent.size >= 8);
    for (const k of sent) {
      assert.equal(out.includes(k), false, `key ${k} in the sidecar output`);
      assert.equal(out.includes(encodeURIComponent(k)), false, `key ${k} (encoded) in the sidecar output`);
    }
  });
});

describe('api_key over xDS: keys change with LDS; an invalid update is NACKed and the last good config serves', { timeout: 60000 }, () => {
  const t = tempDir('tessera-apikey-xds-');
  const cache = new SnapshotCache();
  const server = new XdsServer({ cache, logger: silentLogger(), stats: new StatsStore() });
  const node = 'apikey-xds';
  let up: Upstream;
  let sidecar: ReadyChild | null = null;
  let port = 0;
  let oldKey: IssuedKey;
  let newKey: IssuedKey;

  const resources = (consumers: Json[]) => ({
    [TypeUrl.Listener]: [{ name: 'main', resource: httpListener('main', port, [{ match: { prefix: '/' }, route: { cluster: 'backend' } }], {}, [apiKeyFilter({ consumers })]) }],
    [TypeUrl.Cluster]: [{ name: 'backend', resource: edsCluster('backend') }],
    [TypeUrl.ClusterLoadAssignment]: [{ name: 'backend', resource: loadAssignment('backend', [['127.0.0.1', up.port]]) }],
  });
  const status = async (key: string) => (await curl(`http://127.0.0.1:${port}/x`, ['-H', `x-api-key: ${key}`])).status;

  before(async () => {
    [oldKey, newKey] = await Promise.all([issueKey('rot_'), issueKey('rot_')]);
    up = await startUpstream('backend');
    [port] = (await freePorts(1)) as [number];
    assert.deepEqual(cache.set(node, resources([{ id: 'acme', keys: [{ sha256: oldKey.sha256 }, { sha256: newKey.sha256 }] }])), []);
    const xdsPort = await server.listen('127.0.0.1', 0);
    sidecar = await startTessera(['sidecar', '--node-id', node, '--xds', `127.0.0.1:${xdsPort}`], { dir: t.dir, name: node });
  });

  after(async () => {
    if (sidecar) await stopChild(sidecar);
    await server.close();
    await up?.close();
    t.cleanup();
  });

  it('both keys work; after an LDS update removing the old one, it gets 401 and the new one still works', async () => {
    await eventually(async () => (await status(oldKey.key)) === 200, 10000);
    assert.equal(await status(newKey.key), 200);
    assert.deepEqual(cache.set(node, resources([{ id: 'acme', keys: [{ sha256: newKey.sha256 }] }])), []);
    await eventually(async () => (await status(oldKey.key)) === 401, 10000);
    assert.equal(await status(newKey.key), 200);
  });

  it('three keys for one consumer are NACKed with the field path; the last good config keeps serving', async () => {
    const third = await issueKey('rot_');
    const bad = [{ id: 'acme', keys: [{ sha256: oldKey.sha256 }, { sha256: newKey.sha256 }, { sha256: third.sha256 }] }];
    assert.deepEqual(cache.set(node, resources(bad)), []);
    const nack = await eventually(async () => server.nacks().find((n) => n.nodeId === node), 10000);
    assert.equal(nack.typeUrl, TypeUrl.Listener);
    assert.match(nack.reason, /http_filters\[0\]\.typed_config\.consumers\[0\]\.keys: at most 2 keys/);
    assert.equal(await status(newKey.key), 200);
    assert.equal(await status(oldKey.key), 401);
    assert.equal(await status(third.key), 401);
  });
});
