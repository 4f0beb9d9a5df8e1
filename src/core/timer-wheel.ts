// Coarse shared timer wheel: O(1) schedule/cancel of per-connection and per-stream timeouts on one unref'd interval.

/** Marks a timer unlinked for firing in the current tick; cancelling it clears the mark. */
const kDue = -2;

/** Whatever a timer calls back; implemented by the owning connection/stream (no closure per timer). */
export interface TimerTarget {
  onTimer(timer: WheelTimer): void;
}

/** One reusable timer slot owned by a connection or stream; (re)armed with TimerWheel.schedule. */
export class WheelTimer {
  readonly target: TimerTarget;
  /** Owner-defined tag telling the target which timeout fired (e.g. idle vs headers). */
  kind: number;
  deadline: number;
  /** Intrusive list links; `slot` is -1 when not scheduled. */
  next: WheelTimer | null;
  prev: WheelTimer | null;
  slot: number;

  constructor(target: TimerTarget, kind = 0) {
    this.target = target;
    this.kind = kind;
    this.deadline = 0;
    this.next = null;
    this.prev = null;
    this.slot = -1;
  }

  get armed(): boolean {
    return this.slot >= 0;
  }
}

export interface TimerWheelOptions {
  /** Tick length in ms (resolution); default 100. */
  readonly tickMs?: number;
  /** Number of slots; timers further out than one turn stay in their slot until due. Default 1024. */
  readonly slots?: number;
  /** Clock in ms; default Date.now (injected in tests). */
  readonly now?: () => number;
  /** Drive ticks from an unref'd setInterval while timers are pending; default true (false in unit tests). */
  readonly autoStart?: boolean;
}

/** Owns the slots and the single interval; fires each timer once within one tick after its deadline. */
export class TimerWheel {
  readonly tickMs: number;
  readonly #heads: (WheelTimer | null)[];
  readonly #now: () => number;
  readonly #autoStart: boolean;
  #cursor: number;
  #lastTick: number;
  #count: number;
  #interval: NodeJS.Timeout | null;
  readonly #due: WheelTimer[];
  readonly #onInterval: () => void;

  constructor(opts: TimerWheelOptions = {}) {
    this.tickMs = opts.tickMs ?? 100;
    this.#heads = new Array<WheelTimer | null>(opts.slots ?? 1024).fill(null);
    this.#now = opts.now ?? Date.now;
    this.#autoStart = opts.autoStart ?? true;
    this.#cursor = 0;
    this.#lastTick = this.#now();
    this.#count = 0;
    this.#interval = null;
    this.#due = [];
    this.#onInterval = () => this.advance();
  }

  /** Timers currently scheduled. */
  get size(): number {
    return this.#count;
  }

  /** (Re)arms `timer` to fire `ms` from now; an armed timer is moved. `ms <= 0` only cancels. */
  schedule(timer: WheelTimer, ms: number): void {
    if (timer.slot !== -1) this.cancel(timer);
    if (ms <= 0) return;
    if (this.#count === 0) {
      this.#lastTick = this.#now();
      if (this.#autoStart && this.#interval === null) {
        this.#interval = setInterval(this.#onInterval, this.tickMs);
        this.#interval.unref();
      }
    }
    const now = this.#now();
    timer.deadline = now + ms;
    this.#link(timer);
    this.#count++;
  }

  /** Puts a timer in the slot reached at (or just after) its deadline. */
  #link(timer: WheelTimer): void {
    // Slot reached after the deadline: ceil so a timer never fires early relative to tick boundaries.
    const ticks = Math.max(1, Math.ceil((timer.deadline - this.#lastTick) / this.tickMs));
    const n = this.#heads.length;
    const slot = (this.#cursor + Math.min(ticks, n)) % n;
    const head = this.#heads[slot]!;
    timer.prev = null;
    timer.next = head;
    if (head !== null) head.prev = timer;
    this.#heads[slot] = timer;
    timer.slot = slot;
  }

  #unlink(timer: WheelTimer, slot: number): void {
    if (timer.prev !== null) timer.prev.next = timer.next;
    else this.#heads[slot] = timer.next;
    if (timer.next !== null) timer.next.prev = timer.prev;
    timer.next = null;
    timer.prev = null;
  }

  /**
   * Activity timers (stream idle): pushes an armed timer's deadline to `ms` from now without relinking
   * it (O(1), no list work per chunk); the tick that reaches its slot re-slots it if not yet due.
   * A shorter deadline, or an unarmed timer, is (re)scheduled; `ms <= 0` cancels.
   */
  touch(timer: WheelTimer, ms: number): void {
    if (timer.slot >= 0 && ms > 0) {
      const d = this.#now() + ms;
      if (d >= timer.deadline) {
        timer.deadline = d;
        return;
      }
    }
    this.schedule(timer, ms);
  }

  cancel(timer: WheelTimer): void {
    const slot = timer.slot;
    if (slot === -1) return;
    if (slot === kDue) {
      timer.slot = -1;
      return;
    }
    this.#unlink(timer, slot);
    timer.slot = -1;
    this.#count--;
    if (this.#count === 0) this.#stop();
  }

  /** Processes every tick elapsed up to now (called by the interval; tests call it after moving the clock). */
  advance(): void {
    const now = this.#now();
    const n = this.#heads.length;
    while (now - this.#lastTick >= this.tickMs && this.#count > 0) {
      this.#lastTick += this.tickMs;
      this.#cursor = (this.#cursor + 1) % n;
      this.#fireSlot(this.#cursor, now);
    }
    if (now - this.#lastTick >= this.tickMs) {
      // Nothing scheduled: realign instead of spinning through idle ticks.
      this.#lastTick = now - ((now - this.#lastTick) % this.tickMs);
    }
  }

  #fireSlot(slot: number, now: number): void {
    const due = this.#due;
    const n = this.#heads.length;
    let t = this.#heads[slot]!;
    while (t !== null) {
      const next: WheelTimer | null = t.next;
      if (t.deadline <= now) {
        this.cancel(t);
        t.slot = kDue;
        due.push(t);
      } else if (t.deadline - this.#lastTick < this.tickMs * n) {
        // Pushed back by touch() (or not due yet within this turn): move it to its new slot.
        this.#unlink(t, slot);
        this.#link(t);
      }
      t = next!;
    }
    // Fire after unlinking so callbacks may cancel or re-arm any timer, including ones due in this tick.
    for (let i = 0; i < due.length; i++) {
      const d = due[i]!;
      if (d.slot !== kDue) continue;
      d.slot = -1;
      d.target.onTimer(d);
    }
    due.length = 0;
  }

  #stop(): void {
    if (this.#interval !== null) {
      clearInterval(this.#interval);
      this.#interval = null;
    }
  }
}

/** The process-wide wheel used by the data path (100 ms ticks). */
export const sharedTimerWheel = new TimerWheel({ tickMs: 100 });
