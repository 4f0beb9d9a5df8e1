// Macro benchmark, HTTP/2 + gRPC: the same h2load loads against direct, nginx and the Tessera sidecar,
// h2c downstream; HTTP/1.1 upstream to an nginx origin (h2) and h2c upstream to a grpc-js origin (gRPC).
// Usage: npm run build && node dist/test/bench/macro/h2-run.js
// Env: CLIENTS (10 connections), STREAMS (10 concurrent streams per connection), DURATION (10s), WARMUP (2s),
// REPEAT (1: measured runs per target and workload, the median-RPS one is kept), H2LOAD_THREADS (1),
// ONLY (comma list of targets), PIN (0; 1: proxy on the last CPU, h2load + origins on the others),
// REPORT_ONLY (1: only regenerate the tables from h2-latest.json).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  BENCH_MD,
  baseMachine,
  benchTempDir,
  cpuPinning,
  loadavg,
  medianRun,
  positiveInt,
  repoRoot,
  runMain,
  seconds,
  selectTargets,
  ticksToUs,
  unavailableReason,
} from './common.js';
import { runH2Load } from './h2-load.js';
import {
  addH2Ratios,
  evaluateH2Goals,
  updateBenchmarksMdH2,
  type H2Kind,
  type H2Report,
  type H2TargetResult,
  type H2WorkloadResult,
} from './h2-report.js';
import {
  ECHO_PATH,
  GRPC_HEADERS,
  GRPC_PAYLOAD_100B,
  GRPC_TARGETS,
  H2_TARGETS,
  grpcFrame,
  grpcStatus,
  h2Request,
  originGrpcCalls,
  startGrpcOrigin,
  startH2Origin,
  startH2Target,
  type H2Ctx,
  type H2Origin,
  type H2TargetName,
} from './h2-targets.js';
import { commandVersion, cpuTicks, processTree, rssKiB, stopProcess, type Proc } from './proc.js';
import { mergeWithPrevious, writeJson } from './report.js';
import { BODY_16K, SMALL_BODY } from './targets.js';

const RESULTS = path.join(repoRoot, 'test/bench/results/h2-latest.json');

interface H2Workload {
  readonly name: string;
  readonly path: string;
  readonly dataFile?: string; // file name in the temp dir; makes h2load POST it
  readonly headers?: readonly string[];
}

const H2_WORKLOADS: readonly H2Workload[] = [
  { name: 'get-100b', path: '/small' },
  { name: 'get-16k', path: '/16k' },
  { name: 'post-16k', path: '/post', dataFile: 'post-16k.bin', headers: ['content-type: application/octet-stream'] },
];
const GRPC_WORKLOADS: readonly H2Workload[] = [{ name: 'grpc-unary-100b', path: ECHO_PATH, dataFile: 'grpc-100b.bin', headers: GRPC_HEADERS }];

const GRPC_CALL_HEADERS = { 'content-type': 'application/grpc', te: 'trailers' };
const GRPC_REQUEST = grpcFrame(GRPC_PAYLOAD_100B);

