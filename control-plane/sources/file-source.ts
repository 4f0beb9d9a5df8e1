// FileSource: owns the watch on one mesh config file (and the files it names); debounces edits and hands each new
// valid World to its owner.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { err, ok, type Result } from '../../src/core/result.js';
import { parseMeshText, type MeshFiles, type World } from '../model/index.js';

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
 * Watches the file's directory (so an editor's write-to-temp-then-rename is seen) and the directories of the files
 * it names (certificates, JWKS), coalesces bursts of events (quiet `quietMs`, at most `maxDelayMs`), reads
 * asynchronously, validates, and reports valid or invalid configs. Content identical to the last one seen (the
 * config and every named file) reports nothing.
 */
export class FileSource {
  readonly #path: string;
  readonly #onWorld: (world: World) => void;
  readonly #onInvalid: (errors: string[]) => void;
  readonly #quietMs: number;
  readonly #maxDelayMs: number;
  /** Watched directory → the base names in it that trigger a reload. */
  readonly #watchers = new Map<string, { watcher: FSWatcher; names: Set<string> }>();
  #trustDomain: string | null | undefined = undefined;
  #timer: NodeJS.Timeout | null = null;
  #burstStart = 0;
  #loading: Promise<void> | null = null;
  #reloadAgain = false;
  #lastSeen: string | null = null;
  #applied: string | null = null;
  #closed = false;

  constructor(filePath: string, opts: FileSourceOptions) {
    this.#path = filePath;
    this.#onWorld = opts.onWorld;
    this.#onInvalid = opts.onInvalid;
    this.#quietMs = opts.quietMs ?? 100;
    this.#maxDelayMs = opts.maxDelayMs ?? 1000;
  }

  /**
   * The trust domain every later config must agree with (see ParseOptions.trustDomain); set once the control
   * plane knows whether it runs a CA. `td` given to start() applies to the first load.
   */
  expectTrustDomain(td: string | null | undefined): void {
    this.#trustDomain = td;
  }

  /** Loads and validates the file once; when valid, starts watching and returns the first World. */
  async start(): Promise<Result<World>> {
    const text = await this.#read();
    if (!text.ok) return text;
    const { world, files } = await parseMeshText(text.value, this.#path, { trustDomain: this.#trustDomain });
    if (!world.ok) return world;
    const seen = fingerprint(text.value, files);
    this.#lastSeen = seen;
    this.#applied = seen;
    this.#watchFiles(files);
    return world;
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#watchers.values()) w.watcher.close();
    this.#watchers.clear();
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
    const { world, files } = await parseMeshText(text.value, this.#path, { trustDomain: this.#trustDomain });
    if (this.#closed) return;
    this.#watchFiles(files);
    const seen = fingerprint(text.value, files);
    if (seen === this.#lastSeen) return;
    this.#lastSeen = seen;
    if (!world.ok) {
      this.#onInvalid(world.errors);
      return;
    }
    if (seen === this.#applied) return;
    this.#applied = seen;
    this.#onWorld(world.value);
  }

  /** Watches the config's directory and those of the files it names (new ones are added, none removed). */
  #watchFiles(files: MeshFiles): void {
    if (this.#closed) return;
    for (const p of [this.#path, ...files.keys()]) {
      const dir = path.dirname(p);
      let w = this.#watchers.get(dir);
      if (w === undefined) {
        const names = new Set<string>();
        let watcher: FSWatcher;
        try {
          watcher = watch(dir, { persistent: true }, (_event, name) => {
            if (name === null || names.has(name)) this.#schedule();
          });
        } catch (e) {
          this.#onInvalid([`${p}: cannot watch ${dir}: ${(e as Error).message}`]);
          continue;
        }
        watcher.on('error', (e: Error) => this.#onInvalid([`${dir}: watch failed: ${e.message}`]));
        w = { watcher, names };
        this.#watchers.set(dir, w);
      }
      w.names.add(path.basename(p));
    }
  }

  async #read(): Promise<Result<string>> {
    try {
      return ok(await readFile(this.#path, 'utf8'));
    } catch (e) {
      return err(`${this.#path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
}

/** The config text plus every named file's content (or read error): equal fingerprints mean nothing changed. */
function fingerprint(text: string, files: MeshFiles): string {
  const parts = [text];
  for (const p of [...files.keys()].sort()) {
    const c = files.get(p)!;
    parts.push(p, c.ok ? c.value : `!${c.errors.join(';')}`);
  }
  return parts.join('\0');
}
