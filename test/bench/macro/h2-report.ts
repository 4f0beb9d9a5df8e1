// Results of an HTTP/2 + gRPC macro run: ratios, the goal, h2-latest.json, and the
// generated HTTP/2 + gRPC section of BENCHMARKS.md (between its own markers).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { H2TargetName } from './h2-targets.js';
import {
  carriedOverLines,
  f2,
  fx,
  goalsTableLines,
  ratio,
  replaceSection,
  resultsTable,
  rpsCell,
  type BaseMachine,
  type Goal,
  type MeasuredTarget,
  type MeasuredWorkload,
  type Pinning,
} from './report.js';

export type H2Kind = 'h2' | 'grpc';

/** `errors`: h2load failed + errored + timeout + non-2xx, plus (gRPC) calls h2load counted that the origin never answered. */
export interface H2WorkloadResult extends MeasuredWorkload {
  /** The origin's utime+stime over the same run / requests (nginx for h2, grpc-js for gRPC). */
  readonly originCpuUsPerReq: number | null;
  /** gRPC: Echo calls the origin answered during the measured run (≥ requests: h2load stops with calls in flight). */
  readonly originCalls: number | null;
  ratios?: { rpsVsDirect: number | null; rpsVsNginx: number | null; cpuVsNginx: number | null };
}

export interface H2TargetResult extends MeasuredTarget<H2TargetName, H2WorkloadResult> {
  readonly kind: H2Kind;
}

export interface H2Report {
  readonly generatedAt: string;
  readonly machine: BaseMachine & {
    readonly h2load?: string;
    readonly grpcJs?: string;
  };
  readonly settings: {
    readonly clients: number;
    readonly streams: number;
    readonly threads: number;
    readonly durationS: number;
    readonly warmupS: number;
    readonly repeat: number;
    readonly pinning: Pinning | null;
    readonly loadavgBefore: string;
  };
  /** Anything that makes this run differ from the setup described (e.g. a missing nginx module). */
  readonly notes: string[];
  targets: H2TargetResult[];
  goals?: Goal[];
}

const BASELINE: Record<H2Kind, { direct: H2TargetName; nginx: H2TargetName; tessera: H2TargetName }> = {
  h2: { direct: 'direct-h2', nginx: 'nginx-h2', tessera: 'tessera-h2' },
  grpc: { direct: 'direct-grpc', nginx: 'nginx-grpc', tessera: 'tessera-grpc' },
};

function find(report: H2Report, target: H2TargetName, workload: string): H2WorkloadResult | undefined {
  return report.targets.find((x) => x.target === target && x.available)?.workloads.find((w) => w.workload === workload);
}

export function addH2Ratios(report: H2Report): void {
  for (const t of report.targets) {
    const base = BASELINE[t.kind];
    for (const w of t.workloads) {
      const direct = find(report, base.direct, w.workload);
      const nginx = find(report, base.nginx, w.workload);
      w.ratios = {
        rpsVsDirect: ratio(w.rps, direct?.rps),
        rpsVsNginx: ratio(w.rps, nginx?.rps),
        cpuVsNginx: ratio(w.cpuUsPerReq, nginx?.cpuUsPerReq),
      };
    }
  }
}

/** The bar (Tessera h2 RPS ≥ 0.5× nginx on the same run), worst workload; the same bar shown for gRPC. */
export function evaluateH2Goals(report: H2Report): Goal[] {
  return (['h2', 'grpc'] as const).map((kind) => {
    const { tessera, nginx } = BASELINE[kind];
    const label = kind === 'h2' ? 'Tessera HTTP/2 (h2c) RPS ≥ 0.5× nginx h2 proxy' : 'Tessera gRPC unary RPS ≥ 0.5× nginx grpc_pass';
    const t = report.targets.find((x) => x.target === tessera && x.available);
    let worst: { v: number; workload: string } | undefined;
    for (const w of t?.workloads ?? []) {
      const r = ratio(w.rps, find(report, nginx, w.workload)?.rps);
      if (r != null && (!worst || r < worst.v)) worst = { v: r, workload: w.workload };
    }
    if (!worst) {
      const missing = [tessera, nginx].filter((n) => !report.targets.some((x) => x.target === n && x.available));
      return { goal: label, measured: missing.length > 0 ? `n/a (${missing.join(', ')} unavailable)` : 'n/a', status: 'n/a' };
    }
    return { goal: label, measured: `${worst.v.toFixed(2)}× (worst: ${worst.workload})`, status: worst.v >= 0.5 ? 'met' : 'not met' };
  });
}

// ---- markdown -------------------------------------------------------------------------

function table(report: H2Report, kind: H2Kind): string {
  const { direct, nginx, tessera } = BASELINE[kind];
  const columns = [
    'workload', 'target', 'RPS', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', 'origin CPU µs/req', 'RSS MiB idle → loaded',
    `RPS × ${direct}`, `RPS × ${nginx}`, `CPU × ${nginx}`, 'errors',
  ];
  return resultsTable(report, [direct, nginx, tessera], direct, columns, (w: H2WorkloadResult, rss) => [
    rpsCell(w), f2(w.p50Ms), f2(w.p99Ms), f2(w.cpuUsPerReq), f2(w.originCpuUsPerReq), rss,
    fx(w.ratios?.rpsVsDirect), fx(w.ratios?.rpsVsNginx), fx(w.ratios?.cpuVsNginx), w.errors,
  ]);
}

