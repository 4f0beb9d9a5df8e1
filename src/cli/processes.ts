// Child-process supervision for `tessera run`, `tessera demo` and integration tests: spawn, wait for the
// one-line JSON readiness event on stdout, tee output to a log, stop by PID with SIGTERM then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ReadyChild {
  readonly child: ChildProcess;
  /** The parsed `{"event":"ready",...}` line. */
  readonly ready: Record<string, unknown>;
  /** Every stdout/stderr line seen so far (bounded to the last 2000). */
  readonly lines: string[];
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
}

export interface SpawnReadyOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** File receiving the child's stdout and stderr; none when null/undefined. */
  readonly logFile?: string | null;
  readonly timeoutMs?: number;
  /** Also echo the child's output to this process' stderr (debugging). */
  readonly echo?: boolean;
}

export function spawnReady(command: string, args: readonly string[], opts: SpawnReadyOptions = {}): Promise<ReadyChild> {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: WriteStream | null = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : null;
  const lines: string[] = [];
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
    });
  });
  void exited.then(() => log?.end());
  return new Promise<ReadyChild>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')}: not ready after ${opts.timeoutMs ?? 20000} ms\n${lines.slice(-30).join('\n')}`));
    }, opts.timeoutMs ?? 20000);
    const onLine = (line: string, fromStdout: boolean) => {
      lines.push(line);
      if (lines.length > 2000) lines.splice(0, lines.length - 2000);
      log?.write(`${line}\n`);
      if (opts.echo) process.stderr.write(`${line}\n`);
      if (settled || !fromStdout || !line.startsWith('{"event":"ready"')) return;
      try {
        const ready = JSON.parse(line) as Record<string, unknown>;
        settled = true;
        clearTimeout(timer);
        resolve({ child, ready, lines, exited });
      } catch {
        // not the readiness line
      }
    };
    createInterface({ input: child.stdout! }).on('line', (l) => onLine(l, true));
    createInterface({ input: child.stderr! }).on('line', (l) => onLine(l, false));
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')}: exited (${code}) before ready\n${lines.slice(-30).join('\n')}`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code or signal. */
export async function stopChild(rc: ReadyChild, graceMs = 8000): Promise<number | string> {
  if (rc.child.exitCode !== null || rc.child.signalCode !== null) return rc.exited;
  rc.child.kill('SIGTERM');
  const t = setTimeout(() => rc.child.kill('SIGKILL'), graceMs);
  const code = await rc.exited;
  clearTimeout(t);
  return code;
}
