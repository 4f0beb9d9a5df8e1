#!/usr/bin/env node
// Runs every compiled test file under dist/test with node:test, and fails when none exists or none ran.
// Usage: node scripts/run-tests.js [unit|integration|<path substring>...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

function walk(dir, out) {
  let names;
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) { if (n !== 'bench') walk(p, out); }
    else if (n.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk('dist/test', []).sort().filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/test');
  process.exit(1);
}
const args = ['--test', '--test-reporter=spec', '--test-concurrency=2', ...files];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (b) => { process.stdout.write(b); tail = (tail + b.toString()).slice(-4000); });
child.on('exit', (code, signal) => {
  const m = /ℹ tests (\d+)/.exec(tail);
  const count = m ? Number(m[1]) : 0;
  if (code === 0 && count === 0) {
    console.error('run-tests: the runner executed no test');
    process.exit(1);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
