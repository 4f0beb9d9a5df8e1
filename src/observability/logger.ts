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
  const dest = pino.destination({ fd: opts.fd ?? 1, sync: opts.sync ?? false, minLength: opts.sync ? 0 : 4096 });
  return pino({ name: opts.name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
