// Process management for the macro benchmark: spawn children in their own process group,
// wait for ports, read CPU/RSS from /proc, and always clean up (also on errors and Ctrl-C).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process exits (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitedYet(): boolean;
  /** The last few KiB of stdout+stderr, for error messages. */
  outputTail(): string;
}

const live = new Set<Proc>();
const TAIL_BYTES = 4096;

export interface StartOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** CPU list for `taskset -c` (e.g. "1"); taskset execs the command, so the pid stays the same. */
  readonly cpus?: string;
}

/**
 * Starts `cmd` in a new process group (so that we can stop it and its workers by its pid),
 * with stdout/stderr captured. A spawn failure (ENOENT...) shows up as an exited process.
 */
export function startProcess(name: string, cmd: string, args: readonly string[], opts: StartOptions = {}): Proc {
  const [file, argv] = opts.cpus ? ['taskset', ['-c', opts.cpus, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let tail = '';
  const keep = (b: Buffer): void => {
    tail = (tail + b.toString('utf8')).slice(-TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => {
      keep(Buffer.from(`spawn ${cmd}: ${err.message}\n`));
      done = true;
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const proc: Proc = {
    name,
    pid: child.pid ?? -1,
    child,
    exited,
    exitedYet: () => done,
    outputTail: () => tail.trim(),
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

function signalGroup(p: Proc, sig: NodeJS.Signals): void {
  if (p.pid <= 0 || p.exitedYet()) return;
  try {
    process.kill(-p.pid, sig); // the group we created with detached: true
  } catch {
    try {
      process.kill(p.pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs`. */
export async function stopProcess(p: Proc, graceMs = 3000): Promise<void> {
  if (p.exitedYet()) return;
  signalGroup(p, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(p, 'SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
  // nginx workers may outlive a killed master for a moment: make sure the group is gone.
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    /* no such group: good */
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => stopProcess(p)));
}

let handlersInstalled = false;
/** On Ctrl-C/SIGTERM stop every child, run `onExit`, and exit; on any exit, SIGKILL leftovers. */
export function installCleanupHandlers(onExit: () => void): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${sig}, stopping children\n`);
    void stopAll().finally(() => {
      onExit();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    for (const p of live) signalGroup(p, 'SIGKILL');
    onExit();
  });
}

/** A free TCP port on 127.0.0.1 (released again; the caller binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function exitedError(p: Proc, what: string): Error {
  return new Error(`${p.name} exited while waiting for ${what}: ${p.outputTail() || '(no output)'}`);
}

/** Waits until 127.0.0.1:port accepts; fails early if `proc` exits. */
export async function waitForPort(port: number, timeoutMs: number, proc?: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc?.exitedYet()) throw exitedError(proc, `port ${port}`);
    if (await tryConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`port ${port} did not accept within ${timeoutMs} ms${proc ? `: ${proc.outputTail()}` : ''}`);
}

export interface HttpReply {
  readonly status: number;
  readonly bodyBytes: number;
}

/** One HTTP/1.1 request on a fresh connection, bounded in time. */
export function httpRequest(port: number, path: string, method = 'GET', body?: Buffer, timeoutMs = 2000): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method, agent: false, headers: body ? { 'content-length': body.length } : {} },
      (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bodyBytes: n }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no reply within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits until GET path answers 200 (the port may accept before the proxy is configured). */
export async function waitForHttp200(port: number, path: string, timeoutMs: number, proc?: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  while (Date.now() < deadline) {
    if (proc?.exitedYet()) throw exitedError(proc, `GET ${path} 200`);
    try {
      const r = await httpRequest(port, path, 'GET', undefined, 1000);
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`GET ${path} on port ${port} not 200 within ${timeoutMs} ms (last: ${last})${proc ? `; output: ${proc.outputTail()}` : ''}`);
}

// ---- /proc readings -------------------------------------------------------------------

export const CLK_TCK: number = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** Fields of /proc/<pid>/stat after the `(comm)` field: [0] = state, [1] = ppid, [11] = utime, [12] = stime. */
function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** `pid` and all its descendants (nginx master + workers, a node process and any children). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (!f) continue;
    const ppid = Number(f[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** utime+stime of the processes (all threads), in clock ticks. */
export function cpuTicks(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    if (f) sum += Number(f[11]) + Number(f[12]);
  }
  return sum;
}

/** Sum of VmRSS in KiB (shared pages of master+workers are counted once per process). */
export function rssKiB(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) sum += Number(m[1]);
    } catch {
      /* exited */
    }
  }
  return sum;
}

/** The first line of `cmd args` (a version string), or undefined when it cannot run. */
export function commandVersion(cmd: string, args: readonly string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  if (r.error) return undefined;
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return text.split('\n')[0];
}
