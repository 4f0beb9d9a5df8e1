import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileSource } from '../../../../control-plane/sources/file-source.js';
import type { World } from '../../../../control-plane/model/index.js';

function mesh(port: number): string {
  return `services:
  - name: echo
    protocol: http
    instances: [{ id: echo-1, address: 127.0.0.1, port: ${port} }]
`;
}

type Event = { kind: 'world'; world: World } | { kind: 'invalid'; errors: string[] };

/** A FileSource on a fresh temp file, recording every callback. */
class Harness {
  readonly events: Event[] = [];
  source: FileSource | null = null;
  dir = '';
  file = '';

  async open(initial: string): Promise<ReturnType<FileSource['start']>> {
    this.dir = await mkdtemp(path.join(tmpdir(), 'tessera-fs-'));
    this.file = path.join(this.dir, 'mesh.yaml');
    await writeFile(this.file, initial);
    this.source = new FileSource(this.file, {
      onWorld: (world) => this.events.push({ kind: 'world', world }),
      onInvalid: (errors) => this.events.push({ kind: 'invalid', errors }),
    });
    return this.source.start();
  }

  /** Waits until `count` events were recorded (fails after `ms`). */
  async waitFor(count: number, ms = 1500): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.events.length < count) {
      if (Date.now() > deadline) assert.fail(`expected ${count} event(s) within ${ms} ms, got ${JSON.stringify(this.events.map((e) => e.kind))}`);
      await sleep(10);
    }
  }

  async close(): Promise<void> {
    this.source?.close();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

function appPort(world: World): number {
  return world.services.get('echo')!.instances[0]!.port;
}

describe('FileSource', () => {
  let h = new Harness();
  afterEach(async () => {
    await h.close();
    h = new Harness();
  });

  test('start() returns the first World; an edit yields a new World within a second', async () => {
    const first = await h.open(mesh(9001));
    assert.ok(first.ok);
    assert.equal(appPort(first.value), 9001);
    const t0 = Date.now();
    await writeFile(h.file, mesh(9002));
    await h.waitFor(1, 1000);
    assert.ok(Date.now() - t0 < 1000);
    const ev = h.events[0]!;
    assert.ok(ev.kind === 'world');
    assert.equal(appPort(ev.world), 9002);
  });

  test('an invalid edit reports errors and no World; fixing it yields a World', async () => {
    assert.ok((await h.open(mesh(9001))).ok);
    await writeFile(h.file, mesh(70000));
    await h.waitFor(1);
    const bad = h.events[0]!;
    assert.ok(bad.kind === 'invalid');
    assert.equal(bad.errors.length, 1);
    assert.match(bad.errors[0]!, /mesh\.yaml:4:\d+: services\[0\]\.instances\[0\]\.port: must be an integer 1-65535$/);
    await sleep(300);
    assert.equal(h.events.length, 1, 'nothing else after the invalid edit');
    await writeFile(h.file, mesh(9003));
    await h.waitFor(2);
    const good = h.events[1]!;
    assert.ok(good.kind === 'world');
    assert.equal(appPort(good.world), 9003);
  });

  test('an editor-style rename-replace is picked up', async () => {
    assert.ok((await h.open(mesh(9001))).ok);
    const tmp = path.join(h.dir, '.mesh.yaml.swp');
    await writeFile(tmp, mesh(9004));
    await rename(tmp, h.file);
    await h.waitFor(1);
    const ev = h.events[0]!;
    assert.ok(ev.kind === 'world');
    assert.equal(appPort(ev.world), 9004);
  });

  test('rewriting identical content reports nothing; other files in the directory are ignored', async () => {
    assert.ok((await h.open(mesh(9001))).ok);
    await writeFile(h.file, mesh(9001));
    await writeFile(path.join(h.dir, 'other.yaml'), 'not: [valid');
    await sleep(400);
    assert.deepEqual(h.events, []);
  });

  test('a burst of writes is debounced into one World with the last content', async () => {
    assert.ok((await h.open(mesh(9001))).ok);
    for (let p = 9010; p < 9015; p++) {
      await writeFile(h.file, mesh(p));
      await sleep(20);
    }
    await h.waitFor(1);
    await sleep(300);
    assert.equal(h.events.length, 1);
    const ev = h.events[0]!;
    assert.ok(ev.kind === 'world');
    assert.equal(appPort(ev.world), 9014);
  });

  test('start() on an invalid file returns the errors and does not watch', async () => {
    const r = await h.open('services: 3\n');
    assert.ok(!r.ok);
    assert.match(r.errors[0]!, /mesh\.yaml:1:11: services: must be a list$/);
    await writeFile(h.file, mesh(9001));
    await sleep(300);
    assert.deepEqual(h.events, []);
  });

  test('start() on a missing file names it', async () => {
    h.dir = await mkdtemp(path.join(tmpdir(), 'tessera-fs-'));
    const missing = path.join(h.dir, 'nope.yaml');
    h.source = new FileSource(missing, { onWorld: () => assert.fail('no world expected'), onInvalid: () => assert.fail('no report expected') });
    const r = await h.source.start();
    assert.deepEqual(r.ok ? [] : r.errors, [`${missing}: cannot read: ENOENT`]);
  });

  test('close() stops reporting', async () => {
    assert.ok((await h.open(mesh(9001))).ok);
    h.source!.close();
    await writeFile(h.file, mesh(9005));
    await sleep(300);
    assert.deepEqual(h.events, []);
  });
});