export function renderH2Results(report: H2Report): string {
  const m = report.machine;
  const s = report.settings;
  const goals = report.goals ?? evaluateH2Goals(report);
  return [
    '## Results: HTTP/2 (h2c) and gRPC',
    '',
    'Source: `test/bench/macro/h2-run.ts` (h2-targets.ts: origins, proxy configs, an h2c check client; h2-load.ts: h2load;',
    'grpc-origin.ts: the gRPC origin; h2-report.ts: this section). Run: `node dist/test/bench/macro/h2-run.js`',
    '(knobs: `CLIENTS=10 STREAMS=10 DURATION=10s WARMUP=2s REPEAT=1 H2LOAD_THREADS=1 ONLY=tessera-h2,... PIN=0`,',
    '`REPORT_ONLY=1`); results in `test/bench/results/h2-latest.json`.',
    '',
    '- **Load**: `h2load` (h2c, prior knowledge), `CLIENTS` connections × `STREAMS` concurrent streams, for `DURATION` after a',
    '  warm-up; p50/p99 from h2load\'s per-request log. Errors = failed/errored/timed-out/non-2xx requests, plus for gRPC the calls',
    '  h2load counted that the origin did not answer (gRPC errors travel as HTTP 200 + `grpc-status`, so the origin counts its',
    '  calls; a sample call through each target must return `grpc-status: 0` and the echoed message before and after the load).',
    '- **HTTP/2**: origin = the nginx origin above (same locations), one worker listening on an HTTP/1.1 port (the proxies\' upstream)',
    '  and an h2c port (`listen … http2`), whose `/post` reads the body with the echo module\'s `echo_read_request_body` (nginx',
    '  1.22 discarding an unread HTTP/2 body, as `return 200` does, stalls connections after a few hundred 16 KiB bodies).',
    '  `direct-h2`: h2load → origin h2c. `nginx-h2`: `listen … http2` + `proxy_pass` with upstream keepalive (HTTP/1.1 upstream).',
    '  `tessera-h2`: static bootstrap, http_connection_manager `codec_type: AUTO` (h2c detected by the preface),',
    '  STATIC cluster over HTTP/1.1, `--access-log off`. Workloads `get-100b`, `get-16k`, `post-16k` as above.',
    '- **gRPC unary**: origin = one grpc-js server process (`@grpc/grpc-js`), a unary echo of raw bytes. Each call is a POST of one',
    '  length-prefixed message (5 + 100 B, `content-type: application/grpc`, `te: trailers`). `direct-grpc`: h2load → grpc-js.',
    '  `nginx-grpc`: `grpc_pass` with upstream keepalive (h2c both sides; nginx sends one call per upstream connection at a time).',
    '  `tessera-grpc`: as `tessera-h2`, with the cluster made h2c by `typed_extension_protocol_options`',
    '  `envoy.extensions.upstreams.http.v3.HttpProtocolOptions { explicit_http_config: { http2_protocol_options: {} } }`.',
    '- CPU µs/req: utime+stime of the proxy (and its children) over the measured run / requests; the origin\'s the same way',
    '  (on 2 cores the proxy, the origin and h2load compete, so a cheaper origin leaves more CPU to the proxy).',
    '',
    `Last run: ${report.generatedAt} — ${s.clients} connections × ${s.streams} streams, ${s.durationS} s per measured run after a ` +
      `${s.warmupS} s warm-up, ` +
      (s.repeat > 1 ? `median-RPS run of ${s.repeat} (RPS range in brackets), ` : '') +
      `h2load with ${s.threads} thread(s); ` +
      (s.pinning ? `proxy pinned to CPU ${s.pinning.proxy}, h2load + origins to CPU ${s.pinning.load}` : 'no CPU pinning') +
      `; load average before: ${s.loadavgBefore}.`,
    '',
    `Machine: ${m.nproc} cores, ${m.cpuModel}; Linux ${m.kernel}; Node ${m.node}; ${m.nginx ?? 'nginx ?'}; ${m.h2load ?? 'h2load ?'}; ` +
      `grpc-js ${m.grpcJs ?? '?'}.`,
    '',
    '### HTTP/2 (h2c downstream, HTTP/1.1 upstream)',
    '',
    table(report, 'h2'),
    '',
    '### gRPC unary (h2c both sides)',
    '',
    table(report, 'grpc'),
    '',
    ...((report.notes ?? []).length > 0 ? [`Notes: ${report.notes.join('; ')}.`, ''] : []),
    ...carriedOverLines(report),
    '### Goals (HTTP/2 + gRPC issue)',
    '',
    ...goalsTableLines(goals),
  ].join('\n');
}

const BEGIN = '<!-- bench:h2:begin (generated by test/bench/macro/h2-run.ts; do not edit by hand) -->';
const END = '<!-- bench:h2:end -->';
const H1_END = '<!-- bench:results:end -->';
const READING = '\n## Reading these results';

/**
 * Replaces the generated HTTP/2 + gRPC section of BENCHMARKS.md. The first time it goes right after the
 * HTTP/1.1 section (before the hand-written "Reading these results"), else at the end of the file.
 */
export function updateBenchmarksMdH2(report: H2Report, file: string): void {
  const section = `${BEGIN}\n${renderH2Results(report)}\n${END}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const replaced = replaceSection(text, BEGIN, END, section);
  if (replaced !== null) {
    text = replaced;
  } else {
    const h1End = text.indexOf(H1_END);
    const reading = text.indexOf(READING, h1End >= 0 ? h1End : 0);
    const at = reading >= 0 ? reading + 1 : h1End >= 0 ? h1End + H1_END.length + 1 : text.length;
    text = `${text.slice(0, at).replace(/\n*$/, '\n\n')}${section}\n\n${text.slice(at)}`;
  }
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}
