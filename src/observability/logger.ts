// Process logger: pino JSON to stdout (asynchronous destination), snake_case fields.
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly name: string;
  readonly level?: string;
  /** Write synchronously (tests, short CLI commands); the data path uses the async default. */
  readonly sync?: boolean;
  /** File descriptor to write to; default 1 (stdout). */
  readonly fd?: number;
}

export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? process.env.TESSERA_LOG_LEVEL ?? 'info';
  const dest = pino.destination({ fd: opts.fd ?? 1, sync: opts.sync ?? false, minLength: 0 });
  return pino({ name: opts.name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * The access-log logger: its own asynchronous destination that batches lines (4 KiB) and is flushed
 * at least every `flushMs`, so per-request logging costs no syscall of its own.
 */
export function createAccessLogger(opts: { fd?: number; path?: string; flushMs?: number } = {}): Logger {
  const dest = opts.path
    ? pino.destination({ dest: opts.path, sync: false, minLength: 4096, mkdir: true })
    : pino.destination({ fd: opts.fd ?? 1, sync: false, minLength: 4096 });
  const timer = setInterval(() => {
    try {
      dest.flush();
    } catch {
      // destination already closed at shutdown: nothing left to flush
    }
  }, opts.flushMs ?? 1000);
  timer.unref();
  return pino({ level: 'info', base: null, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, dest);
}
