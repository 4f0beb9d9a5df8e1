// What both macro harnesses (run.ts: HTTP/1.1 + TCP with wrk, h2-run.ts: HTTP/2 + gRPC with h2load) do the
// same way: knobs from the environment, the machine description, target selection, temp dir, medians, exit.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLK_TCK, commandVersion, installCleanupHandlers } from './proc.js';
import type { BaseMachine, Pinning } from './report.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const BENCH_MD = path.join(repoRoot, 'BENCHMARKS.md');

/** A duration knob: `10`, `10s` or `1m`, in seconds; `def` when unset. */
export function seconds(text: string | undefined, def: number): number {
  if (!text) return def;
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`cannot read duration "${text}" (use 10s, 1m or 10)`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

export function positiveInt(text: string | undefined, def: number, name: string): number {
  if (!text) return def;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return n;
}

/** CPUs, CPU model, kernel, Node and nginx versions; each harness adds its load tool. */
export function baseMachine(): BaseMachine {
  let cpuModel = 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    /* not Linux */
  }
  return {
    nproc: Number(spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim()) || os.availableParallelism(),
    cpuModel,
    kernel: os.release(),
    node: process.version,
    nginx: commandVersion('nginx', ['-v'])?.replace('nginx version: ', ''),
  };
}

/** /proc/loadavg's three averages: a busy machine makes the numbers noisy. */
export function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** PIN=1: the proxy gets a core of its own, the load tool and the origins share the others. */
export function cpuPinning(nproc: number): Pinning | null {
  if (process.env.PIN !== '1' || nproc < 2 || !commandVersion('taskset', ['--version'])) return null;
  return { proxy: String(nproc - 1), load: nproc === 2 ? '0' : `0-${nproc - 2}` };
}

/** The targets named in ONLY (in `all`'s order), or all of them; `only` is undefined when ONLY is unset. */
export function selectTargets<T extends string>(all: readonly T[]): { only: string[] | undefined; targets: readonly T[] } {
  const only = process.env.ONLY?.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = only?.filter((t) => !all.includes(t as T)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown target(s) in ONLY: ${unknown.join(', ')} (known: ${all.join(', ')})`);
  return { only, targets: only ? all.filter((t) => only.includes(t)) : all };
}

/** A temp dir for configs, logs and request bodies, removed at exit. */
export function benchTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  installCleanupHandlers(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** utime+stime clock ticks in µs. */
export const ticksToUs = (ticks: number): number => (ticks / CLK_TCK) * 1e6;

/** REPEAT > 1: the run with the median RPS, with the RPS of every run. */
export function medianRun<W extends { readonly rps: number }>(samples: readonly W[]): W & { rpsRuns: number[] } {
  const byRps = [...samples].sort((a, b) => a.rps - b.rps);
  return { ...(byRps[Math.floor(byRps.length / 2)] as W), rpsRuns: samples.map((x) => Math.round(x.rps)) };
}

/** Why a target is unavailable, for a table cell (the message without stack frames); logged after `label`. */
export function unavailableReason(err: unknown, label: string): string {
  const reason = (err as Error).message
    .split('\n')
    .filter((l) => !/^\s*at /.test(l))
    .join('\n');
  console.log(`  ${label} unavailable: ${reason.split('\n').slice(0, 6).join(' | ')}`);
  return reason;
}

/** Runs a harness's main and exits 0, or prints the error after `tag:` and exits 1. */
export function runMain(tag: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`${tag}: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
