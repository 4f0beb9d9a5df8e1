// Macro benchmark: the same wrk loads against direct, nginx, haproxy, http-proxy and the Tessera
// sidecar (HTTP and TCP modes), one after the other, with one nginx origin shared by all.
// Usage: npm run build && node dist/test/bench/macro/run.js
// Env: CONNECTIONS (50), DURATION (10s), ONLY (comma list of targets), WRK_THREADS (1), WARMUP (2s),
// REPEAT (1: measured runs per target and workload, the median-RPS one is kept),
// PIN (0; 1: the proxy on the last CPU, wrk + origin on the others — on 2 cores that starves the
// load side and made the numbers worse and noisier, hence off by default).
import { readFileSync, writeFileSync } from 'node:fs';
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
import { commandVersion, cpuTicks, httpRequest, processTree, rssKiB, stopProcess, type Proc } from './proc.js';
import {
  addRatios,
  evaluateGoals,
  mergeWithPrevious,
  updateBenchmarksMd,
  writeJson,
  type Report,
  type TargetResult,
  type WorkloadResult,
} from './report.js';
import { ALL_TARGETS, BODY_16K, SMALL_BODY, TCP_TARGETS, startOrigin, startTarget, type Ctx, type TargetName } from './targets.js';
import { runWrk } from './wrk.js';

const RESULTS = path.join(repoRoot, 'test/bench/results/latest.json');

interface Workload {
  readonly name: string;
  readonly path: string;
  readonly script?: string; // wrk lua file name in the temp dir
}

const WORKLOADS: readonly Workload[] = [
  { name: 'get-100b', path: '/small' },
  { name: 'get-16k', path: '/16k' },
  { name: 'post-16k', path: '/post', script: 'post-16k.lua' },
];

function machineInfo(): Report['machine'] {
  return {
    ...baseMachine(),
    haproxy: commandVersion('haproxy', ['-v'])?.replace(/ - https?:.*$/, '').replace('HAProxy version', 'haproxy'),
    wrk: commandVersion('wrk', ['--version'])?.replace(/ Copyright.*$/, ''),
  };
}

/** The responses must be the same through every target, or the comparison means nothing. */
async function sanityCheck(port: number): Promise<void> {
  const checks: [string, string, Buffer | undefined, number][] = [
    ['GET', '/small', undefined, SMALL_BODY.length],
    ['GET', '/16k', undefined, BODY_16K],
    ['POST', '/post', Buffer.alloc(BODY_16K, 'p'), SMALL_BODY.length],
  ];
  for (const [method, p, body, bytes] of checks) {
    const r = await httpRequest(port, p, method, body, 3000);
    if (r.status !== 200 || r.bodyBytes !== bytes) {
      throw new Error(`${method} ${p}: status ${r.status}, ${r.bodyBytes} body bytes (want 200, ${bytes})`);
    }
  }
}

async function benchTarget(name: TargetName, ctx: Ctx, s: Report['settings'], at: string): Promise<TargetResult> {
  const mode = TCP_TARGETS.has(name) ? 'tcp' : 'http';
  let proc: Proc | undefined;
  try {
    const running = await startTarget(name, ctx);
    proc = running.proc;
    await sanityCheck(running.port);
    const pids = (): number[] => (proc ? processTree(proc.pid) : []);
    const idleRssKiB = proc ? rssKiB(pids()) : null;
    const workloads: WorkloadResult[] = [];
    for (const wl of WORKLOADS) {
      const run = {
        url: `http://127.0.0.1:${running.port}${wl.path}`,
        connections: s.connections,
        threads: s.wrkThreads,
        cpus: ctx.loadCpus,
        script: wl.script ? path.join(ctx.dir, wl.script) : undefined,
      };
      if (s.warmupS > 0) await runWrk({ ...run, durationS: s.warmupS });
      const samples: WorkloadResult[] = [];
      for (let i = 0; i < s.repeat; i++) {
        const before = cpuTicks(pids());
        const r = await runWrk({ ...run, durationS: s.durationS });
        const procs = pids(); // after the run: workers that came and went are not in the sum
        const cpuUs = ticksToUs(cpuTicks(procs) - before);
        if (proc?.exitedYet()) throw new Error(`${proc.name} exited during ${wl.name}: ${proc.outputTail()}`);
        samples.push({
          workload: wl.name,
          requests: r.requests,
          rps: r.rps,
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          errors: r.errors,
          cpuUsPerReq: proc && r.requests > 0 ? cpuUs / r.requests : null,
          rssKiB: proc ? rssKiB(procs) : null,
        });
      }
      const w: WorkloadResult = medianRun(samples);
      workloads.push(w);
      console.log(
        `  ${name.padEnd(12)} ${wl.name.padEnd(9)} ${Math.round(w.rps).toString().padStart(7)} rps  p50 ${w.p50Ms.toFixed(2)} ms  p99 ${w.p99Ms.toFixed(2)} ms` +
          `  cpu ${w.cpuUsPerReq?.toFixed(1) ?? '–'} µs/req  errors ${w.errors}`,
      );
    }
    return { target: name, mode, available: true, measuredAt: at, idleRssKiB, workloads };
  } catch (err) {
    const reason = unavailableReason(err, name.padEnd(12));
    return { target: name, mode, available: false, reason, measuredAt: at, idleRssKiB: null, workloads: [] };
  } finally {
    if (proc) await stopProcess(proc);
  }
}

