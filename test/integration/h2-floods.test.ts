// HTTP/2 abuse patterns against a real sidecar process, one test each, on raw frames (test/helpers/h2-raw.ts):
// every attack must be answered (GOAWAY / RST_STREAM / close), the sidecar's RSS must stay bounded, and a
// well-behaved node:http2 client on its own connection must keep getting 200s during and after the attack.
// Background and the node:http2 baseline: docs/h2-hardening.md.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http2 from 'node:http2';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnReady } from '../../src/cli/processes.js';
import { bootstrap, httpListener, staticCluster, writeBootstrap } from '../helpers/bootstraps.js';
import { FrameFlag, FrameType, H2Error, H2RawClient, SettingsId, encodeFrame, errorName, hpack } from '../helpers/h2-raw.js';
import { freePorts, request, startUpstream, stopChild, tempDir, type ReadyChild, type Upstream } from '../helpers/mesh.js';

/** The CLI built next to this test (<outDir>/src/cli/main.js), so the sidecar under test is the code this file was compiled with. */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const MiB = 1024 * 1024;
const BIG_BODY = Buffer.alloc(MiB, 0x62);
const GET: readonly (readonly [string, string])[] = [[':method', 'GET'], [':scheme', 'http'], [':authority', 'localhost']];

// ---------------------------------------------------------------------------------------------
// Sidecar, upstream, stats, RSS

interface Sidecar {
  readonly rc: ReadyChild;
  readonly pid: number;
  /** Listener `main`: the HCM defaults (100 streams, 64 KiB stream window, 60 KiB headers, 5 min stream idle). */
  readonly port: number;
  /** Listener `idle`: as `main` with stream_idle_timeout 1 s. */
  readonly idlePort: number;
  readonly adminPort: number;
}

let upstream: Upstream;
/** Requests the upstream saw per path prefix (`/ok`, `/big`, `/hold`, `/attack`...). */
const seen = new Map<string, number>();
/** `/hold` responses parked until the test releases them. */
const held: (() => void)[] = [];

function startApp(): Promise<Upstream> {
  return startUpstream('app', (req, res) => {
    const p = (req.url ?? '/').split('?')[0]!;
    const key = `/${p.split('/')[1] ?? ''}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    req.resume();
    if (key === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG_BODY.length) });
      res.end(BIG_BODY);
      return;
    }
    const answer = (): void => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    };
    if (key === '/hold') held.push(answer);
    else req.on('end', answer);
  });
}

function releaseHeld(): void {
  for (const f of held.splice(0)) f();
}

async function startSidecar(dir: string, name: string): Promise<Sidecar> {
  const [port, idlePort, adminPort] = await freePorts(3);
  const routes = [{ match: { prefix: '/' }, route: { cluster: 'app', timeout: '0s' } }];
  const b = bootstrap(`flood-${name}`, adminPort!, [
    httpListener('main', port!, routes),
    httpListener('idle', idlePort!, routes, { stream_idle_timeout: '1s' }),
  ], [staticCluster('app', [upstream.port])]);
  const file = writeBootstrap(dir, name, b);
  const rc = await spawnReady(process.execPath, [MAIN, 'sidecar', '--bootstrap', file, '--access-log', 'off'], {
    logFile: path.join(dir, `${name}.log`),
    env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' },
    timeoutMs: 20000,
    echo: process.env.TESSERA_TEST_ECHO === '1',
  });
  return { rc, pid: rc.child.pid!, port: port!, idlePort: idlePort!, adminPort: adminPort! };
}

function alive(s: Sidecar): boolean {
  return s.rc.child.exitCode === null && s.rc.child.signalCode === null;
}

async function stats(s: Sidecar): Promise<Record<string, number>> {
  const r = await request(`http://127.0.0.1:${s.adminPort}/stats?format=json`, { timeoutMs: 3000 });
  return JSON.parse(r.body) as Record<string, number>;
}

/** VmRSS of the sidecar process, from /proc. */
async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Samples the sidecar's RSS every 50 ms until stopped; `stop()` returns the peak growth over the baseline. */
async function rssSampler(pid: number): Promise<{ baseline: number; stop(): Promise<{ peak: number; growth: number }> }> {
  const baseline = await rssBytes(pid);
  let peak = baseline;
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 2000; i++) {
      try {
        peak = Math.max(peak, await rssBytes(pid));
      } catch {
        return;
      }
      await sleep(50);
    }
  })();
  return {
    baseline,
    async stop() {
      running = false;
      await loop;
      try {
        peak = Math.max(peak, await rssBytes(pid));
      } catch {
        // exited; the liveness assertion reports it
      }
      return { peak, growth: peak - baseline };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The well-behaved control client

interface ControlStats {
  ok: number;
  failed: number;
  errors: string[];
  maxLatencyMs: number;
}

/**
 * One node:http2 client on its own connection: GET /ok/control every 20 ms, one at a time, each bounded by 2 s.
 * A broken session is replaced (and counted as a failure). Bounded by `maxMs`.
 */
function startControl(port: number, maxMs = 20000): { stats: ControlStats; stop(): Promise<ControlStats> } {
  const st: ControlStats = { ok: 0, failed: 0, errors: [], maxLatencyMs: 0 };
  let running = true;
  let session: http2.ClientHttp2Session | null = null;
  const fail = (why: string): void => {
    st.failed++;
    if (st.errors.length < 10) st.errors.push(why);
  };
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      if (session === null || session.destroyed || session.closed) {
        session = http2.connect(`http://127.0.0.1:${port}`);
        session.on('error', () => {});
      }
      const t0 = performance.now();
      const req = session.request({ ':path': '/ok/control' });
      let status = 0;
      let done = false;
      const finish = (why: string | null): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (why === null) {
          st.ok++;
          st.maxLatencyMs = Math.max(st.maxLatencyMs, performance.now() - t0);
        } else {
          fail(why);
          session?.destroy();
          session = null;
        }
        resolve();
      };
      const timer = setTimeout(() => {
        req.close(http2.constants.NGHTTP2_CANCEL);
        finish('timeout after 2000 ms');
      }, 2000);
      req.on('response', (h) => {
        status = Number(h[':status']);
      });
      req.on('data', () => {});
      req.on('end', () => finish(status === 200 ? null : `status ${status}`));
      req.on('error', (e: Error) => finish(e.message));
      req.on('close', () => finish(status === 200 ? null : `closed (status ${status}, rst ${req.rstCode})`));
      req.end();
    });
  const deadline = Date.now() + maxMs;
  const loop = (async () => {
    while (running && Date.now() < deadline) {
      await one();
      await sleep(20);
    }
  })();
  return {
    stats: st,
    async stop() {
      running = false;
      await loop;
      (session as http2.ClientHttp2Session | null)?.close();
      return st;
    },
  };
}

