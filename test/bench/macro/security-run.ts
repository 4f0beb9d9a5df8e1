// Macro benchmark, issue 4's goals: an mTLS hop between two sidecars against a plaintext hop, and a JWT-protected
// route (ES256, RS256; verified-token cache warm) against an open route, on kept-alive connections driven by wrk.
// Usage: npm run build && node dist/test/bench/macro/security-run.js   (or npm run bench:security)
// Env: CONNECTIONS (50), DURATION (10s), WARMUP (2s), REPEAT (3: rounds; a round runs every variant of a comparison
// back to back, in reverse order every other round, and the ratio is the median of the rounds' ratios),
// ONLY (mtls,jwt), WRK_THREADS (1), REPORT_ONLY (1: only rebuild the goals and the section from security-latest.json).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { request } from '../../helpers/mesh.js';
import {
  BENCH_MD,
  baseMachine,
  benchTempDir,
  loadavg,
  medianRun,
  positiveInt,
  repoRoot,
  runMain,
  seconds,
  selectTargets,
  ticksToUs,
  unavailableReason,
} from './common.js';
import { commandVersion, cpuTicks, httpRequest, processTree, rssKiB, stopProcess, type Proc } from './proc.js';
import {
  carriedOverLines,
  f0,
  f2,
  fx,
  goalsTableLines,
  mergeWithPrevious,
  ratio,
  replaceSection,
  rpsCell,
  writeJson,
  type BaseMachine,
  type Goal,
  type MeasuredTarget,
  type MeasuredWorkload,
} from './report.js';
import {
  HOP_CLUSTERS,
  JWT_ROUTES,
  JWT_STAT_PREFIX,
  makePki,
  spiffeId,
  startJwtSidecar,
  startMtlsPair,
  type BenchPki,
  type MtlsPair,
} from './security-targets.js';
import { BODY_16K, SMALL_BODY, startOrigin } from './targets.js';
import { runWrk } from './wrk.js';

const RESULTS = path.join(repoRoot, 'test/bench/results/security-latest.json');

type ComparisonName = 'mtls' | 'jwt';
const COMPARISONS: readonly ComparisonName[] = ['mtls', 'jwt'];

/** Each variant's RPS must reach this share of its baseline's (worst workload): the issue's bars. */
const GOALS: Readonly<Record<ComparisonName, { readonly label: string; readonly min: number }>> = {
  mtls: { label: 'mTLS hop RPS ≥ 0.7× plaintext hop (client → A → B → origin)', min: 0.7 },
  jwt: { label: 'JWT-protected route RPS ≥ 0.8× open route (verified-token cache warm)', min: 0.8 },
};

interface SecurityWorkload {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
}
const GET_100B: SecurityWorkload = { name: 'get-100b', path: '/small', bytes: SMALL_BODY.length };
const GET_16K: SecurityWorkload = { name: 'get-16k', path: '/16k', bytes: BODY_16K };

/** One way through the sidecar(s): a listener port and a path prefix; a wrk Lua script when it sends a token. */
interface Variant {
  readonly name: string;
  readonly port: number;
  readonly prefix: string;
  readonly script?: string;
}

/** What one comparison runs: the variants (baseline first), the workloads, the processes measured, and its checks. */
interface Setup {
  readonly baseline: Variant;
  readonly variants: readonly Variant[];
  readonly workloads: readonly SecurityWorkload[];
  readonly sidecars: readonly { readonly label: string; readonly proc: Proc }[];
  /** Before and after the load: every variant answers as it should, and is what it claims (TLS, token required). */
  check(): Promise<void>;
  /** After the load: what the sidecars' stats say about the runs (handshakes, token cache). */
  notes(): Promise<string[]>;
}

/** One variant × workload (the median-RPS round); `cpuUsPerReq` sums the sidecars, `cpuUsPerReqBySidecar` splits it. */
interface VariantResult extends MeasuredWorkload {
  readonly variant: string;
  readonly cpuUsPerReqBySidecar: Readonly<Record<string, number | null>>;
}

