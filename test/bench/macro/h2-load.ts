// Running h2load (nghttp2-client) bounded in time, h2c with prior knowledge, and reading its
// summary plus its per-request log (for latency percentiles, which the summary lacks).
import { readFile, rm } from 'node:fs/promises';
import { startProcess, stopProcess } from './proc.js';

export interface H2LoadResult {
  /** Requests that completed with a response (any status) in the measured time. */
  readonly requests: number;
  readonly succeeded: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** failed + errored + timeout + responses with a status other than 2xx. */
  readonly errors: number;
  readonly status2xx: number;
  readonly statusOther: number;
  /** The protocol h2load negotiated ("h2c"); anything else means the target did not speak h2. */
  readonly protocol: string;
}

export interface H2LoadRun {
  readonly url: string;
  readonly clients: number;
  readonly streams: number; // max concurrent streams per client (-m)
  readonly threads: number;
  readonly durationS: number;
  /** POST body file (h2load -d); the method becomes POST. */
  readonly dataFile?: string;
  readonly headers?: readonly string[]; // "name: value"
  readonly cpus?: string; // taskset CPU list
  /** Where h2load writes one line per request; percentiles come from it. */
  readonly logFile: string;
}

/** Parses h2load 1.4x+ summary output; throws when the summary lines are missing. */
export function parseH2Load(out: string): Omit<H2LoadResult, 'p50Ms' | 'p99Ms'> {
  const fin = /^finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/m.exec(out);
  const req = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(out);
  const st = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(out);
  if (!fin || !req || !st) throw new Error(`h2load: unexpected output: ${out.slice(-600)}`);
  const n = (m: RegExpExecArray, i: number): number => Number(m[i]);
  const statusOther = n(st, 2) + n(st, 3) + n(st, 4);
  return {
    requests: n(req, 3),
    succeeded: n(req, 4),
    seconds: Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1),
    rps: Number(fin[3]),
    errors: n(req, 5) + n(req, 6) + n(req, 7) + statusOther,
    status2xx: n(st, 1),
    statusOther,
    protocol: /^Application protocol: (\S+)/m.exec(out)?.[1] ?? 'none',
  };
}

/** p50 and p99 of the elapsed column (µs) of h2load's --log-file (start µs, status, elapsed µs). */
export function percentilesFromLog(text: string): { p50Ms: number; p99Ms: number } {
  const lines = text.split('\n');
  const us = new Float64Array(lines.length);
  let k = 0;
  for (const line of lines) {
    const tab = line.lastIndexOf('\t');
    if (tab < 0) continue;
    const v = Number(line.slice(tab + 1));
    if (Number.isFinite(v)) us[k++] = v;
  }
  if (k === 0) return { p50Ms: Number.NaN, p99Ms: Number.NaN };
  const sorted = us.subarray(0, k).sort();
  const at = (q: number): number => (sorted[Math.min(k - 1, Math.floor(q * k))] as number) / 1000;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** Runs h2load once (h2c prior knowledge); killed if it overruns its duration by 20 s. */
export async function runH2Load(run: H2LoadRun): Promise<H2LoadResult> {
  const args = [
    '-c', String(run.clients),
    '-m', String(run.streams),
    '-t', String(run.threads),
    '-D', String(run.durationS),
    '-T', '5', // connection inactivity timeout (s)
    `--log-file=${run.logFile}`,
    ...(run.dataFile ? ['-d', run.dataFile] : []),
    ...(run.headers ?? []).flatMap((h) => ['-H', h]),
    run.url,
  ];
  const p = startProcess('h2load', 'h2load', args, { cpus: run.cpus });
  const timer = setTimeout(() => void stopProcess(p, 1000), (run.durationS + 20) * 1000);
  let out = '';
  p.child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const { code, signal } = await p.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`h2load exited with ${code ?? signal}: ${p.outputTail()}`);
  const summary = parseH2Load(out);
  let pct = { p50Ms: Number.NaN, p99Ms: Number.NaN };
  try {
    pct = percentilesFromLog(await readFile(run.logFile, 'utf8'));
  } finally {
    await rm(run.logFile, { force: true });
  }
  return { ...summary, ...pct };
}