/** After the attack: a fresh h2 connection and a fresh HTTP/1.1 request both get 200. */
async function assertServing(s: Sidecar): Promise<void> {
  assert.ok(alive(s), 'the sidecar process exited');
  const h1 = await request(`http://127.0.0.1:${s.port}/ok/after-h1`, { timeoutMs: 3000 });
  assert.equal(h1.status, 200);
  const c = await H2RawClient.connect(s.port);
  try {
    c.get(1, '/ok/after-h2');
    const r = await c.response(1, 3000);
    assert.equal(r.status, 200, `fresh h2 connection after the attack: status ${r.status}, rst ${r.rstCode}`);
  } finally {
    await c.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Attack plumbing

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface FloodResult {
  /** Units (one call of `unit`) written. */
  sent: number;
  ms: number;
}

/**
 * Writes `unit(i)` (one or more frames) in batches of `batch` until the server sends GOAWAY or closes, or `max` units
 * or `maxMs` passed. Yields to the event loop between batches (so the control client and the readers run) and waits
 * for `drain` when the kernel buffer is full (bounded: a client that never reads still gets its writes out until the
 * server's receive window fills). `pauseMs` paces the batches: a server that closes with unread bytes in its receive
 * buffer sends a TCP RST, and Linux then drops the GOAWAY still unread on our side.
 */
async function flood(
  c: H2RawClient,
  unit: (i: number) => Buffer,
  o: { max: number; batch: number; maxMs: number; framesPerUnit?: number; pauseMs?: number },
): Promise<FloodResult> {
  const t0 = performance.now();
  let sent = 0;
  while (sent < o.max && performance.now() - t0 < o.maxMs && !c.isClosed && c.goaway === null && !c.socket.destroyed) {
    const n = Math.min(o.batch, o.max - sent);
    const parts: Buffer[] = new Array(n);
    for (let i = 0; i < n; i++) parts[i] = unit(sent + i);
    c.framesSent += n * (o.framesPerUnit ?? 1);
    sent += n;
    if (!c.raw(Buffer.concat(parts))) await c.drain(Math.max(1, o.maxMs - (performance.now() - t0)));
    if (o.pauseMs !== undefined) await sleep(o.pauseMs);
    else await new Promise((r) => setImmediate(r));
  }
  return { sent, ms: performance.now() - t0 };
}

/** Waits until `c` is closed by the server (at most `ms`); returns the time it took or null. */
async function closedWithin(c: H2RawClient, ms: number): Promise<number | null> {
  const t0 = performance.now();
  try {
    await c.waitFor((x) => x.isClosed, ms, 'close');
    return performance.now() - t0;
  } catch {
    return null;
  }
}

/** A request header block as raw HPACK (static-table method and scheme, literal authority and path) plus `extra`. */
function requestBlock(p: string, extra: Buffer[] = [], method: 'GET' | 'POST' = 'GET'): Buffer {
  return Buffer.concat([hpack.indexed(method === 'GET' ? 2 : 3), hpack.indexed(6), hpack.literalIndexedName(1, 'localhost'), hpack.literalIndexedName(4, p), ...extra]);
}

/** A header block split into HEADERS + CONTINUATION frames of at most 16 384 bytes (the default SETTINGS_MAX_FRAME_SIZE). */
function headerFrames(streamId: number, block: Buffer, endStream: boolean): Buffer {
  const max = 16_384;
  const out: Buffer[] = [];
  for (let off = 0; off < block.length || off === 0; off += max) {
    const last = off + max >= block.length;
    const chunk = block.subarray(off, off + max);
    if (off === 0) out.push(encodeFrame(FrameType.HEADERS, (endStream ? FrameFlag.END_STREAM : 0) | (last ? FrameFlag.END_HEADERS : 0), streamId, chunk));
    else out.push(encodeFrame(FrameType.CONTINUATION, last ? FrameFlag.END_HEADERS : 0, streamId, chunk));
    if (last) break;
  }
  return Buffer.concat(out);
}

/** Resolves once the server's SETTINGS arrived (and, with autoAckSettings, our ACK went out). */
function handshake(c: H2RawClient): Promise<void> {
  return c.waitFor((x) => x.countOf(FrameType.SETTINGS) > 0, 2000, 'server SETTINGS');
}

function describeGoaway(c: H2RawClient): string {
  const g = c.goaway;
  return g === null ? `no GOAWAY, closed=${c.isClosed}` : `GOAWAY ${g.errorName} "${g.debug}" after ${g.atFramesSent} frames sent, at ${g.atMs.toFixed(0)} ms`;
}

/** The common frame of every test: a fresh sidecar, the control client, the RSS sampler, and the checks after. */
async function underAttack(
  t: TestContext,
  name: string,
  attack: (s: Sidecar) => Promise<void>,
  o: { rssBoundBytes?: number } = {},
): Promise<void> {
  const { dir, cleanup } = tempDir('tessera-flood-');
  let s: Sidecar | null = null;
  try {
    s = await startSidecar(dir, name);
    const sidecar = s;
    const control = startControl(sidecar.port);
    // Warm-up: the control client and the first requests settle the heap before the baseline is taken.
    await sleep(300);
    const rss = await rssSampler(sidecar.pid);
    const okBefore = control.stats.ok;
    try {
      await attack(sidecar);
    } finally {
      // Answers since the attack began: at least 3 more within 3 s of its end (it may stall the loop briefly).
      for (let i = 0; i < 60 && control.stats.ok - okBefore < 3 && control.stats.failed === 0; i++) await sleep(50);
      const okDuring = control.stats.ok - okBefore;
      const cs = await control.stop();
      const mem = await rss.stop();
      t.diagnostic(`rss baseline ${(rss.baseline / MiB).toFixed(1)} MiB, peak +${(mem.growth / MiB).toFixed(1)} MiB; control ok=${cs.ok} (since the attack began ${okDuring}) failed=${cs.failed} max ${cs.maxLatencyMs.toFixed(0)} ms`);
      assert.ok(alive(sidecar), `the sidecar process exited during the attack (${String(sidecar.rc.child.exitCode ?? sidecar.rc.child.signalCode)})`);
      assert.equal(cs.failed, 0, `control client failures: ${cs.errors.join('; ')}`);
      assert.ok(okDuring >= 3, `the control client got ${okDuring} answers from the attack's start to 3 s after its end`);
      const bound = o.rssBoundBytes ?? 64 * MiB;
      assert.ok(mem.growth < bound, `sidecar RSS grew by ${(mem.growth / MiB).toFixed(1)} MiB (bound ${bound / MiB} MiB)`);
    }
    await assertServing(sidecar);
  } finally {
    releaseHeld();
    if (s !== null) await stopChild(s.rc, 3000);
    cleanup();
  }
}

// ---------------------------------------------------------------------------------------------

describe('HTTP/2 floods against a sidecar process (downstream)', { timeout: 120_000 }, () => {
  before(async () => {
    upstream = await startApp();
  });

  after(async () => {
    releaseHeld();
    await upstream?.close();
  });

  it('rapid reset: HEADERS + RST_STREAM(CANCEL) pairs get GOAWAY ENHANCE_YOUR_CALM and the connection closes', async (t) => {
    await underAttack(t, 'rapid-reset', async (s) => {
      const before = seen.get('/attack') ?? 0;
      const c = await H2RawClient.connect(s.port);
      const block = requestBlock('/attack/rr');
      const rst = Buffer.alloc(4);
      rst.writeUInt32BE(H2Error.CANCEL, 0);
      const r = await flood(
        c,
        (i) => {
          const id = 2 * i + 1;
          return Buffer.concat([encodeFrame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, id, block), encodeFrame(FrameType.RST_STREAM, 0, id, rst)]);
        },
        { max: 5000, batch: 100, maxMs: 3000, framesPerUnit: 2 },
      );
      await c.goawayOrClose(3000).catch(() => null);
      const closeMs = await closedWithin(c, 4000);
      const st = await stats(s);
      const reached = (seen.get('/attack') ?? 0) - before;
      t.diagnostic(`${r.sent} pairs in ${r.ms.toFixed(0)} ms; ${describeGoaway(c)}; closed after ${closeMs?.toFixed(0)} ms more; premature-reset stat ${st['http.main.downstream_rq_too_many_premature_resets']}; ${reached} reached the upstream`);
      assert.ok(r.sent >= 2000, `only ${r.sent} pairs were sent`);
      // Streams reset in the same read as their HEADERS must not start upstream work.
      assert.ok(reached < r.sent / 10, `${reached} of ${r.sent} reset streams reached the upstream`);
      assert.ok(c.goaway !== null || c.isClosed, 'no GOAWAY and no close');
      if (c.goaway !== null) assert.equal(c.goaway.errorName, 'ENHANCE_YOUR_CALM', describeGoaway(c));
      assert.notEqual(closeMs, null, 'the sidecar left the connection open after the GOAWAY');
      assert.ok((st['http.main.downstream_rq_too_many_premature_resets'] ?? 0) >= 1, 'premature-reset stat not counted');
      await c.close();
    });
  });

  it('CONTINUATION flood: a header block that never ends is cut off within a second', async (t) => {
    await underAttack(t, 'continuation', async (s) => {
      const before = seen.get('/attack') ?? 0;
      const c = await H2RawClient.connect(s.port);
      await handshake(c);
      const t0 = performance.now();
      c.headers(1, requestBlock('/attack/cont'), { endStream: true, endHeaders: false });
      const empty = encodeFrame(FrameType.CONTINUATION, 0, 1);
      const r = await flood(c, () => empty, { max: 50_000, batch: 500, maxMs: 2000 });
      const closeMs = await closedWithin(c, 3000);
      const total = performance.now() - t0;
      t.diagnostic(`${r.sent} CONTINUATIONs in ${r.ms.toFixed(0)} ms; ${describeGoaway(c)}; closed ${total.toFixed(0)} ms after the HEADERS`);
      assert.notEqual(closeMs, null, `the connection stayed open (${describeGoaway(c)})`);
      assert.ok(total < 1500, `closed only after ${total.toFixed(0)} ms`);
      assert.ok(r.sent < 50_000, 'the whole flood was written: the server never pushed back');
      assert.equal((seen.get('/attack') ?? 0) - before, 0, 'the unfinished request reached the upstream');
    });
  });

  it('HPACK bomb: 4 KB dynamic-table entry x 16k references per block; each stream is reset, RSS flat, a sustained bomb closes the connection', async (t) => {
    // Each block decodes to 16 000 x 4 KB = 64 MB; 200 streams would be 12.8 GB if the sidecar materialised them.
    await underAttack(
      t,
      'hpack-bomb',
      async (s) => {
        const before = seen.get('/attack') ?? 0;
        const c = await H2RawClient.connect(s.port);
        await handshake(c);
        const entry = hpack.literalIndexed('x-bomb', Buffer.alloc(4000, 0x61)); // 4038 bytes of the 4096-byte table: index 62
        const refs = (n: number): Buffer => Buffer.alloc(n, hpack.indexed(62)[0]!);
        const first = requestBlock('/attack/bomb', [entry, refs(12_000)]);
        const next = requestBlock('/attack/bomb', [refs(16_000)]);
        const streams = 200;
        const r = await flood(c, (i) => encodeFrame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 2 * i + 1, i === 0 ? first : next), {
          max: streams,
          batch: 10,
          maxMs: 3000,
        });
        await c.waitFor((x) => x.isClosed || x.goaway !== null || x.rsts.size >= r.sent, 3000, 'a reset per stream or GOAWAY').catch(() => null);
        const statuses = [...c.streams.values()].filter((x) => x.status !== null).map((x) => x.status);
        const codes = new Map<string, number>();
        for (const code of c.rsts.values()) codes.set(errorName(code), (codes.get(errorName(code)) ?? 0) + 1);
        t.diagnostic(`${r.sent} bomb blocks in ${r.ms.toFixed(0)} ms; RST_STREAM ${JSON.stringify(Object.fromEntries(codes))}; ${describeGoaway(c)}; responses ${statuses.length}`);
        assert.ok(c.goaway !== null || c.isClosed || c.rsts.size >= r.sent, 'some bomb streams were neither reset nor ended by GOAWAY');
        assert.deepEqual(statuses, [], 'a bomb request got a response');
        // Keep bombing (~16 MB/s of HPACK, at most 2000 blocks / 3 s): each block costs the sidecar a full decode,
        // so the connection itself must go, not just each stream.
        const more = await flood(c, (i) => encodeFrame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, 2 * (r.sent + i) + 1, next), {
          max: 2000,
          batch: 10,
          maxMs: 3000,
          pauseMs: 10,
        });
        await c.goawayOrClose(2500).catch(() => null);
        const closeMs = await closedWithin(c, 2000);
        const st = await stats(s);
        t.diagnostic(`sustained: ${more.sent} more blocks in ${more.ms.toFixed(0)} ms; ${describeGoaway(c)}; closed=${closeMs !== null}; downstream_cx_flood ${st['http.main.downstream_cx_flood']}`);
        assert.equal((seen.get('/attack') ?? 0) - before, 0, 'a bomb request reached the upstream');
        assert.notEqual(closeMs, null, `a connection sending nothing but bombs stayed open (${describeGoaway(c)})`);
        await c.close();
      },
      { rssBoundBytes: 64 * MiB },
    );
  });

  for (const kind of ['SETTINGS', 'PING'] as const) {
    it(`${kind} flood from a client that never reads: the connection is closed`, async (t) => {
      await underAttack(t, `${kind.toLowerCase()}-flood`, async (s) => {
        const c = await H2RawClient.connect(s.port, { read: false });
        const frame = kind === 'SETTINGS' ? encodeFrame(FrameType.SETTINGS, 0, 0) : encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8, 7));
        const r = await flood(c, () => frame, { max: 50_000, batch: 1000, maxMs: 2000 });
        // Still not reading for two flood sweeps, then look at what the server did.
        await sleep(2500);
        const stalled = c.isClosed;
        c.resume();
        const closeMs = await closedWithin(c, 3000);
        const st = await stats(s);
        t.diagnostic(`${r.sent} ${kind} frames in ${r.ms.toFixed(0)} ms; answers read afterwards: ${c.countOf(FrameType.SETTINGS) + c.countOf(FrameType.PING)}; ${describeGoaway(c)}; closed=${closeMs !== null} (seen while not reading: ${stalled}); downstream_cx_flood ${st['http.main.downstream_cx_flood']}`);
        assert.notEqual(closeMs, null, `the sidecar kept the flooding connection open (${describeGoaway(c)})`);
        if (c.goaway !== null) assert.notEqual(c.goaway.errorCode, H2Error.NO_ERROR, describeGoaway(c));
      });
    });
  }

  it('zero-length DATA flood on an open stream gets GOAWAY and a close', async (t) => {
    await underAttack(t, 'empty-data', async (s) => {
      const c = await H2RawClient.connect(s.port);
      await handshake(c);
      c.headers(1, requestBlock('/attack/empty-data', [], 'POST'), { endStream: false });
      const empty = encodeFrame(FrameType.DATA, 0, 1);
      // Paced (20 frames per ms) so the GOAWAY is read before the close; node allows 100 invalid frames per session.
      const r = await flood(c, () => empty, { max: 20_000, batch: 20, maxMs: 2000, pauseMs: 1 });
      await c.goawayOrClose(3000).catch(() => null);
      const closeMs = await closedWithin(c, 4000);
      t.diagnostic(`${r.sent} empty DATA frames in ${r.ms.toFixed(0)} ms; ${describeGoaway(c)}; closed=${closeMs !== null}`);
      assert.notEqual(c.goaway, null, `no GOAWAY (closed=${c.isClosed})`);
      assert.notEqual(c.goaway!.errorCode, H2Error.NO_ERROR);
      assert.notEqual(closeMs, null, 'the sidecar left the connection open after its GOAWAY');
      assert.ok(c.goaway!.atFramesSent < 2000, `GOAWAY only after ${c.goaway!.atFramesSent} frames`);
    });
  });

  const controlFloods = [
    {
      name: 'PRIORITY flood on distinct idle streams',
      unit: (i: number): Buffer => encodeFrame(FrameType.PRIORITY, 0, 2 * i + 1, Buffer.from([0, 0, 0, 0, 15])),
    },
    {
      name: 'WINDOW_UPDATE(0, 1) flood',
      unit: ((): ((i: number) => Buffer) => {
        const f = encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0, 1]));
        return () => f;
      })(),
    },
    {
      name: 'unknown frame type flood (16 KB payloads)',
      unit: ((): ((i: number) => Buffer) => {
        const f = encodeFrame(0x42, 0, 0, Buffer.alloc(16_000, 0x55));
        return () => f;
      })(),
    },
  ];
  for (const cf of controlFloods) {
    it(`${cf.name}: the inbound budget closes it with ENHANCE_YOUR_CALM within ~2 s`, async (t) => {
      await underAttack(t, 'control-flood', async (s) => {
        const c = await H2RawClient.connect(s.port);
        await handshake(c);
        const t0 = performance.now();
        // The budget is bytes per 1 s sweep (> 1 MiB with < 1/8 useful), so the flood runs until the sidecar reacts:
        // at most 4 MB on the wire and 4 s.
        const size = cf.unit(0).length;
        const r = await flood(c, cf.unit, { max: Math.floor((4 * 1024 * 1024) / size), batch: Math.max(1, Math.floor(65_536 / size)), maxMs: 4000 });
        await c.goawayOrClose(2000).catch(() => null);
        const closeMs = await closedWithin(c, 2000);
        const total = performance.now() - t0;
        const st = await stats(s);
        t.diagnostic(`${r.sent} frames (${((r.sent * size) / MiB).toFixed(2)} MiB) in ${r.ms.toFixed(0)} ms; ${describeGoaway(c)}; closed after ${total.toFixed(0)} ms; downstream_cx_flood ${st['http.main.downstream_cx_flood']}`);
        assert.notEqual(c.goaway, null, `no GOAWAY (closed=${c.isClosed})`);
        assert.equal(c.goaway!.errorName, 'ENHANCE_YOUR_CALM', describeGoaway(c));
        assert.notEqual(closeMs, null, 'the connection stayed open after the GOAWAY');
        assert.ok(total < 2600, `closed only after ${total.toFixed(0)} ms`);
        assert.ok((st['http.main.downstream_cx_flood'] ?? 0) >= 1, 'downstream_cx_flood not counted');
      });
    });
  }

  it('zero-window slow reader: 300 streams of 1 MB responses on 3 connections never read; RSS stays < 100 MiB over baseline', async (t) => {
    // Without backpressure the sidecar would hold 300 MB of response bodies.
    await underAttack(
      t,
      'zero-window',
      async (s) => {
        const conns: H2RawClient[] = [];
        for (let k = 0; k < 3; k++) {
          const c = await H2RawClient.connect(s.port, { settings: { INITIAL_WINDOW_SIZE: 0 }, autoWindowUpdate: false });
          await handshake(c);
          for (let i = 0; i < 100; i++) c.get(2 * i + 1, `/big/${k}/${i}`);
          conns.push(c);
        }
        await Promise.all(conns.map((c) => c.waitFor((x) => [...x.streams.values()].filter((v) => v.status !== null || v.rstCode !== null).length >= 100, 5000, 'answers on 100 streams').catch(() => null)));
        // Hold everything for two sweeps while the sampler watches the sidecar's memory.
        await sleep(2500);
        const summary = conns.map((c) => {
          const v = [...c.streams.values()];
          return `${v.filter((x) => x.status === 200).length} heads/${v.reduce((a, x) => a + x.dataBytes, 0)} body bytes/${c.rsts.size} RST/${c.isClosed ? 'closed' : 'open'}`;
        });
        t.diagnostic(`per connection: ${summary.join(', ')}; upstream /big requests ${seen.get('/big') ?? 0}`);
        for (const c of conns) {
          assert.equal([...c.streams.values()].reduce((a, x) => a + x.dataBytes, 0), 0, 'DATA arrived through a zero window');
          assert.ok(c.rsts.size + [...c.streams.values()].filter((x) => x.status === 200).length >= 100 || c.isClosed, 'some streams were neither answered nor reset');
        }
        await Promise.all(conns.map((c) => c.close()));
      },
      { rssBoundBytes: 100 * MiB },
    );
  });

  it('zero-window slow reader with stream_idle_timeout 1 s: the stalled streams are reset and the connection keeps working', async (t) => {
    await underAttack(t, 'zero-window-idle', async (s) => {
      const c = await H2RawClient.connect(s.idlePort, { settings: { INITIAL_WINDOW_SIZE: 0 }, autoWindowUpdate: false });
      await handshake(c);
      const n = 50;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) c.get(2 * i + 1, `/big/idle/${i}`);
      await c.waitFor((x) => x.rsts.size >= n || x.isClosed, 4000, `RST_STREAM on ${n} streams`).catch(() => null);
      const ms = performance.now() - t0;
      const codes = new Set([...c.rsts.values()].map(errorName));
      const st = await stats(s);
      t.diagnostic(`${c.rsts.size}/${n} streams reset (${[...codes].join(',')}) after ${ms.toFixed(0)} ms; heads ${[...c.streams.values()].filter((x) => x.status !== null).length}; downstream_rq_idle_timeout ${st['http.idle.downstream_rq_idle_timeout']}; ${describeGoaway(c)}`);
      assert.equal(c.rsts.size, n, `${c.rsts.size} of ${n} stalled streams were reset within ${ms.toFixed(0)} ms`);
      assert.ok((st['http.idle.downstream_rq_idle_timeout'] ?? 0) >= n, 'downstream_rq_idle_timeout not counted');
      assert.equal(c.isClosed, false, 'the connection was closed');
      // Open the window again: the same connection serves a normal request.
      c.settings({ INITIAL_WINDOW_SIZE: 65_535 });
      c.get(2 * n + 1, '/ok/after-idle');
      const r = await c.response(2 * n + 1, 3000);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'ok');
      await c.close();
    });
  });

  it('more streams than max_concurrent_streams (100) before the SETTINGS ACK: the excess gets REFUSED_STREAM, the rest are served', async (t) => {
    await underAttack(t, 'refused', async (s) => {
      const before = seen.get('/hold') ?? 0;
      // Not ACKing our SETTINGS: nghttp2 then refuses the excess per stream (after the ACK it is a connection error).
      const c = await H2RawClient.connect(s.port, { autoAckSettings: false });
      await handshake(c);
      assert.equal(c.peerSettings.get(SettingsId.MAX_CONCURRENT_STREAMS), 100);
      const n = 130;
      for (let i = 0; i < n; i++) c.get(2 * i + 1, `/hold/${i}`);
      await c.waitFor((x) => x.rsts.size >= n - 100, 3000, 'REFUSED_STREAM for the excess').catch(() => null);
      // All admitted streams reach the upstream before any is answered.
      for (let i = 0; i < 60 && (seen.get('/hold') ?? 0) - before < 100; i++) await sleep(50);
      const reached = (seen.get('/hold') ?? 0) - before;
      const refused = [...c.rsts.entries()].filter(([, code]) => code === H2Error.REFUSED_STREAM).map(([id]) => id).sort((a, b) => a - b);
      t.diagnostic(`${refused.length} REFUSED_STREAM (ids ${refused[0]}..${refused.at(-1)}), other RSTs ${c.rsts.size - refused.length}; ${reached} reached the upstream; ${describeGoaway(c)}`);
      assert.deepEqual(refused, Array.from({ length: n - 100 }, (_, i) => 2 * (100 + i) + 1));
      assert.equal(c.rsts.size, n - 100, 'admitted streams were reset');
      assert.equal(reached, 100);
      releaseHeld();
      for (let i = 0; i < 100; i++) {
        const r = await c.response(2 * i + 1, 3000);
        assert.equal(r.status, 200, `stream ${2 * i + 1}: status ${r.status}, rst ${r.rstCode}`);
      }
      c.get(2 * n + 1, '/ok/after-refused');
      assert.equal((await c.response(2 * n + 1, 3000)).status, 200);
      assert.equal(c.goaway, null, describeGoaway(c));
      await c.close();
    });
  });

  it('more streams than max_concurrent_streams (100) after the SETTINGS ACK: GOAWAY and the connection closes', async (t) => {
    await underAttack(t, 'refused-acked', async (s) => {
      const c = await H2RawClient.connect(s.port);
      await handshake(c);
      const n = 130;
      for (let i = 0; i < n; i++) c.get(2 * i + 1, `/hold/acked/${i}`);
      await c.goawayOrClose(3000);
      const closeMs = await closedWithin(c, 3000);
      const codes = new Map<string, number>();
      for (const code of c.rsts.values()) codes.set(errorName(code), (codes.get(errorName(code)) ?? 0) + 1);
      t.diagnostic(`${describeGoaway(c)}, last stream ${c.goaway?.lastStreamId}; RST_STREAM ${JSON.stringify(Object.fromEntries(codes))}; closed=${closeMs !== null}`);
      // nghttp2 treats exceeding an acknowledged limit as a connection error (RFC 9113 §5.1.2 also allows a stream error).
      assert.notEqual(c.goaway, null, `no GOAWAY (closed=${c.isClosed})`);
      assert.notEqual(c.goaway!.errorCode, H2Error.NO_ERROR, describeGoaway(c));
      assert.ok(c.goaway!.lastStreamId <= 199, `streams beyond the limit were accepted (last ${c.goaway!.lastStreamId})`);
      assert.notEqual(closeMs, null, 'the connection stayed open after the GOAWAY');
    });
  });

  it('a 72 KB header list (> max_request_headers_kb 60) before the client ACKs SETTINGS gets 431 (a stream error after it), and the connection keeps working', async (t) => {
    await underAttack(t, 'headers-431', async (s) => {
      const before = seen.get('/attack') ?? 0;
      const c = await H2RawClient.connect(s.port, { autoAckSettings: false });
      await handshake(c);
      const big = Array.from({ length: 8 }, (_, i) => hpack.literal(`x-big-${i}`, Buffer.alloc(9000, 0x61)));
      const block = requestBlock('/attack/headers', big);
      c.framesSent += Math.ceil(block.length / 16_384);
      c.raw(headerFrames(1, block, true));
      const r = await c.response(1, 3000);
      assert.equal(r.status, 431, `status ${r.status}, rst ${r.rstCode}`);
      c.get(3, '/ok/after-431');
      const ok = await c.response(3, 3000);
      assert.equal(ok.status, 200);
      // After the ACK nghttp2 enforces SETTINGS_MAX_HEADER_LIST_SIZE itself: a stream error, no response, no upstream request.
      c.settingsAck();
      c.raw(headerFrames(5, requestBlock('/attack/headers', big), true));
      const acked = await c.response(5, 3000);
      c.get(7, '/ok/after-acked');
      const ok2 = await c.response(7, 3000);
      t.diagnostic(`block ${block.length} bytes before the ACK: status ${r.status}; after the ACK: status ${acked.status}, rst ${acked.rstCode === null ? 'none' : errorName(acked.rstCode)}; ${describeGoaway(c)}`);
      assert.ok(acked.status === 431 || acked.rstCode !== null, `oversized headers after the ACK: status ${acked.status}`);
      assert.equal(ok2.status, 200);
      assert.equal(c.goaway, null, describeGoaway(c));
      assert.equal((seen.get('/attack') ?? 0) - before, 0, 'the oversized request reached the upstream');
      await c.close();
    });
  });

  it('DATA on stream 0 gets GOAWAY PROTOCOL_ERROR and the sidecar closes the connection itself within ~3 s', async (t) => {
    await underAttack(t, 'invalid-frame', async (s) => {
      const active = async (): Promise<number> => (await stats(s))['http.main.downstream_cx_active'] ?? -1;
      const base = await active();
      const c = await H2RawClient.connect(s.port);
      await handshake(c);
      const t0 = performance.now();
      c.data(0, 'x');
      await c.goawayOrClose(2000);
      // The client keeps its socket open: only the sidecar can close it.
      const closeMs = await closedWithin(c, 5000);
      const ms = performance.now() - t0;
      t.diagnostic(`${describeGoaway(c)}; closed by the sidecar ${ms.toFixed(0)} ms after the frame`);
      assert.equal(c.goaway?.errorName, 'PROTOCOL_ERROR', describeGoaway(c));
      assert.notEqual(closeMs, null, 'the sidecar kept the connection open after its GOAWAY (zombie session)');
      // Liveness sweep every 1 s: one with the frame's bytes, one sending a PING, one finding it unanswered.
      assert.ok(ms < 4000, `closed only after ${ms.toFixed(0)} ms`);
      // 20 more that the client drops right after the bad frame: the sidecar's sessions must go too.
      const drop = await Promise.all(Array.from({ length: 20 }, () => H2RawClient.connect(s.port)));
      await Promise.all(drop.map((d) => handshake(d)));
      const peak = await active();
      for (const d of drop) d.data(0, 'x');
      await Promise.all(drop.map((d) => d.goawayOrClose(2000).catch(() => null)));
      await Promise.all(drop.map((d) => d.close()));
      let now = await active();
      for (let i = 0; i < 50 && now > base; i++) {
        await sleep(100);
        now = await active();
      }
      t.diagnostic(`downstream_cx_active ${base} before, ${peak} with the 20 bad connections, ${now} after they were dropped`);
      assert.ok(peak >= base + 20, `downstream_cx_active did not count the connections (${peak})`);
      assert.ok(now <= base, `downstream_cx_active stayed at ${now} (was ${base}): zombie sessions`);
    });
  });
});
