// Running wrk (bounded in time) and parsing its text output (`--latency`).
import { startProcess, stopProcess } from './proc.js';

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** connect+read+write+timeout socket errors plus non-2xx/3xx responses. */
  readonly errors: number;
  readonly non2xx: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot read duration "${text}"`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** Parses wrk 4.x output; throws when the summary lines are missing. */
export function parseWrk(out: string): WrkResult {
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),/m.exec(out);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  if (!total || !rps || !p50 || !p99) throw new Error(`wrk: unexpected output: ${out.slice(-500)}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sockErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    requests: Number(total[1]),
    seconds: durationMs(`${total[2]}${total[3]}`) / 1000,
    rps: Number(rps[1]),
    p50Ms: durationMs(p50[1] as string),
    p99Ms: durationMs(p99[1] as string),
    errors: sockErrors + non2xx,
    non2xx,
  };
}

export interface WrkRun {
  readonly url: string;
  readonly connections: number;
  readonly threads: number;
  readonly durationS: number;
  readonly script?: string;
  readonly cpus?: string; // taskset CPU list
}

/** Runs wrk once; killed if it overruns its duration by 20 s. */
export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const args = [
    '-t', String(run.threads),
    '-c', String(run.connections),
    '-d', `${run.durationS}s`,
    '--timeout', '5s',
    '--latency',
    ...(run.script ? ['-s', run.script] : []),
    run.url,
  ];
  const p = startProcess('wrk', 'wrk', args, { cpus: run.cpus });
  const timer = setTimeout(() => void stopProcess(p, 1000), (run.durationS + 20) * 1000);
  let out = '';
  p.child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const { code, signal } = await p.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`wrk exited with ${code ?? signal}: ${p.outputTail()}`);
  return parseWrk(out);
}