/** variant / baseline, per workload: the median of the rounds' ratios (each round measures both within seconds). */
interface RatioResult {
  readonly workload: string;
  readonly variant: string;
  readonly baseline: string;
  readonly rps: number | null;
  /** The ratio of every round (REPEAT). */
  readonly rpsRounds: number[];
  readonly cpu: number | null;
}

interface ComparisonResult extends MeasuredTarget<ComparisonName, VariantResult> {
  readonly baseline: string;
  readonly ratios: RatioResult[];
  readonly notes: string[];
}

interface SecurityReport {
  readonly generatedAt: string;
  /** `openssl`: the CLI that makes the certificates; `nodeOpenssl`: the library the sidecars' TLS runs on. */
  readonly machine: BaseMachine & { readonly wrk?: string; readonly openssl?: string; readonly nodeOpenssl?: string };
  readonly settings: {
    readonly connections: number;
    readonly durationS: number;
    readonly warmupS: number;
    readonly wrkThreads: number;
    readonly repeat: number;
    readonly loadavgBefore: string;
  };
  targets: ComparisonResult[];
  goals?: Goal[];
}
type Settings = SecurityReport['settings'];

const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function stats(adminPort: number): Promise<Record<string, number>> {
  const r = await request(`http://127.0.0.1:${adminPort}/stats?format=json`, { timeoutMs: 3000 });
  if (r.status !== 200) throw new Error(`admin :${adminPort} /stats: status ${r.status}`);
  return JSON.parse(r.body) as Record<string, number>;
}

async function expectReply(port: number, p: string, bytes: number, headers: Record<string, string> = {}, status = 200): Promise<void> {
  const r = await request(`http://127.0.0.1:${port}${p}`, { headers, timeoutMs: 3000 });
  if (r.status !== status || (status === 200 && Buffer.byteLength(r.body) !== bytes)) {
    throw new Error(`GET :${port}${p}: status ${r.status}, ${Buffer.byteLength(r.body)} body bytes (want ${status}${status === 200 ? `, ${bytes}` : ''}): ${r.body.slice(0, 200)}`);
  }
}

// ---- the two comparisons ------------------------------------------------------------------

/** One handshake to B's mTLS listener with A's certificate: what A and B negotiate (both are Node on the same OpenSSL). */
function probeTls(port: number, pki: BenchPki): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.a.cert),
      key: readFileSync(pki.a.key),
      ALPNProtocols: ['http/1.1'],
      servername: 'b.default.svc',
      checkServerIdentity: () => undefined, // B's certificate names a SPIFFE ID, not a host; the sidecars check the SAN
    });
    s.setTimeout(3000, () => s.destroy(new Error(`TLS probe of :${port} timed out`)));
    s.once('secureConnect', () => {
      const out = `${s.getProtocol() ?? '?'} ${s.getCipher().standardName}, ALPN ${s.alpnProtocol || 'none'}, server ${s.getPeerCertificate().subjectaltname ?? '?'}`;
      s.end();
      resolve(out);
    });
    s.once('error', reject);
  });
}