/** REPORT_ONLY=1: rebuild ratios, goals and the BENCHMARKS.md tables from latest.json. */
function reportOnly(): void {
  const report = JSON.parse(readFileSync(RESULTS, 'utf8')) as Report;
  addRatios(report);
  report.goals = evaluateGoals(report);
  writeJson(report, RESULTS);
  updateBenchmarksMd(report, BENCH_MD);
  console.log(`bench: regenerated ${path.relative(repoRoot, BENCH_MD)} from ${path.relative(repoRoot, RESULTS)}`);
}

async function main(): Promise<void> {
  if (process.env.REPORT_ONLY === '1') return reportOnly();
  const machine = machineInfo();
  const settings: Report['settings'] = {
    connections: positiveInt(process.env.CONNECTIONS, 50, 'CONNECTIONS'),
    durationS: seconds(process.env.DURATION, 10),
    warmupS: seconds(process.env.WARMUP, 2),
    wrkThreads: positiveInt(process.env.WRK_THREADS, 1, 'WRK_THREADS'),
    repeat: positiveInt(process.env.REPEAT, 1, 'REPEAT'),
    pinning: cpuPinning(machine.nproc),
    loadavgBefore: loadavg(),
  };
  const { only, targets } = selectTargets(ALL_TARGETS);
  for (const bin of ['wrk', 'nginx']) {
    if (!commandVersion(bin, bin === 'wrk' ? ['--version'] : ['-v'])) {
      throw new Error(`${bin} not found: run \`bash scripts/install-bench-deps.sh\` first`);
    }
  }

  const dir = benchTempDir('tessera-bench-');
  writeFileSync(
    path.join(dir, 'post-16k.lua'),
    `wrk.method = "POST"\nwrk.body = string.rep("p", ${BODY_16K})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`,
  );

  const generatedAt = new Date().toISOString();
  const report: Report = { generatedAt, machine, settings, targets: [] };
  console.log(`bench: ${targets.join(', ')}; ${settings.connections} connections, ${settings.durationS} s (+${settings.warmupS} s warm-up), temp ${dir}`);

  const origin = await startOrigin(dir, settings.pinning?.load);
  try {
    const ctx: Ctx = { dir, repoRoot, originPort: origin.port, proxyCpus: settings.pinning?.proxy, loadCpus: settings.pinning?.load };
    for (const t of targets) {
      report.targets.push(await benchTarget(t, ctx, settings, generatedAt));
      if (origin.proc.exitedYet()) throw new Error(`origin nginx exited: ${origin.proc.outputTail()}`);
    }
  } finally {
    await stopProcess(origin.proc);
  }

  if (only) mergeWithPrevious(report, RESULTS);
  report.targets.sort((a, b) => ALL_TARGETS.indexOf(a.target) - ALL_TARGETS.indexOf(b.target));
  addRatios(report);
  report.goals = evaluateGoals(report);
  writeJson(report, RESULTS);
  updateBenchmarksMd(report, BENCH_MD);
  console.log(`bench: wrote ${path.relative(repoRoot, RESULTS)} and ${path.relative(repoRoot, BENCH_MD)}`);
  for (const g of report.goals) console.log(`  goal: ${g.goal}: ${g.measured} → ${g.status}`);
}

runMain('bench', main);
