import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimerWheel, WheelTimer, type TimerTarget } from '../../../../src/core/timer-wheel.js';

class Recorder implements TimerTarget {
  fired: number[] = [];
  constructor(readonly now: () => number) {}
  onTimer(t: WheelTimer): void {
    this.fired.push(t.kind);
  }
}

describe('TimerWheel', () => {
  it('fires after the deadline, within one tick, and not before', () => {
    let now = 1000;
    const w = new TimerWheel({ tickMs: 100, slots: 16, now: () => now, autoStart: false });
    const r = new Recorder(() => now);
    const a = new WheelTimer(r, 1);
    const b = new WheelTimer(r, 2);
    w.schedule(a, 250);
    w.schedule(b, 5000); // beyond one turn of the wheel (1.6 s)
    assert.equal(w.size, 2);
    now += 200;
    w.advance();
    assert.deepEqual(r.fired, []);
    now += 150;
    w.advance();
    assert.deepEqual(r.fired, [1]);
    assert.equal(a.armed, false);
    now += 4000;
    w.advance();
    assert.deepEqual(r.fired, [1]);
    now += 800;
    w.advance();
    assert.deepEqual(r.fired, [1, 2]);
    assert.equal(w.size, 0);
  });

  it('cancel and re-arm are O(1) and take effect', () => {
    let now = 0;
    const w = new TimerWheel({ tickMs: 10, slots: 8, now: () => now, autoStart: false });
    const r = new Recorder(() => now);
    const t = new WheelTimer(r);
    w.schedule(t, 30);
    w.cancel(t);
    assert.equal(w.size, 0);
    w.schedule(t, 30);
    w.schedule(t, 60); // moves it
    assert.equal(w.size, 1);
    now = 40;
    w.advance();
    assert.equal(r.fired.length, 0);
    now = 80;
    w.advance();
    assert.equal(r.fired.length, 1);
  });

  it('a callback may cancel another timer due in the same tick', () => {
    let now = 0;
    const w = new TimerWheel({ tickMs: 10, slots: 8, now: () => now, autoStart: false });
    const fired: string[] = [];
    const second: { t: WheelTimer | null } = { t: null };
    const first = new WheelTimer({ onTimer: () => { fired.push('first'); w.cancel(second.t!); } });
    second.t = new WheelTimer({ onTimer: () => fired.push('second') });
    w.schedule(second.t, 10);
    w.schedule(first, 10);
    now = 20;
    w.advance();
    assert.deepEqual(fired, ['first']);
  });

  it('drives itself with an unref interval', async () => {
    const w = new TimerWheel({ tickMs: 10 });
    let fired = false;
    w.schedule(new WheelTimer({ onTimer: () => { fired = true; } }), 20);
    const until = Date.now() + 1000;
    while (!fired && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fired, true);
  });
});

describe('TimerWheel.touch', () => {
  it('pushes an armed deadline back without relinking; the due tick re-slots it', () => {
    let now = 0;
    const w = new TimerWheel({ tickMs: 100, slots: 16, now: () => now, autoStart: false });
    const r = new Recorder(() => now);
    const t = new WheelTimer(r, 7);
    w.schedule(t, 300);
    for (let i = 0; i < 10; i++) {
      now += 100;
      w.advance();
      w.touch(t, 300); // activity every tick: never fires
    }
    assert.deepEqual(r.fired, []);
    assert.equal(w.size, 1);
    now += 250;
    w.advance();
    assert.deepEqual(r.fired, []);
    now += 100;
    w.advance();
    assert.deepEqual(r.fired, [7]);
    assert.equal(w.size, 0);
    // Unarmed: touch arms it; a shorter deadline re-schedules it earlier.
    w.touch(t, 1000);
    w.touch(t, 100);
    now += 200;
    w.advance();
    assert.deepEqual(r.fired, [7, 7]);
    // A touch beyond one turn of the wheel (1.6 s) still fires once, on time.
    w.schedule(t, 200);
    w.touch(t, 5000);
    for (let i = 0; i < 49; i++) {
      now += 100;
      w.advance();
    }
    assert.deepEqual(r.fired, [7, 7]);
    now += 200;
    w.advance();
    assert.deepEqual(r.fired, [7, 7, 7]);
  });
});