function mtlsSetup(pair: MtlsPair, pki: BenchPki): Setup {
  const baseline: Variant = { name: 'plaintext', port: pair.plainPort, prefix: '' };
  const mtls: Variant = { name: 'mtls', port: pair.mtlsPort, prefix: '' };
  const workloads = [GET_100B, GET_16K];
  return {
    baseline,
    variants: [mtls],
    workloads,
    sidecars: [
      { label: 'A', proc: pair.a },
      { label: 'B', proc: pair.b },
    ],
    async check() {
      for (const v of [baseline, mtls]) for (const wl of workloads) await expectReply(v.port, wl.path, wl.bytes);
      // B's mTLS listener must not answer plaintext HTTP.
      const plain = await httpRequest(pair.bMtlsPort, '/small', 'GET', undefined, 2000).then(
        (r) => `status ${r.status}`,
        () => null,
      );
      if (plain !== null) throw new Error(`B's mTLS listener :${pair.bMtlsPort} answered plaintext HTTP (${plain})`);
    },
    async notes() {
      const a = await stats(pair.aAdmin);
      const b = await stats(pair.bAdmin);
      const scope = `listener.127.0.0.1_${pair.bMtlsPort}.ssl`;
      const c = `cluster.${HOP_CLUSTERS.mtls}`;
      const probe = await probeTls(pair.bMtlsPort, pki); // after reading the stats: not counted in them
      return [
        `a probe handshake to B's mTLS listener with A's certificate: ${probe}`,
        `A → B over mTLS: ${f0(a[`${c}.upstream_rq_total`])} requests on ${f0(a[`${c}.upstream_cx_total`])} connections; ` +
          `B accepted ${f0(b[`${scope}.handshake`])} TLS handshakes (client \`${spiffeId('a')}\`), ` +
          `${f0(b[`${scope}.fail_verify`])} failed verification, ${f0(b[`${scope}.connection_error`])} connection errors ` +
          '(the plaintext probe of the check counts there)',
      ];
    },
  };
}

/** A wrk script sending `Authorization: Bearer <token>` on every request. */
function tokenScript(dir: string, name: string, token: string): string {
  const file = path.join(dir, `${name}.lua`);
  writeFileSync(file, `wrk.headers["Authorization"] = "Bearer ${token}"\n`);
  return file;
}

function jwtSetup(dir: string, side: Awaited<ReturnType<typeof startJwtSidecar>>): Setup {
  const open: Variant = { name: 'open', port: side.port, prefix: JWT_ROUTES.open };
  const es256: Variant = { name: 'jwt-es256', port: side.port, prefix: JWT_ROUTES.es256, script: tokenScript(dir, 'jwt-es256', side.tokens.es256) };
  const rs256: Variant = { name: 'jwt-rs256', port: side.port, prefix: JWT_ROUTES.rs256, script: tokenScript(dir, 'jwt-rs256', side.tokens.rs256) };
  const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });
  return {
    baseline: open,
    variants: [es256, rs256],
    workloads: [GET_100B],
    sidecars: [{ label: 'sidecar', proc: side.proc }],
    async check() {
      const p = GET_100B.path;
      await expectReply(side.port, `${JWT_ROUTES.open}${p}`, GET_100B.bytes);
      await expectReply(side.port, `${JWT_ROUTES.es256}${p}`, 0, {}, 401);
      await expectReply(side.port, `${JWT_ROUTES.rs256}${p}`, 0, {}, 401);
      await expectReply(side.port, `${JWT_ROUTES.es256}${p}`, GET_100B.bytes, bearer(side.tokens.es256));
      await expectReply(side.port, `${JWT_ROUTES.rs256}${p}`, GET_100B.bytes, bearer(side.tokens.rs256));
    },
    async notes() {
      const s = await stats(side.admin);
      const k = `http.${JWT_STAT_PREFIX}.jwt_authn`;
      return [
        `jwt_authn: ${f0(s[`${k}.allowed`])} requests allowed (the open route's included), ${f0(s[`${k}.denied`])} denied (the checks' ` +
          `token-less requests); verified-token cache ${f0(s[`${k}.jwt_cache_hit`])} hits, ${f0(s[`${k}.jwt_cache_miss`])} misses`,
      ];
    },
  };
}

// ---- measuring ------------------------------------------------------------------------

