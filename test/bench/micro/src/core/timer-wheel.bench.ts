// Timer wheel: the per-request pattern (arm, touch, cancel) on 10k live timers.
import { TimerWheel, WheelTimer, type TimerTarget } from '../../../../../src/core/timer-wheel.js';
import { bench } from '../../bench.js';

export function run(): void {
  const target: TimerTarget = { onTimer: () => {} };
  const w = new TimerWheel({ autoStart: false });
  const timers = Array.from({ length: 10_000 }, () => new WheelTimer(target));
  for (const t of timers) w.schedule(t, 300_000);
  bench('timer wheel: schedule (re-arm) of a live timer', 2_000_000, (i) => w.schedule(timers[i % 10_000]!, 300_000));
  bench('timer wheel: touch (activity) of a live timer', 5_000_000, (i) => w.touch(timers[i % 10_000]!, 300_000));
  bench('timer wheel: cancel + schedule', 2_000_000, (i) => {
    const t = timers[i % 10_000]!;
    w.cancel(t);
    w.schedule(t, 15_000);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) run();
