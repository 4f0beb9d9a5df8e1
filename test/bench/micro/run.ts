// Runs every micro-benchmark (not part of `npm test`): node dist/test/bench/micro/run.js [filter]
// BENCH_SCALE=0.1 shortens every run (iteration counts are bounded and fixed per benchmark).
import { run as accessLog } from './sidecar/http/access-log.bench.js';
import { run as parser } from './sidecar/http/h1/parser.bench.js';
import { run as routeTable } from './sidecar/router/route-table.bench.js';
import { run as lb } from './sidecar/upstream/lb.bench.js';
import { run as timerWheel } from './src/core/timer-wheel.bench.js';
import { run as xxhash64 } from './src/core/xxhash64.bench.js';

const all: [string, () => void][] = [
  ['parser', parser],
  ['access-log', accessLog],
  ['route-table', routeTable],
  ['lb', lb],
  ['timer-wheel', timerWheel],
  ['xxhash64', xxhash64],
];
const filter = process.argv[2] ?? '';
process.stdout.write(`micro benchmarks — node ${process.version}\n`);
for (const [name, fn] of all) if (name.includes(filter)) fn();