async function sample(setup: Setup, v: Variant, wl: SecurityWorkload, s: Settings, durationS: number): Promise<VariantResult> {
  const trees = (): number[][] => setup.sidecars.map((x) => processTree(x.proc.pid));
  const before = trees().map(cpuTicks);
  const r = await runWrk({
    url: `http://127.0.0.1:${v.port}${v.prefix}${wl.path}`,
    connections: s.connections,
    threads: s.wrkThreads,
    durationS,
    script: v.script,
  });
  const after = trees();
  for (const x of setup.sidecars) {
    if (x.proc.exitedYet()) throw new Error(`${x.proc.name} exited during ${v.name} ${wl.name}: ${x.proc.outputTail()}`);
  }
  const bySidecar: Record<string, number | null> = {};
  let total = 0;
  setup.sidecars.forEach((x, i) => {
    const us = ticksToUs(cpuTicks(after[i] as number[]) - (before[i] as number));
    bySidecar[x.label] = r.requests > 0 ? us / r.requests : null;
    total += us;
  });
  return {
    variant: v.name,
    workload: wl.name,
    requests: r.requests,
    rps: r.rps,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors: r.errors,
    cpuUsPerReq: r.requests > 0 ? total / r.requests : null,
    cpuUsPerReqBySidecar: bySidecar,
    rssKiB: rssKiB(after.flat()),
  };
}

/** Warm-up of every variant, then REPEAT rounds alternating the variants (ABBA…); medians and paired ratios. */
async function measureWorkload(setup: Setup, wl: SecurityWorkload, s: Settings): Promise<{ results: VariantResult[]; ratios: RatioResult[] }> {
  const all = [setup.baseline, ...setup.variants];
  if (s.warmupS > 0) for (const v of all) await sample(setup, v, wl, s, s.warmupS);
  const runs = new Map<string, VariantResult[]>(all.map((v) => [v.name, []]));
  for (let round = 0; round < s.repeat; round++) {
    for (const v of round % 2 === 0 ? all : [...all].reverse()) runs.get(v.name)!.push(await sample(setup, v, wl, s, s.durationS));
  }
  const results = all.map((v) => medianRun(runs.get(v.name)!));
  for (const w of results) {
    console.log(
      `  ${w.workload.padEnd(9)} ${w.variant.padEnd(10)} ${Math.round(w.rps).toString().padStart(7)} rps  p50 ${w.p50Ms.toFixed(2)} ms  p99 ${w.p99Ms.toFixed(2)} ms` +
        `  sidecar cpu ${cpuCell(w)} µs/req  errors ${w.errors}`,
    );
  }
  const base = runs.get(setup.baseline.name)!;
  const ratios = setup.variants.map((v): RatioResult => {
    const mine = runs.get(v.name)!;
    const rps = mine.map((m, i) => ratio(m.rps, base[i]?.rps)).filter((x): x is number => x !== null);
    const cpu = mine.map((m, i) => ratio(m.cpuUsPerReq, base[i]?.cpuUsPerReq)).filter((x): x is number => x !== null);
    const r: RatioResult = { workload: wl.name, variant: v.name, baseline: setup.baseline.name, rps: median(rps), rpsRounds: rps.map((x) => Math.round(x * 1000) / 1000), cpu: median(cpu) };
    console.log(`  ${wl.name.padEnd(9)} ${v.name} / ${setup.baseline.name}: RPS ${fx(r.rps)}, sidecar CPU per request ${fx(r.cpu)}`);
    return r;
  });
  return { results, ratios };
}

async function startComparison(name: ComparisonName, dir: string, originPort: number, s: Settings, started: Proc[]): Promise<Setup> {
  const ctx = { dir, repoRoot };
  if (name === 'mtls') {
    const pki = await makePki(dir);
    return mtlsSetup(await startMtlsPair(ctx, originPort, pki, started), pki);
  }
  // Tokens outlive every run this harness can make (warm-up + rounds), so none expires mid-run.
  const ttlS = 3600 + Math.ceil((s.warmupS + s.durationS) * s.repeat * 4);
  return jwtSetup(dir, await startJwtSidecar(ctx, originPort, ttlS, started));
}

