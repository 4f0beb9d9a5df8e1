// Results of a macro run: ratios, the project's goals, latest.json, and the tables in BENCHMARKS.md;
// also the JSON and markdown pieces h2-report.ts shares (merge, write, number formats, table rows).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TargetName } from './targets.js';

/** One workload through one target, as both harnesses record it. */
export interface MeasuredWorkload {
  readonly workload: string;
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Proxy utime+stime over the measured run / requests; null for the direct targets. */
  readonly cpuUsPerReq: number | null;
  /** Proxy VmRSS after the run (KiB); null for the direct targets. */
  readonly rssKiB: number | null;
  /** RPS of every measured run (REPEAT); the fields above are from the median one. */
  readonly rpsRuns?: number[];
}

/** One target's results, as both harnesses record them. */
export interface MeasuredTarget<N extends string, W> {
  readonly target: N;
  readonly available: boolean;
  readonly reason?: string;
  readonly measuredAt: string;
  readonly idleRssKiB: number | null;
  readonly workloads: W[];
}

export interface WorkloadResult extends MeasuredWorkload {
  ratios?: { rpsVsDirect: number | null; rpsVsBaseline: number | null; cpuVsBaseline: number | null };
}

export interface TargetResult extends MeasuredTarget<TargetName, WorkloadResult> {
  readonly mode: 'http' | 'tcp';
}

/** What both harnesses record about the machine (common.ts#baseMachine). */
export interface BaseMachine {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly node: string;
  readonly nginx?: string;
}

export interface Machine extends BaseMachine {
  readonly haproxy?: string;
  readonly wrk?: string;
}

/** taskset CPU lists: the proxy under test, and the load side. */
export interface Pinning {
  readonly proxy: string;
  readonly load: string;
}

export interface Settings {
  readonly connections: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly wrkThreads: number;
  readonly repeat: number;
  /** null when not pinned (PIN=0, one core, or no taskset). */
  readonly pinning: Pinning | null;
  /** /proc/loadavg before the run: a busy machine makes the numbers noisy. */
  readonly loadavgBefore: string;
}

export interface Report {
  readonly generatedAt: string;
  readonly machine: Machine;
  readonly settings: Settings;
  targets: TargetResult[];
  goals?: Goal[];
}

export interface Goal {
  readonly goal: string;
  readonly measured: string;
  readonly status: 'met' | 'not met' | 'n/a';
}

/** Baseline for the "× nginx" columns: nginx for HTTP targets, haproxy-tcp for TCP targets. */
const baselineOf = (mode: 'http' | 'tcp'): TargetName => (mode === 'http' ? 'nginx' : 'haproxy-tcp');

function find(report: Report, target: TargetName, workload: string): WorkloadResult | undefined {
  const t = report.targets.find((x) => x.target === target && x.available);
  return t?.workloads.find((w) => w.workload === workload);
}

export const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a == null || b == null || b === 0 ? null : a / b;

export function addRatios(report: Report): void {
  for (const t of report.targets) {
    for (const w of t.workloads) {
      const direct = find(report, 'direct', w.workload);
      const base = find(report, baselineOf(t.mode), w.workload);
      w.ratios = {
        rpsVsDirect: ratio(w.rps, direct?.rps),
        rpsVsBaseline: ratio(w.rps, base?.rps),
        cpuVsBaseline: ratio(w.cpuUsPerReq, base?.cpuUsPerReq),
      };
    }
  }
}

/** Worst case over the workloads both targets ran: min (or max) of a/b. */
function worst(report: Report, a: TargetName, b: TargetName, pick: (w: WorkloadResult) => number | null, useMax: boolean): { v: number; workload: string } | undefined {
  const ta = report.targets.find((x) => x.target === a && x.available);
  let best: { v: number; workload: string } | undefined;
  for (const w of ta?.workloads ?? []) {
    const other = find(report, b, w.workload);
    const r = ratio(pick(w), other ? pick(other) : null);
    if (r == null) continue;
    if (!best || (useMax ? r > best.v : r < best.v)) best = { v: r, workload: w.workload };
  }
  return best;
}

