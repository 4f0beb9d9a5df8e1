// Project rules checked on the source tree (STYLE.md §1, §5, §6): layer boundaries, no sync I/O on the
// data path, and every error code documented in the README.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../../src/core/errors.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.ts')) out.push(p);
    }
  };
  walk(path.join(REPO, dir));
  return out;
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
}

test('sidecar/ and control-plane/ never import each other', () => {
  const bad: string[] = [];
  for (const [dir, forbidden] of [
    ['sidecar', 'control-plane'],
    ['control-plane', 'sidecar'],
  ] as const) {
    for (const f of tsFiles(dir)) {
      for (const i of imports(f)) {
        if (!i.startsWith('.')) continue;
        const target = path.relative(REPO, path.resolve(path.dirname(f), i));
        if (target.startsWith(`${forbidden}/`)) bad.push(`${path.relative(REPO, f)} imports ${i}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

test('no synchronous fs/child_process/zlib/crypto calls in the sidecar data path', () => {
  const bad: string[] = [];
  for (const f of tsFiles('sidecar')) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/\b(\w+Sync)\s*\(/g)) bad.push(`${path.relative(REPO, f)}: ${m[1]}`);
  }
  assert.deepEqual(bad, []);
});

test('every data-path error code (one with an HTTP status) is asserted by some test', () => {
  const tests = tsFiles('test')
    .filter((f) => !f.endsWith('architecture.test.ts'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const untested = Object.entries(ErrorCodes)
    .filter(([, v]) => v.status !== 0)
    .map(([k]) => k)
    .filter((k) => !tests.includes(`'${k}'`));
  assert.deepEqual(untested, []);
});

test('every error code is documented in README.md', () => {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const missing = Object.keys(ErrorCodes).filter((c) => !readme.includes(c));
  assert.deepEqual(missing, []);
});