async function benchComparison(name: ComparisonName, dir: string, originPort: number, s: Settings, at: string): Promise<ComparisonResult> {
  const started: Proc[] = [];
  let baseline = name === 'mtls' ? 'plaintext' : 'open';
  try {
    const setup = await startComparison(name, dir, originPort, s, started);
    baseline = setup.baseline.name;
    await setup.check();
    const idleRssKiB = rssKiB(setup.sidecars.flatMap((x) => processTree(x.proc.pid)));
    const workloads: VariantResult[] = [];
    const ratios: RatioResult[] = [];
    for (const wl of setup.workloads) {
      const m = await measureWorkload(setup, wl, s);
      workloads.push(...m.results);
      ratios.push(...m.ratios);
    }
    await setup.check(); // still answering, and still TLS / still requiring the token, after the load
    const notes = await setup.notes();
    for (const n of notes) console.log(`  ${name}: ${n}`);
    return { target: name, available: true, measuredAt: at, idleRssKiB, workloads, baseline, ratios, notes };
  } catch (err) {
    const reason = unavailableReason(err, name.padEnd(9));
    return { target: name, available: false, reason, measuredAt: at, idleRssKiB: null, workloads: [], baseline, ratios: [], notes: [] };
  } finally {
    for (const p of started.reverse()) await stopProcess(p);
  }
}

// ---- goals and BENCHMARKS.md ------------------------------------------------------------------

function evaluateSecurityGoals(report: SecurityReport): Goal[] {
  return COMPARISONS.map((name): Goal => {
    const { label, min } = GOALS[name];
    const t = report.targets.find((x) => x.target === name);
    let worst: RatioResult | undefined;
    for (const r of t?.available ? t.ratios : []) if (r.rps !== null && (!worst || r.rps < (worst.rps as number))) worst = r;
    if (!worst) return { goal: label, measured: t?.available ? 'n/a' : `n/a (${name} ${t ? 'unavailable' : 'not run'})`, status: 'n/a' };
    const v = worst.rps as number;
    // Two decimals, or three where two would round across the bar (0.7985 is not met, and must not read 0.80×).
    const shown = Number(v.toFixed(2)) >= min === v >= min ? v.toFixed(2) : v.toFixed(3);
    return { goal: label, measured: `${shown}× (worst: ${worst.variant} ${worst.workload})`, status: v >= min ? 'met' : 'not met' };
  });
}

/** Sidecar CPU µs per request, split per sidecar when there are several. */
function cpuCell(w: VariantResult): string {
  const parts = Object.entries(w.cpuUsPerReqBySidecar);
  return parts.length > 1 ? `${f2(w.cpuUsPerReq)} (${parts.map(([k, v]) => `${k} ${f2(v)}`).join(' + ')})` : f2(w.cpuUsPerReq);
}

/** A paired ratio with, for several rounds, their range in brackets. */
function ratioCell(v: number | null, runs: readonly number[]): string {
  return runs.length < 2 ? fx(v) : `${fx(v)} (${Math.min(...runs).toFixed(2)}–${Math.max(...runs).toFixed(2)})`;
}

const mib = (kib: number | null | undefined): string => (kib == null ? '–' : (kib / 1024).toFixed(1));

function table(report: SecurityReport, name: ComparisonName, variantTitle: string, cpuTitle: string): string {
  const t = report.targets.find((x) => x.target === name);
  if (!t) return '_not run_';
  if (!t.available) return `unavailable: ${(t.reason ?? 'unknown').replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 400)}`;
  const rows = [
    `| workload | ${variantTitle} | RPS | p50 ms | p99 ms | ${cpuTitle} | RSS MiB idle → loaded | RPS × ${t.baseline} | CPU × ${t.baseline} | errors |`,
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const w of t.workloads) {
    const r = t.ratios.find((x) => x.workload === w.workload && x.variant === w.variant);
    const carried = t.measuredAt !== report.generatedAt ? ' †' : '';
    rows.push(
      `| ${w.workload} | ${w.variant}${carried} | ${rpsCell(w)} | ${f2(w.p50Ms)} | ${f2(w.p99Ms)} | ${cpuCell(w)} | ${mib(t.idleRssKiB)} → ${mib(w.rssKiB)} | ` +
        `${r ? ratioCell(r.rps, r.rpsRounds) : '1.00× (baseline)'} | ${r ? fx(r.cpu) : '–'} | ${w.errors} |`,
    );
  }
  if (t.notes.length > 0) rows.push('', ...t.notes.map((n) => `- ${n}.`));
  return rows.join('\n');
}