export function evaluateGoals(report: Report): Goal[] {
  const status = (ok: boolean | undefined): Goal['status'] => (ok === undefined ? 'n/a' : ok ? 'met' : 'not met');
  const why = (t: TargetName, peer: TargetName): string => {
    const missing = [t, peer].filter((n) => !report.targets.some((x) => x.target === n && x.available));
    return missing.length > 0 ? `n/a (${missing.join(', ')} unavailable)` : 'n/a';
  };
  const fmtRatio = (r: { v: number; workload: string } | undefined, t: TargetName, peer: TargetName): string =>
    r ? `${r.v.toFixed(2)}× (worst: ${r.workload})` : why(t, peer);

  const rps = worst(report, 'tessera', 'http-proxy', (w) => w.rps, false);
  const cpu = worst(report, 'tessera', 'nginx', (w) => w.cpuUsPerReq, true);
  const tcp = worst(report, 'tessera-tcp', 'haproxy-tcp', (w) => w.rps, false);
  const idle = report.targets
    .filter((t) => (t.target === 'tessera' || t.target === 'tessera-tcp') && t.available && t.idleRssKiB != null)
    .map((t) => t.idleRssKiB as number);
  const idleMax = idle.length > 0 ? Math.max(...idle) : undefined;

  return [
    { goal: 'Tessera HTTP/1.1 RPS ≥ 2× http-proxy', measured: fmtRatio(rps, 'tessera', 'http-proxy'), status: status(rps && rps.v >= 2) },
    { goal: 'Tessera CPU per request ≤ 2× nginx', measured: fmtRatio(cpu, 'tessera', 'nginx'), status: status(cpu && cpu.v <= 2) },
    {
      goal: 'Sidecar idle RSS ≤ 80 MB',
      measured: idleMax === undefined ? 'n/a (tessera unavailable)' : `${(idleMax / 1024).toFixed(1)} MiB`,
      status: status(idleMax === undefined ? undefined : idleMax <= 80 * 1024),
    },
    { goal: 'Tessera TCP throughput ≥ 0.9× HAProxy tcp', measured: fmtRatio(tcp, 'tessera-tcp', 'haproxy-tcp'), status: status(tcp && tcp.v >= 0.9) },
  ];
}

/** Keeps results of targets that this run did not measure (a run with ONLY=...). */
export function mergeWithPrevious<R extends { targets: { readonly target: string }[] }>(report: R, file: string): void {
  if (!existsSync(file)) return;
  try {
    const prev = JSON.parse(readFileSync(file, 'utf8')) as R;
    const ran = new Set(report.targets.map((t) => t.target));
    const kept = prev.targets.filter((t) => !ran.has(t.target));
    report.targets = [...report.targets, ...kept];
  } catch {
    /* unreadable: start fresh */
  }
}

export function writeJson(report: object, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

// ---- markdown -------------------------------------------------------------------------

export const f0 = (n: number | null | undefined): string => (n == null ? '–' : Math.round(n).toLocaleString('en-US'));
export const f2 = (n: number | null | undefined): string => (n == null || Number.isNaN(n) ? '–' : n.toFixed(2));
export const fx = (n: number | null | undefined): string => (n == null ? '–' : `${n.toFixed(2)}×`);
const mib = (kib: number | null | undefined): string => (kib == null ? '–' : (kib / 1024).toFixed(1));
const oneLine = (s: string): string => s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 300);

/** RPS with, for REPEAT > 1, the range of the runs in brackets. */
export function rpsCell(w: { readonly rps: number; readonly rpsRuns?: number[] }): string {
  const runs = w.rpsRuns ?? [];
  if (runs.length < 2) return f0(w.rps);
  const k = (n: number): string => (n < 1000 ? String(n) : `${(n / 1000).toFixed(1)}k`);
  return `${f0(w.rps)} (${k(Math.min(...runs))}–${k(Math.max(...runs))})`;
}

/**
 * A results table: per workload, one row per available target of `order` (workload, target, † when carried over,
 * then `cells(w, rss)`, where `rss` is the "idle → loaded" cell, '–' for `direct`); then one row per unavailable target.
 */
