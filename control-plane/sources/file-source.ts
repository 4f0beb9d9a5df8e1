// FileSource: owns the watch on one mesh config file; debounces edits and hands each new valid World to its owner.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { err, ok, type Result } from '../../src/core/result.js';
import { parseMeshConfig, type World } from '../model/index.js';

export interface FileSourceOptions {
  /** A new valid config whose content differs from the last applied one. */
  readonly onWorld: (world: World) => void;
  /** An edit that failed to read or validate; the previous World stays current. */
  readonly onInvalid: (errors: string[]) => void;
  /** Quiet period after the last change before reloading (default 100 ms). */
  readonly quietMs?: number;
  /** Longest a burst of changes may delay a reload (default 1000 ms). */
  readonly maxDelayMs?: number;
}

/**
 * Watches the file's directory (so an editor's write-to-temp-then-rename is seen), coalesces bursts of events
 * (quiet `quietMs`, at most `maxDelayMs`), reads asynchronously, validates, and reports valid or invalid configs.
 * Content identical to the last one seen reports nothing.
 */
export class FileSource {
  readonly #path: string;
  readonly #base: string;
  readonly #onWorld: (world: World) => void;
  readonly #onInvalid: (errors: string[]) => void;
  readonly #quietMs: number;
  readonly #maxDelayMs: number;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #burstStart = 0;
  #loading: Promise<void> | null = null;
  #reloadAgain = false;
  #lastSeen: string | null = null;
  #applied: string | null = null;
  #closed = false;

  constructor(filePath: string, opts: FileSourceOptions) {
    this.#path = filePath;
    this.#base = path.basename(filePath);
    this.#onWorld = opts.onWorld;
    this.#onInvalid = opts.onInvalid;
    this.#quietMs = opts.quietMs ?? 100;
    this.#maxDelayMs = opts.maxDelayMs ?? 1000;
  }

  /** Loads and validates the file once; when valid, starts watching and returns the first World. */
  async start(): Promise<Result<World>> {
    const text = await this.#read();
    if (!text.ok) return text;
    const world = parseMeshConfig(text.value, this.#path);
    if (!world.ok) return world;
    this.#lastSeen = text.value;
    this.#applied = text.value;
    if (!this.#closed) {
      this.#watcher = watch(path.dirname(this.#path), { persistent: true }, (_event, name) => {
        if (name === null || name === this.#base) this.#schedule();
      });
      this.#watcher.on('error', (e: Error) => this.#onInvalid([`${this.#path}: watch failed: ${e.message}`]));
    }
    return world;
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#closed) return;
    const now = Date.now();
    if (this.#timer === null) this.#burstStart = now;
    else clearTimeout(this.#timer);
    const delay = Math.max(0, Math.min(this.#quietMs, this.#burstStart + this.#maxDelayMs - now));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#reload();
    }, delay);
  }

  /** One reload at a time; a change that arrives during a reload triggers exactly one more. */
  #reload(): void {
    if (this.#loading) {
      this.#reloadAgain = true;
      return;
    }
    this.#loading = this.#reloadOnce().finally(() => {
      this.#loading = null;
      if (this.#reloadAgain && !this.#closed) {
        this.#reloadAgain = false;
        this.#reload();
      }
    });
  }

  async #reloadOnce(): Promise<void> {
    const text = await this.#read();
    if (this.#closed) return;
    if (!text.ok) {
      // A rename-replace can leave the path briefly missing; the rename's own event schedules another read.
      this.#lastSeen = null;
      this.#onInvalid(text.errors);
      return;
    }
    if (text.value === this.#lastSeen) return;
    this.#lastSeen = text.value;
    const world = parseMeshConfig(text.value, this.#path);
    if (!world.ok) {
      this.#onInvalid(world.errors);
      return;
    }
    if (text.value === this.#applied) return;
    this.#applied = text.value;
    this.#onWorld(world.value);
  }

  async #read(): Promise<Result<string>> {
    try {
      return ok(await readFile(this.#path, 'utf8'));
    } catch (e) {
      return err(`${this.#path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
}
