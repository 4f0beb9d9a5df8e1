// Process logger: pino JSON to stdout (asynchronous destination), snake_case fields.
import { pino, type Logger } from 'pino';

/** pino's asynchronous destination (sonic-boom). */
type Destination = ReturnType<typeof pino.destination>;

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

/** Where access-log lines go: `write` takes one or more complete JSON lines ending in '\n'. */
export interface AccessLogSink {
  write(lines: string): unknown;
}

/**
 * Batches access-log lines in memory and hands them to an asynchronous sonic-boom destination in
 * large writes (one per `batchChars` of text, or at least every `flushMs`), so a request costs a
 * string append instead of a destination write (sonic-boom measures every write's UTF-8 length).
 * Bounded: past `maxBufferedBytes` queued in the destination, lines are dropped and counted.
 */
export class AccessLogWriter implements AccessLogSink {
  readonly #dest: Destination;
  readonly #batchChars: number;
  #pending: string;
  #timer: NodeJS.Timeout | null;
  #closed: boolean;
  readonly #onTimer: () => void;
  dropped: number;

  constructor(dest: Destination, opts: { flushMs?: number; batchChars?: number } = {}) {
    this.#dest = dest;
    this.#batchChars = opts.batchChars ?? 32 * 1024;
    this.#pending = '';
    this.#closed = false;
    this.dropped = 0;
    this.#onTimer = () => this.#flushPending();
    this.#timer = setInterval(this.#onTimer, opts.flushMs ?? 1000);
    this.#timer.unref();
    dest.on('drop', () => {
      this.dropped++;
    });
    dest.on('error', () => {
      // stdout/file gone: lines are lost, the data path goes on
    });
  }

  // AccessLogSink
  write(lines: string): boolean {
    if (this.#closed) return false;
    const p = (this.#pending += lines);
    if (p.length >= this.#batchChars) this.#flushPending();
    return true;
  }

  /** Hands everything batched so far to the destination; resolves once it has been written. */
  flush(): Promise<void> {
    this.#flushPending();
    const d = this.#dest as unknown as { _writing?: boolean; _len?: number };
    if (d._writing !== true && (d._len ?? 0) === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#dest.once('drain', resolve);
      this.#dest.once('error', resolve);
    });
  }

  /** Shutdown: writes everything batched, stops the timer, ends the destination (fd 1/2 stay open). */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flushPending();
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    return new Promise((resolve) => {
      this.#dest.once('close', resolve);
      this.#dest.once('error', resolve);
      try {
        this.#dest.end();
      } catch {
        resolve(); // already destroyed
      }
    });
  }

  #flushPending(): void {
    const p = this.#pending;
    if (p.length === 0) return;
    this.#pending = '';
    try {
      this.#dest.write(p);
    } catch {
      this.dropped++;
    }
  }
}

/**
 * The access-log logger: a pino logger (level info, no base fields) whose destination is an
 * AccessLogWriter. The HTTP connection manager writes hand-built lines straight to that destination
 * (see sidecar/http/access-log.ts); anything logged through pino lands in the same batches.
 */
export function createAccessLogger(opts: { fd?: number; path?: string; flushMs?: number } = {}): Logger {
  const dest = opts.path
    ? pino.destination({ dest: opts.path, sync: false, minLength: 0, maxLength: 16 * 1024 * 1024, mkdir: true })
    : pino.destination({ fd: opts.fd ?? 1, sync: false, minLength: 0, maxLength: 16 * 1024 * 1024 });
  const writer = new AccessLogWriter(dest, { flushMs: opts.flushMs });
  return pino({ level: 'info', base: null, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, writer);
}

/** The sink behind a pino logger (its destination stream), or null when it does not log at info. */
export function accessLogSinkOf(logger: Logger): AccessLogSink | null {
  if (!logger.isLevelEnabled('info')) return null;
  const s = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as AccessLogSink | undefined;
  return s !== undefined && typeof s.write === 'function' ? s : null;
}

/** Flushes and closes the access logger's batching writer (no-op for other loggers). */
export async function closeAccessLogger(logger: Logger): Promise<void> {
  const s = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  if (s instanceof AccessLogWriter) await s.close();
}