export function resultsTable<W extends MeasuredWorkload>(
  report: { readonly generatedAt: string; readonly targets: readonly MeasuredTarget<string, W>[] },
  order: readonly string[],
  direct: string,
  columns: readonly string[],
  cells: (w: W, rss: string) => readonly (string | number)[],
): string {
  const rows = [`| ${columns.join(' | ')} |`, `|${'---|'.repeat(columns.length)}`];
  const targets = order
    .map((n) => report.targets.find((t) => t.target === n))
    .filter((t): t is MeasuredTarget<string, W> => t !== undefined);
  const workloads = [...new Set(targets.flatMap((t) => t.workloads.map((w) => w.workload)))];
  for (const wl of workloads) {
    for (const t of targets) {
      const w = t.workloads.find((x) => x.workload === wl);
      if (!t.available || !w) continue;
      const carried = t.measuredAt !== report.generatedAt ? ' †' : '';
      const rss = t.target === direct ? '–' : `${mib(t.idleRssKiB)} → ${mib(w.rssKiB)}`;
      rows.push(`| ${wl} | ${t.target}${carried} | ${cells(w, rss).join(' | ')} |`);
    }
  }
  for (const t of targets) {
    if (!t.available) rows.push(`| all | ${t.target} | unavailable: ${oneLine(t.reason ?? 'unknown')} |${' |'.repeat(columns.length - 3)}`);
  }
  return rows.join('\n');
}

/** The "† carried over" line (and a blank one) when some targets' results come from an earlier run. */
export function carriedOverLines(report: { readonly generatedAt: string; readonly targets: readonly MeasuredTarget<string, unknown>[] }): string[] {
  const carried = report.targets.filter((t) => t.measuredAt !== report.generatedAt);
  return carried.length > 0
    ? [`† carried over from an earlier run (${carried.map((t) => `${t.target}: ${t.measuredAt}`).join(', ')}).`, '']
    : [];
}

export function goalsTableLines(goals: readonly Goal[]): string[] {
  return ['| goal | measured | status |', '|---|---|---|', ...goals.map((g) => `| ${g.goal} | ${g.measured} | ${g.status} |`)];
}

/** `text` with what lies between `begin` and `end` (markers included) replaced by `section`; null without both markers. */
export function replaceSection(text: string, begin: string, end: string, section: string): string | null {
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  return a >= 0 && b > a ? `${text.slice(0, a)}${section}${text.slice(b + end.length)}` : null;
}

function table(report: Report, mode: 'http' | 'tcp', order: readonly TargetName[]): string {
  const base = baselineOf(mode);
  const columns = [
    'workload', 'target', 'RPS', 'p50 ms', 'p99 ms', 'CPU µs/req', 'RSS MiB idle → loaded', 'RPS × direct', `RPS × ${base}`, `CPU × ${base}`, 'errors',
  ];
  return resultsTable(report, order, 'direct', columns, (w: WorkloadResult, rss) => [
    rpsCell(w), f2(w.p50Ms), f2(w.p99Ms), f2(w.cpuUsPerReq), rss,
    fx(w.ratios?.rpsVsDirect), fx(w.ratios?.rpsVsBaseline), fx(w.ratios?.cpuVsBaseline), `${w.errors}${stalled(w, report.settings.connections)}`,
  ]);
}

/** Far fewer responses than connections × 10 means connections hung (wrk counts no error for that). */
function stalled(w: WorkloadResult, connections: number): string {
  return w.requests < connections * 10 ? ` **stalled: ${w.requests} responses in the run**` : '';
}

export function renderResults(report: Report): string {
  const m = report.machine;
  const s = report.settings;
  const httpOrder: TargetName[] = ['direct', 'nginx', 'haproxy', 'http-proxy', 'tessera', 'tessera-log'];
  const tcpOrder: TargetName[] = ['direct', 'haproxy-tcp', 'tessera-tcp'];
  const goals = report.goals ?? evaluateGoals(report);
  return [
    `Last run: ${report.generatedAt} — ${s.connections} connections, ${s.durationS} s per measured run after a ${s.warmupS} s warm-up, ` +
      (s.repeat > 1 ? `median-RPS run of ${s.repeat} (RPS range in brackets), ` : '') +
      `wrk with ${s.wrkThreads} thread(s); ` +
      (s.pinning ? `proxy pinned to CPU ${s.pinning.proxy}, wrk + origin to CPU ${s.pinning.load}` : 'no CPU pinning') +
      `; load average before: ${s.loadavgBefore}.`,
    '',
    `Machine: ${m.nproc} cores, ${m.cpuModel}; Linux ${m.kernel}; Node ${m.node}; ${m.nginx ?? 'nginx ?'}; ${m.haproxy ?? 'haproxy ?'}; ${m.wrk ?? 'wrk ?'}.`,
    '',
    '### HTTP/1.1 (L7)',
    '',
    table(report, 'http', httpOrder),
    '',
    '### TCP forwarding (L4), the same HTTP loads through a TCP proxy',
    '',
    table(report, 'tcp', tcpOrder),
    '',
    ...carriedOverLines(report),
    '### Goals (from the project issue)',
    '',
    ...goalsTableLines(goals),
  ].join('\n');
}

