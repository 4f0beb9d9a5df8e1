// Probe: how Node 20's node:http2 server (nghttp2 inside) reacts to HTTP/2 flood and abuse patterns.
// Not a test (test/bench is not run by `npm test`). Results feed docs/h2-hardening.md.
//
// Usage: npx tsc -p tsconfig.json --outDir dist-x && node dist-x/test/bench/probe/h2-floods.js
// Env: ONLY (comma list of pattern ids, e.g. "a,c,g1"), CONFIGS (comma list: tessera,tight; default both),
//      BUDGET_MS (per-pattern attack time cap, default 5000), OUT (write the JSON results there).
//
// Three processes per pattern: the node:http2 server (child, IPC: memory/counters), a well-behaved
// node:http2 client (child, IPC: latencies), and this process driving the raw attacker.
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setImmediate as yieldLoop, setTimeout as sleep } from 'node:timers/promises';
import { errorName, FrameType, H2Error, H2RawClient, hpack, type H2RawClientOptions, type HeaderList } from '../../helpers/h2-raw.js';

const SELF = fileURLToPath(import.meta.url);
const BIG_BODY = 1 << 20;

// =============================================================================================
// Server child

interface ServerStats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly cpuMs: number;
  readonly sessions: number;
  readonly sessionsOpen: number;
  readonly streams: number;
  /** Streams the app saw that were not the well-behaved client's (`/good`): the requests a proxy would forward. */
  readonly attackStreams: number;
  readonly streamsOpen: number;
  readonly sessionErrors: Record<string, number>;
  readonly streamErrors: Record<string, number>;
  readonly frameErrors: number;
}

type ServerConfig = http2.ServerOptions & { localWindowSize: number };