const kindOf = (t: H2TargetName): H2Kind => (GRPC_TARGETS.has(t) ? 'grpc' : 'h2');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function machineInfo(): H2Report['machine'] {
  let grpcJs: string | undefined;
  try {
    const require = createRequire(import.meta.url);
    grpcJs = (JSON.parse(readFileSync(require.resolve('@grpc/grpc-js/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    /* not resolvable */
  }
  return {
    ...baseMachine(),
    h2load: commandVersion('h2load', ['--version']),
    grpcJs,
  };
}

/** The responses must be the same through every target, or the comparison means nothing. */
async function sanityCheck(kind: H2Kind, port: number): Promise<void> {
  if (kind === 'grpc') {
    const r = await h2Request(port, ECHO_PATH, 'POST', GRPC_REQUEST, GRPC_CALL_HEADERS, 3000);
    const gs = grpcStatus(r);
    if (r.status !== 200 || gs !== '0' || !r.body.equals(GRPC_REQUEST)) {
      const msg = r.trailers['grpc-message'] ?? r.headers['grpc-message'] ?? '';
      throw new Error(`gRPC Echo: status ${r.status}, grpc-status ${gs ?? 'missing'} ${String(msg)}, ${r.body.length} body bytes (want 200, 0, the ${GRPC_REQUEST.length} bytes sent)`);
    }
    return;
  }
  const checks: [string, string, Buffer | undefined, number][] = [
    ['GET', '/small', undefined, SMALL_BODY.length],
    ['GET', '/16k', undefined, BODY_16K],
    ['POST', '/post', Buffer.alloc(BODY_16K, 'p'), SMALL_BODY.length],
  ];
  for (const [method, p, body, bytes] of checks) {
    const r = await h2Request(port, p, method, body, body ? { 'content-type': 'application/octet-stream' } : {}, 3000);
    if (r.status !== 200 || r.body.length !== bytes) {
      throw new Error(`h2 ${method} ${p}: status ${r.status}, ${r.body.length} body bytes (want 200, ${bytes})`);
    }
  }
}

/** A proxy may accept before it has its config: retry the first check for a while. */
async function sanityCheckWithRetry(kind: H2Kind, port: number, proc: Proc | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await sanityCheck(kind, port);
    } catch (err) {
      if (proc?.exitedYet()) throw new Error(`${proc.name} exited: ${proc.outputTail()}`);
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

interface Origins {
  readonly h2: H2Origin;
  readonly grpc: { port: number; proc: Proc } | undefined;
}

async function benchTarget(name: H2TargetName, ctx: H2Ctx, origins: Origins, s: H2Report['settings'], at: string): Promise<H2TargetResult> {
  const kind = kindOf(name);
  let proc: Proc | undefined;
  try {
    const running = await startH2Target(name, ctx);
    proc = running.proc;
    await sanityCheckWithRetry(kind, running.port, proc, 10_000);
    const pids = (): number[] => (proc ? processTree(proc.pid) : []);
    const originProc = kind === 'grpc' ? origins.grpc?.proc : origins.h2.proc;
    const originPids = (): number[] => (originProc ? processTree(originProc.pid) : []);
    const idleRssKiB = proc ? rssKiB(pids()) : null;
    const workloads: H2WorkloadResult[] = [];
    for (const wl of kind === 'grpc' ? GRPC_WORKLOADS : H2_WORKLOADS) {
      const run = {
        url: `http://127.0.0.1:${running.port}${wl.path}`,
        clients: s.clients,
        streams: s.streams,
        threads: s.threads,
        cpus: ctx.loadCpus,
        dataFile: wl.dataFile ? path.join(ctx.dir, wl.dataFile) : undefined,
        headers: wl.headers,
        logFile: path.join(ctx.dir, 'h2load-requests.log'),
      };
      if (s.warmupS > 0) await runH2Load({ ...run, durationS: s.warmupS });
      const samples: H2WorkloadResult[] = [];
      for (let i = 0; i < s.repeat; i++) {
        const callsBefore = kind === 'grpc' ? await originGrpcCalls(ctx.grpcPort) : 0;
        const before = cpuTicks(pids());
        const originBefore = cpuTicks(originPids());
        const r = await runH2Load({ ...run, durationS: s.durationS });
        const procs = pids();
        const cpuUs = ticksToUs(cpuTicks(procs) - before);
        const originCpuUs = ticksToUs(cpuTicks(originPids()) - originBefore);
        if (proc?.exitedYet()) throw new Error(`${proc.name} exited during ${wl.name}: ${proc.outputTail()}`);
        if (r.protocol !== 'h2c') throw new Error(`h2load negotiated "${r.protocol}", not h2c`);
        // gRPC failures come back as HTTP 200: count the calls the origin did not see as errors.
        const originCalls = kind === 'grpc' ? (await originGrpcCalls(ctx.grpcPort)) - callsBefore : null;
        const missing = originCalls === null ? 0 : Math.max(0, r.succeeded - originCalls);
        samples.push({
          workload: wl.name,
          requests: r.requests,
          rps: r.rps,
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          errors: r.errors + missing,
          cpuUsPerReq: proc && r.requests > 0 ? cpuUs / r.requests : null,
          originCpuUsPerReq: r.requests > 0 ? originCpuUs / r.requests : null,
          rssKiB: proc ? rssKiB(procs) : null,
          originCalls,
        });
      }
      const w: H2WorkloadResult = medianRun(samples);
      workloads.push(w);
      console.log(
        `  ${name.padEnd(13)} ${wl.name.padEnd(16)} ${Math.round(w.rps).toString().padStart(7)} rps  p50 ${w.p50Ms.toFixed(2)} ms  p99 ${w.p99Ms.toFixed(2)} ms` +
          `  cpu ${w.cpuUsPerReq?.toFixed(1) ?? '–'} µs/req (origin ${w.originCpuUsPerReq?.toFixed(1) ?? '–'})  errors ${w.errors}` +
          (w.originCalls !== null ? `  origin calls ${w.originCalls}` : ''),
      );
    }
    // Still answering correctly after the load (a proxy that broke mid-run shows up here).
    await sanityCheck(kind, running.port);
    return { target: name, kind, available: true, measuredAt: at, idleRssKiB, workloads };
  } catch (err) {
    const reason = unavailableReason(err, name.padEnd(13));
    return { target: name, kind, available: false, reason, measuredAt: at, idleRssKiB: null, workloads: [] };
  } finally {
    if (proc) await stopProcess(proc);
  }
}

function finish(report: H2Report): void {
  report.targets.sort((a, b) => H2_TARGETS.indexOf(a.target) - H2_TARGETS.indexOf(b.target));
  addH2Ratios(report);
  report.goals = evaluateH2Goals(report);
  writeJson(report, RESULTS);
  updateBenchmarksMdH2(report, BENCH_MD);
}

async function main(): Promise<void> {
  if (process.env.REPORT_ONLY === '1') {
    finish(JSON.parse(readFileSync(RESULTS, 'utf8')) as H2Report);
    console.log(`bench-h2: regenerated ${path.relative(repoRoot, BENCH_MD)} from ${path.relative(repoRoot, RESULTS)}`);
    return;
  }
  const machine = machineInfo();
  const settings: H2Report['settings'] = {
    clients: positiveInt(process.env.CLIENTS, 10, 'CLIENTS'),
    streams: positiveInt(process.env.STREAMS, 10, 'STREAMS'),
    threads: positiveInt(process.env.H2LOAD_THREADS, 1, 'H2LOAD_THREADS'),
    durationS: seconds(process.env.DURATION, 10),
    warmupS: seconds(process.env.WARMUP, 2),
    repeat: positiveInt(process.env.REPEAT, 1, 'REPEAT'),
    pinning: cpuPinning(machine.nproc),
    loadavgBefore: loadavg(),
  };
  const { only, targets } = selectTargets(H2_TARGETS);
  if (!machine.h2load) throw new Error('h2load not found: run `bash scripts/install-bench-deps.sh` first');
  if (!machine.nginx) throw new Error('nginx not found: run `bash scripts/install-bench-deps.sh` first');

  const dir = benchTempDir('tessera-bench-h2-');
  writeFileSync(path.join(dir, 'post-16k.bin'), Buffer.alloc(BODY_16K, 'p'));
  writeFileSync(path.join(dir, 'grpc-100b.bin'), GRPC_REQUEST);

  const generatedAt = new Date().toISOString();
  const report: H2Report = { generatedAt, machine, settings, notes: [], targets: [] };
  console.log(
    `bench-h2: ${targets.join(', ')}; ${settings.clients} connections × ${settings.streams} streams, ` +
      `${settings.durationS} s (+${settings.warmupS} s warm-up), temp ${dir}`,
  );

  const needGrpc = targets.some((t) => GRPC_TARGETS.has(t));
  const h2 = await startH2Origin(dir, settings.pinning?.load);
  if (h2.note) {
    report.notes.push(h2.note);
    console.log(`  note: ${h2.note}`);
  }
  let grpc: Origins['grpc'];
  try {
    grpc = needGrpc ? await startGrpcOrigin(settings.pinning?.load) : undefined;
    const ctx: H2Ctx = {
      dir,
      repoRoot,
      originH1Port: h2.h1Port,
      originH2Port: h2.h2Port,
      grpcPort: grpc?.port ?? 0,
      proxyCpus: settings.pinning?.proxy,
      loadCpus: settings.pinning?.load,
    };
    for (const t of targets) {
      report.targets.push(await benchTarget(t, ctx, { h2, grpc }, settings, generatedAt));
      if (h2.proc.exitedYet()) throw new Error(`origin nginx exited: ${h2.proc.outputTail()}`);
      if (grpc?.proc.exitedYet()) throw new Error(`grpc origin exited: ${grpc.proc.outputTail()}`);
    }
  } finally {
    if (grpc) await stopProcess(grpc.proc);
    await stopProcess(h2.proc);
  }

  if (only) mergeWithPrevious(report, RESULTS);
  finish(report);
  console.log(`bench-h2: wrote ${path.relative(repoRoot, RESULTS)} and ${path.relative(repoRoot, BENCH_MD)}`);
  for (const g of report.goals ?? []) console.log(`  goal: ${g.goal}: ${g.measured} → ${g.status}`);
}

runMain('bench-h2', main);