function renderSecurityResults(report: SecurityReport): string {
  const m = report.machine;
  const s = report.settings;
  return [
    '## Results: security (mTLS hop, JWT-protected route)',
    '',
    'Source: `test/bench/macro/security-run.ts` (security-targets.ts: certificates, bootstraps, tokens). Run:',
    '`npm run bench:security` (knobs: `CONNECTIONS=50 DURATION=10s WARMUP=2s REPEAT=3 WRK_THREADS=1 ONLY=mtls,jwt`,',
    '`REPORT_ONLY=1`); results in `test/bench/results/security-latest.json`. Origin: the nginx origin above.',
    '',
    '- **Load**: `wrk --latency`, keep-alive, HTTP/1.1 plaintext from wrk to the first sidecar. Each comparison starts its',
    '  sidecars once and runs its variants in the same processes: a warm-up per variant, then `REPEAT` rounds, each round',
    '  every variant back to back (order reversed every other round). Rows show the median-RPS round (range in brackets);',
    '  **RPS × / CPU ×** are the median of the rounds\' paired ratios. CPU = utime+stime of the sidecar processes over the',
    '  round / requests. Static bootstraps (`node bin/tessera.js sidecar --bootstrap`, `--access-log off`), no control plane.',
    '- **mTLS hop**: wrk → sidecar A (outbound listener) → sidecar B (inbound listener) → origin. `plaintext`: A → B plain.',
    `  \`mtls\`: A's cluster has an UpstreamTlsContext (A's certificate, \`sni\`, \`match_typed_subject_alt_names\` URI exact`,
    `  \`${spiffeId('b')}\`), B's filter chain a DownstreamTlsContext (\`require_client_certificate\`, SAN \`${spiffeId('a')}\`);`,
    '  a P-256 root CA and two P-256 leaves made with openssl per run, read by the sidecars through `filename` data',
    '  sources. Both hops live side by side in the same two processes (two listeners on each, two clusters on A). The check',
    '  before and after the load also makes sure B\'s mTLS listener refuses plaintext HTTP. CPU = A + B.',
    '- **JWT route**: one sidecar, one listener: `envoy.filters.http.jwt_authn` (one provider, local JWKS with an ES256 and',
    '  an RS256 key, issuer and audience checked) before the router. `open`: `/open/` (a rule with no requirement, no token',
    '  sent); `jwt-es256` / `jwt-rs256`: `/es256/`, `/rs256/` requiring the provider, every request carrying the same',
    '  `Authorization: Bearer` token (a wrk Lua script), so all but the first hit the verified-token cache. All three routes',
    '  `prefix_rewrite` to `/small`. The check also makes sure a request without a token gets 401.',
    '',
    `Last run: ${report.generatedAt} — ${s.connections} connections, ${s.durationS} s per measured run after a ${s.warmupS} s warm-up per variant, ` +
      `${s.repeat} round(s), wrk with ${s.wrkThreads} thread(s); load average before: ${s.loadavgBefore}.`,
    '',
    `Machine: ${m.nproc} cores, ${m.cpuModel}; Linux ${m.kernel}; Node ${m.node} (OpenSSL ${m.nodeOpenssl ?? '?'}); ${m.nginx ?? 'nginx ?'}; ` +
      `${m.wrk ?? 'wrk ?'}; certificates: ${m.openssl ?? 'openssl ?'}.`,
    '',
    '### mTLS hop vs plaintext hop (two sidecars)',
    '',
    table(report, 'mtls', 'A → B hop', 'sidecar CPU µs/req (A + B)'),
    '',
    '### JWT-protected route vs open route (one sidecar)',
    '',
    table(report, 'jwt', 'route', 'sidecar CPU µs/req'),
    '',
    ...carriedOverLines(report),
    '### Goals (issue 4)',
    '',
    ...goalsTableLines(report.goals ?? evaluateSecurityGoals(report)),
  ].join('\n');
}