function runServer(config: ServerConfig): void {
  const { localWindowSize, ...opts } = config;
  const h2 = http2.createServer(opts);
  const counters = {
    sessions: 0,
    sessionsOpen: 0,
    streams: 0,
    attackStreams: 0,
    streamsOpen: 0,
    sessionErrors: {} as Record<string, number>,
    streamErrors: {} as Record<string, number>,
    frameErrors: 0,
  };
  const bump = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };
  h2.on('session', (s) => {
    counters.sessions++;
    counters.sessionsOpen++;
    s.once('close', () => counters.sessionsOpen--);
    s.on('error', (e: NodeJS.ErrnoException) => bump(counters.sessionErrors, e.code ?? e.message));
    s.on('frameError', () => counters.frameErrors++);
    s.once('connect', () => s.setLocalWindowSize(localWindowSize));
  });
  h2.on('stream', (stream, headers) => {
    counters.streams++;
    counters.streamsOpen++;
    stream.once('close', () => counters.streamsOpen--);
    stream.on('error', (e: NodeJS.ErrnoException) => bump(counters.streamErrors, e.code ?? e.message));
    const path = headers[':path'];
    if (path !== '/good') counters.attackStreams++;
    if (path === '/hold') return; // never answered
    if (path === '/slow') {
      setTimeout(() => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200 });
        stream.end('ok');
      }, 50);
      return;
    }
    if (path === '/big') {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(BIG_BODY, 0x62)); // per stream, as a proxy holds per-stream upstream bytes
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  // As Tessera: a plain net.Server accepts; the http2 server never listens and gets sockets handed over.
  const tcp = net.createServer((socket) => h2.emit('connection', socket));
  tcp.listen(0, '127.0.0.1', () => {
    process.send!({ type: 'ready', port: (tcp.address() as AddressInfo).port });
  });
  const cpu0 = process.cpuUsage();
  process.on('message', (m: { type: string }) => {
    if (m.type === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send!({ type: 'gc-done' });
    } else if (m.type === 'stats') {
      const mu = process.memoryUsage();
      const cu = process.cpuUsage(cpu0);
      const stats: ServerStats = {
        rss: mu.rss,
        heapUsed: mu.heapUsed,
        external: mu.external,
        arrayBuffers: mu.arrayBuffers,
        cpuMs: (cu.user + cu.system) / 1000,
        ...counters,
      };
      process.send!({ type: 'stats', stats });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// =============================================================================================
// Well-behaved client child: one GET at a time on one connection, every 20 ms.

interface GoodSample {
  readonly at: number; // Date.now() when sent
  readonly ms: number; // latency, -1 = error/timeout
}

function runGoodClient(port: number): void {
  const samples: GoodSample[] = [];
  let stop = false;
  let session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const one = (): void => {
    if (stop) return;
    if (session.destroyed || session.closed) {
      session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', () => {});
    }
    const at = Date.now();
    const t0 = performance.now();
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      samples.push({ at, ms: ok ? performance.now() - t0 : -1 });
      setTimeout(one, 20);
    };
    const req = session.request({ ':path': '/good' });
    req.setTimeout(2000, () => {
      req.close(H2Error.CANCEL);
      finish(false);
    });
    req.on('error', () => finish(false));
    req.on('response', () => {});
    req.resume();
    req.on('end', () => finish(true));
    req.end();
  };
  one();
  process.on('message', (m: { type: string }) => {
    if (m.type !== 'stop') return;
    stop = true;
    process.send!({ type: 'samples', samples }, () => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
}

// =============================================================================================
// Orchestrator

interface Child {
  readonly proc: ChildProcess;
  request<T>(msg: { type: string }, reply: string, timeoutMs?: number): Promise<T | null>;
}

function startChild(args: string[], execArgv: string[] = []): Promise<{ child: Child; ready: { port: number } | null }> {
  const proc = fork(SELF, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const child: Child = {
    proc,
    request<T>(msg: { type: string }, reply: string, timeoutMs = 3000): Promise<T | null> {
      return new Promise((resolve) => {
        if (!proc.connected) return resolve(null);
        const t = setTimeout(() => {
          proc.off('message', on);
          resolve(null);
        }, timeoutMs);
        const on = (m: { type: string } & Record<string, unknown>): void => {
          if (m.type !== reply) return;
          clearTimeout(t);
          proc.off('message', on);
          resolve(m as unknown as T);
        };
        proc.on('message', on);
        proc.send(msg);
      });
    },
  };
  return new Promise((resolve) => {
    if (args[0] !== 'server') return resolve({ child, ready: null });
    const t = setTimeout(() => resolve({ child, ready: null }), 5000);
    proc.once('message', (m: { type: string; port: number }) => {
      clearTimeout(t);
      resolve({ child, ready: { port: m.port } });
    });
  });
}

function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      c.proc.kill('SIGKILL');
    }, 2000);
    c.proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    if (c.proc.connected) c.proc.disconnect();
    else c.proc.kill('SIGTERM');
  });
}

function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

interface Ctx {
  readonly budgetMs: number;
  readonly t0: number;
  /** Attacker connections opened by the pattern (beyond the first), closed by the runner. */
  readonly extra: H2RawClient[];
  readonly port: number;
}

interface FloodResult {
  sent: number;
  /** The server stopped reading (our writes stayed blocked for 1 s). */
  blocked: boolean;
}

/**
 * Sends `one(i)` up to `n` times, yielding every 128 frames so received frames get processed; stops at a
 * GOAWAY, close, the time budget, or when the server stops reading.
 */
async function flood(c: H2RawClient, ctx: Ctx, n: number, one: (i: number) => boolean): Promise<FloodResult> {
  const r: FloodResult = { sent: 0, blocked: false };
  for (let i = 0; i < n; i++) {
    if (c.isClosed || c.goaway !== null || performance.now() - ctx.t0 > ctx.budgetMs) break;
    const ok = one(i);
    r.sent++;
    if (!ok) {
      await c.drain(1000);
      if (c.socket.writableNeedDrain && !c.socket.destroyed) {
        r.blocked = true;
        break;
      }
    }
    if ((i & 127) === 127) await yieldLoop();
  }
  return r;
}

const GET = (path: string): HeaderList => [[':method', 'GET'], [':scheme', 'http'], [':authority', 'probe'], [':path', path]];
const POST = (path: string): HeaderList => [[':method', 'POST'], [':scheme', 'http'], [':authority', 'probe'], [':path', path]];

/** A header block split into HEADERS + CONTINUATION frames of at most 16 384 bytes. */
function sendBlock(c: H2RawClient, id: number, block: Buffer, endStream: boolean): boolean {
  const max = 16_384;
  let ok = c.headers(id, block.subarray(0, max), { endStream, endHeaders: block.length <= max });
  for (let off = max; off < block.length; off += max) {
    ok = c.continuation(id, block.subarray(off, off + max), { endHeaders: off + max >= block.length });
  }
  return ok;
}

interface Pattern {
  readonly id: string;
  readonly title: string;
  readonly client?: H2RawClientOptions;
  /** Returns notes (free text) for the report. */
  run(c: H2RawClient, ctx: Ctx): Promise<string>;
}

const note = (r: FloodResult, what: string): string => `${r.sent} ${what} sent${r.blocked ? ', then server stopped reading' : ''}`;

const PATTERNS: readonly Pattern[] = [
  {
    id: 'a',
    title: 'rapid reset: HEADERS+RST_STREAM(CANCEL) x10k (CVE-2023-44487)',
    async run(c, ctx) {
      const r = await flood(c, ctx, 10_000, (i) => {
        c.get(1 + 2 * i, '/slow');
        return c.rst(1 + 2 * i, H2Error.CANCEL);
      });
      return note(r, 'pairs');
    },
  },
  {
    id: 'a2',
    title: 'rapid reset under the burst: 900 HEADERS+RST_STREAM pairs',
    async run(c, ctx) {
      const r = await flood(c, ctx, 900, (i) => {
        c.get(1 + 2 * i, '/slow');
        return c.rst(1 + 2 * i, H2Error.CANCEL);
      });
      await sleep(200);
      c.get(1 + 2 * 900, '/');
      const last = await c.response(1 + 2 * 900, 1000).catch(() => null);
      return `${note(r, 'pairs')}; a request afterwards got ${last?.status ?? 'nothing'}`;
    },
  },
  {
    id: 'b1',
    title: 'CONTINUATION flood: HEADERS w/o END_HEADERS + empty CONTINUATION x100k',
    async run(c, ctx) {
      c.headers(1, GET('/'), { endStream: true, endHeaders: false });
      return note(await flood(c, ctx, 100_000, () => c.continuation(1, Buffer.alloc(0))), 'CONTINUATIONs');
    },
  },
  {
    id: 'b2',
    title: 'CONTINUATION flood: growing header list, 16 KB literal per CONTINUATION x5k',
    async run(c, ctx) {
      c.headers(1, GET('/'), { endStream: true, endHeaders: false });
      const v = 'v'.repeat(16_000);
      return note(await flood(c, ctx, 5000, (i) => c.continuation(1, hpack.literal(`x-f${i}`, v))), 'CONTINUATIONs');
    },
  },
  {
    id: 'b3',
    title: 'CONTINUATION flood: one 60 KB header value split over 1-byte CONTINUATIONs x60k',
    async run(c, ctx) {
      // One literal whose declared value length is 60 000 (under nghttp2's 64 KiB field limit): every
      // CONTINUATION carries one more byte of it.
      const head = Buffer.concat([hpack.block(GET('/')), Buffer.from([0x00]), hpack.str('x-long'), hpack.int(60_000, 7, 0)]);
      c.headers(1, head, { endStream: true, endHeaders: false });
      const one = Buffer.from('v');
      return note(await flood(c, ctx, 60_000, () => c.continuation(1, one)), 'CONTINUATIONs');
    },
  },
  {
    id: 'c',
    title: 'HPACK bomb: 4 KB dynamic-table entry referenced 16k times per block (64 MB decoded), x200 streams',
    async run(c, ctx) {
      const refs = Buffer.alloc(16_000, hpack.indexed(62)[0]!);
      const r = await flood(c, ctx, 200, (i) => {
        const block = Buffer.concat([hpack.block(GET('/')), hpack.literalIndexed('x-bomb', 'a'.repeat(4000)), refs]);
        return sendBlock(c, 1 + 2 * i, block, true);
      });
      await sleep(300);
      return `${note(r, 'bomb blocks')}; 200 answers: ${[...c.streams.values()].filter((s) => s.status === 200).length}`;
    },
  },
  {
    id: 'd1',
    title: 'SETTINGS flood x100k, client never reads (ACKs pile up)',
    client: { read: false },
    async run(c, ctx) {
      return note(await flood(c, ctx, 100_000, () => c.settings({ INITIAL_WINDOW_SIZE: 65_535 })), 'SETTINGS');
    },
  },
  {
    id: 'd2',
    title: 'one SETTINGS frame with 100 entries (> maxSettings)',
    async run(c) {
      const pairs: [number, number][] = Array.from({ length: 100 }, () => [4, 65_535]);
      c.settings(pairs);
      await c.goawayOrClose(1000).catch(() => null);
      return '1 frame';
    },
  },
  {
    id: 'e',
    title: 'PING flood x100k, client never reads (PING ACKs pile up)',
    client: { read: false },
    async run(c, ctx) {
      const p = Buffer.alloc(8);
      return note(await flood(c, ctx, 100_000, () => c.ping(p)), 'PINGs');
    },
  },
  {
    id: 'f',
    title: 'zero-length DATA flood x100k on an open stream (CVE-2019-9518)',
    async run(c, ctx) {
      c.headers(1, POST('/hold'), { endStream: false });
      const empty = Buffer.alloc(0);
      return note(await flood(c, ctx, 100_000, () => c.data(1, empty)), 'empty DATA');
    },
  },
  {
    id: 'g1',
    title: 'zero window slow reader: INITIAL_WINDOW_SIZE 0, 100 streams x 1 MB body, never WINDOW_UPDATE',
    client: { settings: { INITIAL_WINDOW_SIZE: 0 }, autoWindowUpdate: false },
    async run(c, ctx) {
      for (let i = 0; i < 100; i++) c.get(1 + 2 * i, '/big');
      await sleep(Math.min(3000, ctx.budgetMs));
      const heads = [...c.streams.values()].filter((s) => s.status !== null).length;
      return `100 GETs; ${heads} response heads, ${[...c.streams.values()].reduce((a, s) => a + s.dataBytes, 0)} body bytes received; held 3 s`;
    },
  },
  {
    id: 'g2',
    title: 'open window, socket never read: 100 streams x 1 MB body',
    client: { read: false, settings: { INITIAL_WINDOW_SIZE: 0x7fffffff } },
    async run(c, ctx) {
      c.windowUpdate(0, 0x7fffffff - 65_535);
      for (let i = 0; i < 100; i++) c.get(1 + 2 * i, '/big');
      await sleep(Math.min(3000, ctx.budgetMs));
      return '100 GETs; socket never read; held 3 s';
    },
  },
  {
    id: 'g3',
    title: 'zero window slow reader on 10 connections (100 streams x 1 MB each)',
    client: { settings: { INITIAL_WINDOW_SIZE: 0 }, autoWindowUpdate: false },
    async run(c, ctx) {
      const all = [c];
      for (let k = 1; k < 10; k++) {
        const x = await H2RawClient.connect(ctx.port, { settings: { INITIAL_WINDOW_SIZE: 0 }, autoWindowUpdate: false });
        ctx.extra.push(x);
        all.push(x);
      }
      for (const x of all) for (let i = 0; i < 100; i++) x.get(1 + 2 * i, '/big');
      await sleep(Math.min(3000, ctx.budgetMs));
      return '10 connections x 100 GETs /big; held 3 s';
    },
  },
  {
    id: 'h',
    title: 'stream count: 1000 concurrent streams (limit 100), never answered',
    async run(c, ctx) {
      const r = await flood(c, ctx, 1000, (i) => c.get(1 + 2 * i, '/hold'));
      await sleep(300);
      const refused = [...c.rsts.values()].filter((x) => x === H2Error.REFUSED_STREAM).length;
      return `${note(r, 'HEADERS')}; ${refused} RST_STREAM(REFUSED_STREAM)`;
    },
  },
  {
    id: 'i0',
    title: 'header list > maxHeaderListSize (60 KiB): 8 headers x 9 KB, before and after the client ACKs SETTINGS',
    async run(c) {
      const extra: [string, string][] = Array.from({ length: 8 }, (_, k) => [`x-h${k}`, 'v'.repeat(9000)]);
      const block = hpack.block([...GET('/'), ...extra]);
      const outcome = async (id: number): Promise<string> => {
        await c.response(id, 1000).catch(() => null);
        const s = c.stream(id);
        return s.status !== null ? `status ${s.status}` : s.rstCode !== null ? `RST ${errorName(s.rstCode)}` : 'nothing';
      };
      sendBlock(c, 1, block, true); // sent with the preface: the server's SETTINGS are not ACKed yet
      const before = await outcome(1);
      await c.waitFor((x) => x.countOf(FrameType.SETTINGS) >= 2, 1000).catch(() => null); // theirs + ACK of ours; we ACKed theirs
      await sleep(50);
      sendBlock(c, 3, block, true);
      const after = await outcome(3);
      return `before SETTINGS ACK: ${before}; after: ${after}`;
    },
  },
  {
    id: 'i1',
    title: 'one 70 KB header value (> nghttp2 64 KiB per-field limit)',
    async run(c) {
      sendBlock(c, 1, Buffer.concat([hpack.block(GET('/')), hpack.literal('x-big', 'v'.repeat(70_000))]), true);
      await c.response(1, 1000).catch(() => null);
      const s = c.stream(1);
      return `status ${s.status ?? '-'}, rst ${s.rstCode === null ? '-' : errorName(s.rstCode)}`;
    },
  },
  {
    id: 'i2',
    title: 'header list > maxHeaderListSize repeated: 70 KB header on 1000 streams',
    async run(c, ctx) {
      const block = Buffer.concat([hpack.block(GET('/')), hpack.literal('x-big', 'v'.repeat(70_000))]);
      const r = await flood(c, ctx, 1000, (i) => sendBlock(c, 1 + 2 * i, block, true));
      await sleep(300);
      const statuses = new Map<string, number>();
      for (const s of c.streams.values()) {
        const k = s.status !== null ? `status ${s.status}` : s.rstCode !== null ? `rst ${errorName(s.rstCode)}` : 'none';
        statuses.set(k, (statuses.get(k) ?? 0) + 1);
      }
      return `${note(r, 'oversized requests')}; ${[...statuses].map(([k, v]) => `${k} x${v}`).join(', ')}`;
    },
  },
  {
    id: 'i3',
    title: 'too many header pairs: 200 small headers (> maxHeaderListPairs 128)',
    async run(c) {
      const extra: [string, string][] = Array.from({ length: 200 }, (_, k) => [`x-h${k}`, 'v']);
      c.headers(1, [...GET('/'), ...extra], { endStream: true });
      await c.response(1, 1000).catch(() => null);
      const s = c.stream(1);
      return `status ${s.status ?? '-'}, rst ${s.rstCode === null ? '-' : errorName(s.rstCode)}`;
    },
  },
  {
    id: 'j',
    title: 'PRIORITY flood x100k on distinct idle streams',
    async run(c, ctx) {
      return note(
        await flood(c, ctx, 100_000, (i) => c.priority(1 + 2 * i, { dependency: i === 0 ? 0 : 2 * i - 1, weight: 1 + (i % 256) })),
        'PRIORITY',
      );
    },
  },
  {
    id: 'k1',
    title: 'WINDOW_UPDATE flood x100k (connection, increment 1)',
    async run(c, ctx) {
      return note(await flood(c, ctx, 100_000, () => c.windowUpdate(0, 1)), 'WINDOW_UPDATE');
    },
  },
  {
    id: 'k2',
    title: 'WINDOW_UPDATE overflowing the connection window (2^31-1)',
    async run(c) {
      c.windowUpdate(0, 0x7fffffff);
      await c.goawayOrClose(1000).catch(() => null);
      return '1 frame';
    },
  },
  {
    id: 'l1',
    title: 'invalid: DATA on stream 0',
    async run(c) {
      c.data(0, 'x');
      await c.goawayOrClose(1000).catch(() => null);
      return '1 frame';
    },
  },
  {
    id: 'l1x',
    title: 'zombies: 300 connections each sending DATA on stream 0, then closing',
    async run(c, ctx) {
      c.data(0, 'x');
      let n = 1;
      for (; n < 300 && performance.now() - ctx.t0 < ctx.budgetMs; n++) {
        const x = await H2RawClient.connect(ctx.port);
        x.data(0, 'x');
        await x.goawayOrClose(1000).catch(() => null);
        await x.close();
      }
      return `${n} connections, each closed by the client after the GOAWAY`;
    },
  },
  {
    id: 'l2',
    title: 'invalid: HEADERS on an even stream id',
    async run(c) {
      c.get(2, '/');
      await c.goawayOrClose(1000).catch(() => null);
      return '1 frame';
    },
  },
  {
    id: 'l3',
    title: 'invalid: requests with an upper-case header name x10k (stream errors)',
    async run(c, ctx) {
      const r = await flood(c, ctx, 10_000, (i) => c.headers(1 + 2 * i, [...GET('/'), ['X-Upper', 'v']], { endStream: true }));
      return note(r, 'bad requests');
    },
  },
  {
    id: 'l4',
    title: 'unknown frame type 0xfa x100k (must be ignored per RFC)',
    async run(c, ctx) {
      const p = Buffer.alloc(8);
      return note(await flood(c, ctx, 100_000, () => c.frame(0xfa, 0, 0, p)), 'unknown frames');
    },
  },
  {
    id: 'l5',
    title: 'invalid: WINDOW_UPDATE increment 0 on an open stream',
    async run(c) {
      c.headers(1, POST('/hold'), { endStream: false });
      await sleep(50);
      c.windowUpdate(1, 0);
      await c.goawayOrClose(1000).catch(() => null);
      return '1 frame';
    },
  },
];

// ---------------------------------------------------------------------------------------------

interface Latency {
  readonly n: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function latency(samples: readonly GoodSample[], from: number, to: number): Latency {
  const inWin = samples.filter((s) => s.at >= from && s.at <= to);
  const ok = inWin.filter((s) => s.ms >= 0).map((s) => s.ms).sort((a, b) => a - b);
  const q = (p: number): number => (ok.length === 0 ? NaN : ok[Math.min(ok.length - 1, Math.floor(p * ok.length))]!);
  return { n: inWin.length, errors: inWin.length - ok.length, p50: q(0.5), p99: q(0.99), max: ok.length ? ok[ok.length - 1]! : NaN };
}

interface PatternResult {
  readonly config: string;
  readonly id: string;
  readonly title: string;
  readonly notes: string;
  readonly framesSent: number;
  readonly bytesSent: number;
  readonly attackMs: number;
  readonly goaway: string | null;
  readonly goawayAtFrames: number | null;
  readonly goawayAtMs: number | null;
  readonly goawayDebug: string | null;
  readonly rsts: Record<string, number>;
  readonly closedByServer: boolean;
  readonly closedAtMs: number | null;
  /** Frames of each type received (attacker connection). */
  readonly received: Record<string, number>;
  readonly rssBaseMiB: number;
  readonly rssPeakMiB: number;
  readonly rssAfterGcMiB: number;
  readonly serverCpuMs: number;
  readonly server: ServerStats | null;
  /** Server sessions still open 1 s after the attacker's socket was destroyed (should be 1: the good client). */
  readonly sessionsOpenAfterClose: number | null;
  /** The attacker's server session outlived the attacker's socket by 1 s (a leaked session + socket). */
  readonly zombie: boolean;
  /** Server file descriptors 1 s after the attacker closed (baseline is about 20). */
  readonly fdsAfterClose: number;
  readonly baseline: Latency;
  readonly during: Latency;
}

const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

async function runPattern(configName: string, config: ServerConfig, p: Pattern, budgetMs: number): Promise<PatternResult> {
  const { child: server, ready } = await startChild(['server', JSON.stringify(config)], ['--expose-gc']);
  if (ready === null) throw new Error('server child did not start');
  const port = ready.port;
  const pid = server.proc.pid!;
  const { child: good } = await startChild(['good', String(port)]);
  await sleep(600); // good-client baseline
  await server.request({ type: 'gc' }, 'gc-done');
  const rssBase = procStatusKiB(pid, 'VmRSS');
  const cpuBefore = (await server.request<{ stats: ServerStats }>({ type: 'stats' }, 'stats'))?.stats.cpuMs ?? 0;

  let peak = rssBase;
  const sampler = setInterval(() => {
    peak = Math.max(peak, procStatusKiB(pid, 'VmRSS'));
  }, 50);
  const attackFrom = Date.now();
  const c = await H2RawClient.connect(port, p.client ?? {});
  const ctx: Ctx = { budgetMs, t0: performance.now(), extra: [], port };
  let notes: string;
  try {
    notes = await p.run(c, ctx);
  } catch (err) {
    notes = `attacker error: ${(err as Error).message}`;
  }
  // Let the server react, then read whatever it sent (also for clients that did not read).
  await c.waitFor((x) => x.goaway !== null || x.isClosed, 500).catch(() => null);
  if (!c.isClosed) {
    c.resume();
    await c.waitFor((x) => x.isClosed, 700).catch(() => null);
  }
  const attackTo = Date.now() + 300;
  await sleep(300); // the good client's window extends past the attack a little
  const attackMs = performance.now() - ctx.t0;
  const stats = (await server.request<{ stats: ServerStats }>({ type: 'stats' }, 'stats', 5000))?.stats ?? null;
  peak = Math.max(peak, procStatusKiB(pid, 'VmHWM'));
  clearInterval(sampler);
  const closedByServer = c.isClosed;
  const closedAtMs = c.closedAtMs;
  await c.close();
  for (const x of ctx.extra) await x.close();
  await sleep(1000);
  const after = (await server.request<{ stats: ServerStats }>({ type: 'stats' }, 'stats', 5000))?.stats ?? null;
  let fdsAfterClose = -1;
  try {
    fdsAfterClose = readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    // not Linux
  }
  await server.request({ type: 'gc' }, 'gc-done', 5000);
  const rssAfter = procStatusKiB(pid, 'VmRSS');
  const samples = (await good.request<{ samples: GoodSample[] }>({ type: 'stop' }, 'samples', 5000))?.samples ?? [];
  await stopChild(good);
  await stopChild(server);

  const rsts: Record<string, number> = {};
  for (const code of c.rsts.values()) rsts[errorName(code)] = (rsts[errorName(code)] ?? 0) + 1;
  const received: Record<string, number> = {};
  for (const [t, n] of c.counts) received[Object.keys(FrameType).find((k) => (FrameType as Record<string, number>)[k] === t) ?? String(t)] = n;
  return {
    config: configName,
    id: p.id,
    title: p.title,
    notes,
    framesSent: c.framesSent,
    bytesSent: c.bytesSent,
    attackMs: Math.round(attackMs),
    goaway: c.goaway ? c.goaway.errorName : null,
    goawayAtFrames: c.goaway ? c.goaway.atFramesSent : null,
    goawayAtMs: c.goaway ? Math.round(c.goaway.atMs) : null,
    goawayDebug: c.goaway ? c.goaway.debug : null,
    rsts,
    closedByServer,
    closedAtMs: closedAtMs === null ? null : Math.round(closedAtMs),
    received,
    rssBaseMiB: mib(rssBase),
    rssPeakMiB: mib(peak),
    rssAfterGcMiB: mib(rssAfter),
    serverCpuMs: stats ? Math.round(stats.cpuMs - cpuBefore) : -1,
    server: stats,
    sessionsOpenAfterClose: after ? after.sessionsOpen : null,
    zombie: after !== null && after.sessionsOpen > 1, // 1 = the good client
    fdsAfterClose,
    baseline: latency(samples, 0, attackFrom),
    during: latency(samples, attackFrom, attackTo),
  };
}

const TESSERA_SETTINGS: http2.Settings = { maxConcurrentStreams: 100, initialWindowSize: 65_536, maxHeaderListSize: 60 * 1024 };

const CONFIGS: Record<string, ServerConfig> = {
  // As Tessera's downstream is planned; limits at node:http2's defaults, written out.
  tessera: {
    settings: TESSERA_SETTINGS,
    localWindowSize: 1 << 20,
    maxSessionMemory: 10,
    maxHeaderListPairs: 128,
    maxSessionInvalidFrames: 1000,
    maxSessionRejectedStreams: 100,
    maxOutstandingPings: 10,
    maxSettings: 32,
  },
  // Tighter limits, to see which knobs move the numbers.
  tight: {
    settings: TESSERA_SETTINGS,
    localWindowSize: 1 << 20,
    maxSessionMemory: 2,
    maxHeaderListPairs: 64,
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 20,
    maxOutstandingPings: 2,
    maxSettings: 8,
  },
};

function fmtLat(l: Latency): string {
  if (l.n === 0) return 'no samples';
  const f = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(1));
  return `p50 ${f(l.p50)} / p99 ${f(l.p99)} / max ${f(l.max)} ms, ${l.errors}/${l.n} failed`;
}

function reaction(r: PatternResult): string {
  const parts: string[] = [];
  if (r.goaway) parts.push(`GOAWAY ${r.goaway} after ${r.goawayAtFrames} frames / ${r.goawayAtMs} ms${r.goawayDebug ? ` ("${r.goawayDebug}")` : ''}`);
  const rst = Object.entries(r.rsts).map(([k, v]) => `RST ${k} x${v}`);
  if (rst.length) parts.push(rst.join(', '));
  parts.push(r.closedByServer ? `closed at ${r.closedAtMs} ms` : 'connection left open');
  return parts.join('; ');
}

async function main(): Promise<void> {
  const only = process.env['ONLY']?.split(',').map((s) => s.trim()).filter(Boolean) ?? null;
  const configs = (process.env['CONFIGS'] ?? 'tessera,tight').split(',').map((s) => s.trim());
  const budgetMs = Number(process.env['BUDGET_MS'] ?? 5000);
  const results: PatternResult[] = [];
  console.error(`node ${process.versions.node}, nghttp2 ${process.versions.nghttp2}`);
  for (const name of configs) {
    const config = CONFIGS[name];
    if (!config) throw new Error(`unknown config ${name}`);
    for (const p of PATTERNS) {
      if (only && !only.includes(p.id)) continue;
      const r = await runPattern(name, config, p, budgetMs);
      results.push(r);
      console.error(
        `[${name}] ${p.id} ${p.title}\n    sent ${r.framesSent} frames (${(r.bytesSent / 1e6).toFixed(1)} MB) in ${r.attackMs} ms: ${r.notes}` +
          `\n    reaction: ${reaction(r)}\n    received: ${JSON.stringify(r.received)}` +
          `\n    server rss ${r.rssBaseMiB} -> peak ${r.rssPeakMiB} -> after gc ${r.rssAfterGcMiB} MiB, cpu ${r.serverCpuMs} ms, attacker streams seen by the app ${r.server?.attackStreams ?? '?'}` +
          `, session errors ${JSON.stringify(r.server?.sessionErrors ?? {})}, stream errors ${JSON.stringify(r.server?.streamErrors ?? {})}, zombie session ${r.zombie ? `YES (${r.sessionsOpenAfterClose! - 1})` : 'no'}, server fds ${r.fdsAfterClose}` +
          `\n    good client: before ${fmtLat(r.baseline)}; during ${fmtLat(r.during)}`,
      );
    }
  }
  console.error('\n| config | id | pattern | reaction | frames sent | app streams | rss base->peak MiB | server cpu ms | zombie | good client during |');
  console.error('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.error(
      `| ${r.config} | ${r.id} | ${r.title} | ${reaction(r)} | ${r.framesSent} | ${r.server?.attackStreams ?? '?'} | ${r.rssBaseMiB}->${r.rssPeakMiB} | ${r.serverCpuMs} | ${r.zombie ? 'YES' : 'no'} | ${fmtLat(r.during)} |`,
    );
  }
  const out = { node: process.versions.node, nghttp2: process.versions.nghttp2, budgetMs, results };
  if (process.env['OUT']) writeFileSync(process.env['OUT'], JSON.stringify(out, null, 2));
  else process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

const mode = process.argv[2];
if (mode === 'server') runServer(JSON.parse(process.argv[3]!) as ServerConfig);
else if (mode === 'good') runGoodClient(Number(process.argv[3]));
else
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