const BEGIN = '<!-- bench:results:begin (generated by test/bench/macro/run.ts; do not edit by hand) -->';
const END = '<!-- bench:results:end -->';

const INTRO = `# Benchmarks

Macro benchmark of Tessera's sidecar against other proxies on one machine, over loopback.
Source: \`test/bench/macro/\` (run.ts drives it; proc.ts spawns and measures processes; wrk.ts
runs and parses wrk; targets.ts writes the configs; report.ts writes this file's tables).

## What is measured

- **Origin**: nginx, \`worker_processes 1\`, on 127.0.0.1 (random free port), identical for every
  target: \`GET /small\` answers 100 B (\`return 200\`), \`GET /16k\` a 16 KiB static file,
  \`POST /post\` reads a 16 KiB request body and answers 100 B.
- **Load**: \`wrk --latency\`, keep-alive, \`CONNECTIONS\` connections (default 50) for \`DURATION\`
  (default 10 s) after a 2 s warm-up, per target and workload: \`get-100b\`, \`get-16k\`,
  \`post-16k\` (a wrk Lua script sets the method and the 16 KiB body).
- **Targets** (each one process, one worker/thread, started from configs in a temp dir):
  \`direct\` (wrk → origin); \`nginx\` (proxy_pass, upstream keepalive); \`haproxy\` (mode http,
  nbthread 1, http-reuse always); \`http-proxy\` (Node, http-proxy 1.18.1, keep-alive agent);
  \`tessera\` (\`node bin/tessera.js sidecar --bootstrap <file>\`, an Envoy v3 static bootstrap
  with an http_connection_manager listener and a STATIC cluster; \`--access-log off\`, since the peers
  log nothing either) and \`tessera-log\` (the same, writing its JSON access log to a file). TCP mode: \`haproxy-tcp\`
  (mode tcp) and \`tessera-tcp\` (envoy.filters.network.tcp_proxy), same loads, measures L4
  forwarding.
- **Per target and workload**: requests/s, p50 and p99 latency (wrk), proxy CPU µs per request
  (utime+stime from \`/proc/<pid>/stat\` of the proxy and its children — nginx master+worker —
  over the measured run, divided by requests), proxy RSS (VmRSS summed over the same
  processes) idle before load and after the run, and ratios to \`direct\` and to \`nginx\`
  (TCP: to \`haproxy-tcp\`). A target that fails to start is recorded as unavailable with its
  reason; the run goes on.
- Caveat: 2 cores (a VM here) are shared by wrk (1 thread), the origin and the proxy, so
  absolute numbers are low and \`direct\` is bounded by wrk and the origin. RPS through a proxy
  is noisy run to run (seen: haproxy get-100b 20k–50k rps in one process, bimodal, while its
  CPU µs/req stayed 17–23): use \`REPEAT=3\` or more (the median-RPS run is kept, the range is
  shown) and trust CPU µs/req over RPS. Pinning (\`PIN=1\`: proxy on its own core, wrk +
  origin on the other) was worse and noisier on 2 cores, so it is off by default.

## How to run

\`\`\`sh
bash scripts/install-bench-deps.sh      # nginx-light, haproxy, wrk from Debian (idempotent)
npm run build && node dist/test/bench/macro/run.js
# knobs: CONNECTIONS=50 DURATION=10s ONLY=tessera,tessera-tcp WRK_THREADS=1 WARMUP=2s REPEAT=1 PIN=0
REPORT_ONLY=1 node dist/test/bench/macro/run.js   # only regenerate the tables from latest.json
\`\`\`

Results go to \`test/bench/results/latest.json\` and to the section below. A run with \`ONLY\`
keeps the other targets' last results (marked †).

## Results

`;

/** Replaces the generated section of BENCHMARKS.md (or writes the whole file the first time). */
export function updateBenchmarksMd(report: Report, file: string): void {
  const section = `${BEGIN}\n${renderResults(report)}\n${END}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  writeFileSync(file, replaceSection(text, BEGIN, END, section) ?? `${INTRO}${section}\n`);
}

