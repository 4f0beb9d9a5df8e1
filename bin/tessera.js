#!/usr/bin/env node
// Entry point of the `tessera` CLI: runs the compiled TypeScript in dist/ (built by `npm install`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('tessera: dist/ is missing; run `npm install` (or `npm run build`) first\n');
  process.exit(2);
}
await import(main);
