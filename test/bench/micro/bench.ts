// Micro-benchmark helper: runs a function a bounded number of times after a warm-up and prints ns/op.
import { performance } from 'node:perf_hooks';

export interface BenchResult {
  readonly name: string;
  readonly nsPerOp: number;
  readonly iterations: number;
}

/** Sink for results so the optimizer cannot drop the work. */
export let blackhole: unknown = null;

/** `fn(i)` `iterations` times (after iterations/10 warm-up calls); the best of `rounds` rounds is reported. */
export function bench(name: string, iterations: number, fn: (i: number) => unknown, rounds = 3): BenchResult {
  const scale = Number(process.env.BENCH_SCALE ?? 1);
  const n = Math.max(1, Math.floor(iterations * scale));
  for (let i = 0; i < Math.ceil(n / 10); i++) blackhole = fn(i);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) blackhole = fn(i);
    best = Math.min(best, ((performance.now() - t0) * 1e6) / n);
  }
  const res = { name, nsPerOp: best, iterations: n };
  process.stdout.write(`${name.padEnd(56)} ${best.toFixed(1).padStart(10)} ns/op  (${n} iterations, best of ${rounds})\n`);
  return res;
}