const BEGIN = '<!-- bench:security:begin (generated by test/bench/macro/security-run.ts; do not edit by hand) -->';
const END = '<!-- bench:security:end -->';
const AFTER = ['<!-- bench:h2:end -->', '<!-- bench:results:end -->'];

/** Replaces the generated section of BENCHMARKS.md; the first time it goes after the HTTP/2 (else HTTP/1.1) section, else at the end. */
function updateBenchmarksMdSecurity(report: SecurityReport, file: string): void {
  const section = `${BEGIN}\n${renderSecurityResults(report)}\n${END}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const replaced = replaceSection(text, BEGIN, END, section);
  if (replaced !== null) {
    text = replaced;
  } else {
    const anchor = AFTER.find((a) => text.includes(a));
    const at = anchor ? text.indexOf(anchor) + anchor.length : text.length;
    const rest = text.slice(at).replace(/^\n+/, '');
    text = `${text.slice(0, at).replace(/\n*$/, '\n\n')}${section}\n${rest === '' ? '' : `\n${rest}`}`;
  }
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}

function finish(report: SecurityReport): void {
  report.targets.sort((a, b) => COMPARISONS.indexOf(a.target) - COMPARISONS.indexOf(b.target));
  report.goals = evaluateSecurityGoals(report);
  writeJson(report, RESULTS);
  updateBenchmarksMdSecurity(report, BENCH_MD);
}

async function main(): Promise<void> {
  if (process.env.REPORT_ONLY === '1') {
    finish(JSON.parse(readFileSync(RESULTS, 'utf8')) as SecurityReport);
    console.log(`bench-security: regenerated ${path.relative(repoRoot, BENCH_MD)} from ${path.relative(repoRoot, RESULTS)}`);
    return;
  }
  const machine: SecurityReport['machine'] = {
    ...baseMachine(),
    wrk: commandVersion('wrk', ['--version'])?.replace(/ Copyright.*$/, ''),
    openssl: commandVersion('openssl', ['version'])?.replace(/ \(Library.*$/, ''),
    nodeOpenssl: process.versions.openssl,
  };
  const settings: Settings = {
    connections: positiveInt(process.env.CONNECTIONS, 50, 'CONNECTIONS'),
    durationS: seconds(process.env.DURATION, 10),
    warmupS: seconds(process.env.WARMUP, 2),
    wrkThreads: positiveInt(process.env.WRK_THREADS, 1, 'WRK_THREADS'),
    repeat: positiveInt(process.env.REPEAT, 3, 'REPEAT'),
    loadavgBefore: loadavg(),
  };
  const { only, targets } = selectTargets(COMPARISONS);
  for (const [bin, tool] of [['wrk', machine.wrk], ['nginx', machine.nginx], ['openssl', machine.openssl]] as const) {
    if (!tool) throw new Error(`${bin} not found: run \`bash scripts/install-bench-deps.sh\` first`);
  }

  const dir = benchTempDir('tessera-bench-security-');
  const generatedAt = new Date().toISOString();
  const report: SecurityReport = { generatedAt, machine, settings, targets: [] };
  console.log(
    `bench-security: ${targets.join(', ')}; ${settings.connections} connections, ${settings.durationS} s × ${settings.repeat} round(s) ` +
      `(+${settings.warmupS} s warm-up per variant), temp ${dir}`,
  );
  const origin = await startOrigin(dir);
  try {
    for (const t of targets) {
      report.targets.push(await benchComparison(t, dir, origin.port, settings, generatedAt));
      if (origin.proc.exitedYet()) throw new Error(`origin nginx exited: ${origin.proc.outputTail()}`);
    }
  } finally {
    await stopProcess(origin.proc);
  }

  if (only) mergeWithPrevious(report, RESULTS);
  finish(report);
  console.log(`bench-security: wrote ${path.relative(repoRoot, RESULTS)} and ${path.relative(repoRoot, BENCH_MD)}`);
  for (const g of report.goals ?? []) console.log(`  goal: ${g.goal}: ${g.measured} → ${g.status}`);
}

runMain('bench-security', main);
