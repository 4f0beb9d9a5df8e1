import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { StatsStore } from '../../../../../src/observability/stats.js';
import { Issues } from '../../../../../src/xds/resources/common.js';
import { validateApiKeyAuthConfig, type ApiKeyAuthConfig } from '../../../../../src/xds/resources/filters/api-key.js';
import { TypeUrl } from '../../../../../src/xds/type-urls.js';
import { apiKeyFilterFactory } from '../../../../../sidecar/filters/http/api-key/config.js';
import {
  API_KEY_CHALLENGE,
  API_KEY_INVALID_CHALLENGE,
  API_KEY_NAMESPACE,
  ApiKeyShared,
} from '../../../../../sidecar/filters/http/api-key/filter.js';
import { ApiKeyIndex } from '../../../../../sidecar/filters/http/api-key/key-index.js';
import { httpFilterFactories } from '../../../../../sidecar/filters/index.js';
import { FilterStatus } from '../../../../../sidecar/http/filter.js';
import { httpToGrpcStatus } from '../../../../../sidecar/http/grpc.js';
import { HeaderMap } from '../../../../../sidecar/http/header-map.js';
import { decoded } from '../../../src/xds/resources/fixtures.js';
import { FakeDecoderCallbacks } from '../../../../helpers/http-fakes.js';

const sha = (key: string | Buffer) => createHash('sha256').update(key).digest('hex');
const ACME_OLD = 'tsk_acme-old-3b1f9c';
const ACME_NEW = 'tsk_acme-new-77d0e2';
const BETA = 'tsk_beta-0a9e51';
const ALL_KEYS = [ACME_OLD, ACME_NEW, BETA];

const CONSUMERS = [
  { id: 'acme', keys: [{ sha256: sha(ACME_OLD), name: 'acme-2024' }, { sha256: sha(ACME_NEW), name: 'acme-2025' }], metadata: { plan: 'gold', team: 'red' } },
  { id: 'beta', keys: [{ sha256: sha(BETA) }], metadata: { plan: 'free' } },
];

function apiKeyConfig(o: object): ApiKeyAuthConfig {
  const issues = new Issues();
  const c = validateApiKeyAuthConfig(decoded(TypeUrl.ApiKeyAuth, { consumers: CONSUMERS, ...o }), 'tc', issues);
  assert.deepEqual(issues.list, []);
  return c;
}

interface Outcome {
  readonly status: FilterStatus;
  readonly cb: FakeDecoderCallbacks;
  readonly headers: HeaderMap;
  /** The local reply's status, or 0 when the request continued. */
  readonly reply: number;
}

function setup(o: object = {}) {
  const stats = new StatsStore();
  const shared = apiKeyFilterFactory.createShared(apiKeyConfig(o), stats, 'ingress') as ApiKeyShared;
  const stat = (name: string) => stats.snapshot('http.ingress.api_key.')[`http.ingress.api_key.${name}`] ?? 0;
  function run(h: Record<string, string> | [string, string][] = {}, req: { path?: string; method?: string; grpc?: boolean } = {}): Outcome {
    const cb = new FakeDecoderCallbacks();
    cb.path = req.path ?? '/api/items';
    cb.method = req.method ?? 'GET';
    cb.isGrpc = req.grpc ?? false;
    const headers = HeaderMap.from(Array.isArray(h) ? h : Object.entries(h));
    const status = apiKeyFilterFactory.createFilter(shared, cb).onRequestHeaders(headers, true);
    if (status === FilterStatus.Continue) assert.equal(cb.replies.length, 0);
    else assert.equal(cb.replies.length, 1);
    return { status, cb, headers, reply: cb.replies[0]?.reply.status ?? 0 };
  }
  return { run, stat, stats, shared };
}

test('the factory is registered under the ApiKeyAuth type URL with the Tessera filter name', () => {
  const f = httpFilterFactories().get(TypeUrl.ApiKeyAuth);
  assert.equal(f, apiKeyFilterFactory);
  assert.equal(f!.name, 'tessera.filters.http.api_key');
});

test('a valid header key: consumer headers and dynamic metadata set, the key header removed, allowed counted', () => {
  const { run, stat } = setup({ forward_metadata: ['plan'] });
  const o = run({ 'x-api-key': ACME_NEW, accept: '*/*' });
  assert.equal(o.status, FilterStatus.Continue);
  assert.equal(o.headers.get('x-api-key'), undefined);
  assert.equal(o.headers.get('x-consumer-id'), 'acme');
  assert.equal(o.headers.get('x-consumer-plan'), 'gold');
  assert.equal(o.headers.get('x-consumer-team'), undefined, 'only forward_metadata keys become headers');
  assert.equal(o.headers.get('accept'), '*/*');
  assert.deepEqual(o.cb.metadata.get(API_KEY_NAMESPACE), { consumer_id: 'acme', key_name: 'acme-2025', plan: 'gold', team: 'red' });
  assert.equal(stat('allowed'), 1);
});

test('rotation: both keys of a consumer are valid, each reported by its own name; an unnamed key shows its hash prefix', () => {
  const { run } = setup();
  assert.equal(run({ 'x-api-key': ACME_OLD }).cb.metadata.get(API_KEY_NAMESPACE)!.key_name, 'acme-2024');
  assert.equal(run({ 'x-api-key': ACME_NEW }).cb.metadata.get(API_KEY_NAMESPACE)!.key_name, 'acme-2025');
  const beta = run({ 'x-api-key': BETA });
  assert.equal(beta.headers.get('x-consumer-id'), 'beta');
  assert.equal(beta.cb.metadata.get(API_KEY_NAMESPACE)!.key_name, `sha256:${sha(BETA).slice(0, 8)}`);
});

test('missing key: 401 TESSERA_ERR_API_KEY_MISSING with the ApiKey challenge; an empty header is missing too', () => {
  const { run, stat } = setup();
  for (const h of [{}, { 'x-api-key': '' }] as Record<string, string>[]) {
    const o = run(h);
    assert.equal(o.reply, 401);
    assert.equal(o.cb.replies[0]!.reply.code, 'TESSERA_ERR_API_KEY_MISSING');
    assert.equal(o.cb.replies[0]!.reply.body.toString(), 'API key is missing');
    assert.equal(o.cb.replies[0]!.headers!.get('www-authenticate'), API_KEY_CHALLENGE);
    assert.equal(API_KEY_CHALLENGE, 'ApiKey realm="tessera"');
  }
  assert.equal(stat('denied_missing'), 2);
  assert.equal(stat('allowed'), 0);
});

test('unknown key: 401 TESSERA_ERR_API_KEY_INVALID with error="invalid_key"; keys are compared whole (case, prefix, suffix)', () => {
  const { run, stat } = setup();
  for (const k of ['tsk_nope', ACME_NEW.toUpperCase(), ACME_NEW.slice(0, -1), `${ACME_NEW}x`, ` ${ACME_NEW}x`]) {
    const o = run({ 'x-api-key': k });
    assert.equal(o.reply, 401, k);
    assert.equal(o.cb.replies[0]!.reply.code, 'TESSERA_ERR_API_KEY_INVALID');
    assert.equal(o.cb.replies[0]!.reply.body.toString(), 'API key is invalid');
    assert.equal(o.cb.replies[0]!.headers!.get('www-authenticate'), API_KEY_INVALID_CHALLENGE);
    assert.equal(o.cb.metadata.size, 0);
  }
  assert.equal(stat('denied_invalid'), 5);
});

test('a key header sent twice is ambiguous: 401 invalid even when one of them is valid', () => {
  const { run, stat } = setup();
  const o = run([['x-api-key', ACME_NEW], ['x-api-key', ACME_NEW]]);
  assert.equal(o.reply, 401);
  assert.equal(o.cb.replies[0]!.reply.code, 'TESSERA_ERR_API_KEY_INVALID');
  assert.equal(stat('denied_invalid'), 1);
});

test('query key: found percent-decoded, removed from the target with the other parameters kept in order', () => {
  const { run } = setup({ sources: [{ query: 'api_key' }] });
  const o = run({}, { path: `/api/items?a=1&api_key=${encodeURIComponent(ACME_NEW)}&b=two%20words` });
  assert.equal(o.status, FilterStatus.Continue);
  assert.equal(o.cb.path, '/api/items?a=1&b=two%20words');
  assert.equal(o.headers.get('x-consumer-id'), 'acme');
  // The only parameter: the '?' goes too. An encoded parameter name is the same parameter.
  assert.equal(run({}, { path: `/x?api_key=${BETA}` }).cb.path, '/x');
  const enc = run({}, { path: `/x?api%5Fkey=${BETA}&z` });
  assert.equal(enc.status, FilterStatus.Continue);
  assert.equal(enc.cb.path, '/x?z');
  // Twice: ambiguous, and both copies are still removed (the access log sees neither).
  const twice = run({}, { path: `/x?api_key=${BETA}&api_key=${BETA}` });
  assert.equal(twice.reply, 401);
  assert.equal(twice.cb.path, '/x');
  // Present but empty: missing.
  assert.equal(run({}, { path: '/x?api_key=' }).cb.replies[0]!.reply.code, 'TESSERA_ERR_API_KEY_MISSING');
  // A wrong key is removed from the target before the 401 too.
  const wrong = run({}, { path: '/x?api_key=guess&q=1' });
  assert.equal(wrong.reply, 401);
  assert.equal(wrong.cb.path, '/x?q=1');
});

test('non-ASCII keys hash their UTF-8 bytes, from a header (bytes as received) and from the query (percent-decoded)', () => {
  const key = 'clé-ünïcode';
  const { run } = setup({ consumers: [{ id: 'u', keys: [{ sha256: sha(Buffer.from(key, 'utf8')) }] }], sources: [{ header: 'x-api-key' }, { query: 'k' }] });
  // The HTTP/1 codec hands header bytes over as latin1 characters.
  assert.equal(run({ 'x-api-key': Buffer.from(key, 'utf8').toString('latin1') }).headers.get('x-consumer-id'), 'u');
  assert.equal(run({}, { path: `/x?k=${encodeURIComponent(key)}` }).headers.get('x-consumer-id'), 'u');
});

test('sources are tried in order: the first present decides, and every configured credential is removed', () => {
  const { run } = setup({ sources: [{ header: 'x-api-key' }, { query: 'api_key' }, { header: 'x-alt-key' }] });
  const o = run({ 'x-api-key': BETA, 'x-alt-key': ACME_NEW }, { path: `/x?api_key=${ACME_NEW}` });
  assert.equal(o.headers.get('x-consumer-id'), 'beta');
  assert.equal(o.cb.path, '/x');
  assert.deepEqual([o.headers.get('x-api-key'), o.headers.get('x-alt-key')], [undefined, undefined]);
  // The header absent: the query parameter is next.
  assert.equal(run({ 'x-alt-key': BETA }, { path: `/x?api_key=${ACME_NEW}` }).headers.get('x-consumer-id'), 'acme');
  // A wrong key in the first source is not rescued by a valid one later.
  assert.equal(run({ 'x-api-key': 'wrong' }, { path: `/x?api_key=${ACME_NEW}` }).reply, 401);
});

test('keep_credential: the key header and parameter reach the upstream', () => {
  const { run } = setup({ keep_credential: true, sources: [{ header: 'x-api-key' }, { query: 'api_key' }] });
  const o = run({ 'x-api-key': ACME_NEW }, { path: `/x?api_key=${BETA}` });
  assert.equal(o.headers.get('x-api-key'), ACME_NEW);
  assert.equal(o.cb.path, `/x?api_key=${BETA}`);
});

test('client-sent identity headers are removed on every outcome and replaced on success (custom consumer_header)', () => {
  const { run } = setup({ consumer_header: 'x-client', forward_metadata: ['plan'], rules: [{ match: { prefix: '/open' }, skip: true }] });
  const forged = { 'x-client': 'admin', 'x-consumer-plan': 'platinum' };
  const ok = run({ ...forged, 'x-api-key': BETA });
  assert.deepEqual([ok.headers.getAll('x-client'), ok.headers.getAll('x-consumer-plan')], [['beta'], ['free']]);
  const skipped = run(forged, { path: '/open/x' });
  assert.equal(skipped.status, FilterStatus.Continue);
  assert.deepEqual([skipped.headers.get('x-client'), skipped.headers.get('x-consumer-plan')], [undefined, undefined]);
  // A consumer without the forwarded key gets no such header (and keeps none forged).
  const { run: run2 } = setup({ forward_metadata: ['team'] });
  const noTeam = run2({ 'x-api-key': BETA, 'x-consumer-team': 'red' });
  assert.equal(noTeam.headers.get('x-consumer-team'), undefined);
});

test('allow_missing: no key passes without identity; a wrong key is still 401; a valid one identifies', () => {
  const { run, stat } = setup({ rules: [{ match: { prefix: '/maybe' }, allow_missing: true }] });
  const anon = run({}, { path: '/maybe/1' });
  assert.equal(anon.status, FilterStatus.Continue);
  assert.equal(anon.headers.get('x-consumer-id'), undefined);
  assert.equal(anon.cb.metadata.size, 0);
  assert.equal(run({ 'x-api-key': 'wrong' }, { path: '/maybe/2' }).reply, 401);
  assert.equal(run({ 'x-api-key': BETA }, { path: '/maybe/3' }).headers.get('x-consumer-id'), 'beta');
  // Outside the rule a key is required.
  assert.equal(run({}, { path: '/other' }).reply, 401);
  assert.deepEqual([stat('allowed'), stat('denied_invalid'), stat('denied_missing')], [2, 1, 1]);
});

test('skip: no check at all (missing and wrong keys pass), credentials still removed', () => {
  const { run, stat } = setup({ sources: [{ header: 'x-api-key' }, { query: 'k' }], rules: [{ match: { path: '/healthz' }, skip: true }] });
  const o = run({ 'x-api-key': 'wrong' }, { path: '/healthz?k=also-wrong' });
  assert.equal(o.status, FilterStatus.Continue);
  assert.equal(o.headers.get('x-api-key'), undefined);
  assert.equal(o.cb.path, '/healthz');
  assert.equal(o.cb.metadata.size, 0);
  assert.equal(run({}, { path: '/healthz' }).status, FilterStatus.Continue);
  assert.equal(stat('allowed'), 2);
});

test('allowed_consumers: another valid consumer gets 403 TESSERA_ERR_API_KEY_FORBIDDEN without a challenge', () => {
  const { run, stat } = setup({ rules: [{ match: { prefix: '/admin' }, allowed_consumers: ['acme'] }] });
  assert.equal(run({ 'x-api-key': ACME_OLD }, { path: '/admin/x' }).status, FilterStatus.Continue);
  const o = run({ 'x-api-key': BETA }, { path: '/admin/x' });
  assert.equal(o.reply, 403);
  assert.equal(o.cb.replies[0]!.reply.code, 'TESSERA_ERR_API_KEY_FORBIDDEN');
  assert.equal(o.cb.replies[0]!.reply.body.toString(), 'API key is not allowed on this route');
  assert.equal(o.cb.replies[0]!.headers, null);
  assert.equal(o.headers.get('x-consumer-id'), undefined, 'a refused consumer is not forwarded');
  assert.equal(run({ 'x-api-key': BETA }, { path: '/other' }).status, FilterStatus.Continue);
  assert.equal(stat('denied_consumer'), 1);
});

test('rules: route-match semantics (path kinds, headers, query, case), the first match decides, no match needs a key', () => {
  const { run } = setup({
    rules: [
      { match: { path: '/exact' }, skip: true },
      { match: { safe_regex: { regex: '/v[0-9]+/public/.*' } }, skip: true },
      { match: { prefix: '/hdr', headers: [{ name: 'x-tier', exact_match: 'free' }] }, skip: true },
      { match: { prefix: '/qs', query_parameters: [{ name: 'open', present_match: true }] }, skip: true },
      { match: { prefix: '/CASE', case_sensitive: { value: false } }, skip: true },
      { match: { path_separated_prefix: '/sep' }, skip: true },
      { match: { prefix: '/' }, allowed_consumers: ['acme'] },
    ],
  });
  const pass = (path: string, h: Record<string, string> = {}) => assert.equal(run(h, { path }).status, FilterStatus.Continue, path);
  const missing = (path: string, h: Record<string, string> = {}) => assert.equal(run(h, { path }).reply, 401, path);
  pass('/exact');
  missing('/exact/more');
  pass('/v2/public/a');
  missing('/v2/private/a');
  pass('/hdr/x', { 'x-tier': 'free' });
  missing('/hdr/x', { 'x-tier': 'gold' });
  pass('/qs/x?open');
  missing('/qs/x?closed');
  pass('/case/x');
  pass('/sep/x');
  missing('/separate');
  assert.equal(run({ 'x-api-key': BETA }, { path: '/any' }).reply, 403);
  // No rule matches at all: a key (of any consumer) is required.
  const { run: only } = setup({ rules: [{ match: { prefix: '/public' }, skip: true }] });
  assert.equal(only({}, { path: '/private' }).reply, 401);
  assert.equal(only({ 'x-api-key': BETA }, { path: '/private' }).status, FilterStatus.Continue);
});

test('gRPC requests get the same replies, which the stream maps to UNAUTHENTICATED / PERMISSION_DENIED', () => {
  const { run } = setup({ rules: [{ match: { prefix: '/svc.Admin/' }, allowed_consumers: ['acme'] }] });
  const missing = run({ 'content-type': 'application/grpc' }, { path: '/svc.Api/Get', method: 'POST', grpc: true });
  assert.equal(httpToGrpcStatus(missing.reply), 16);
  const forbidden = run({ 'content-type': 'application/grpc', 'x-api-key': BETA }, { path: '/svc.Admin/Drop', method: 'POST', grpc: true });
  assert.equal(httpToGrpcStatus(forbidden.reply), 7);
});

test('the key appears in no reply, metadata, stat name or config the filter keeps', () => {
  const { run, stats, shared } = setup({ sources: [{ header: 'x-api-key' }, { query: 'api_key' }], forward_metadata: ['plan'], rules: [{ match: { prefix: '/admin' }, allowed_consumers: ['acme'] }] });
  const seen: string[] = [];
  for (const k of [...ALL_KEYS, 'tsk_wrong-key-123']) {
    for (const o of [run({ 'x-api-key': k }), run({}, { path: `/x?api_key=${k}` }), run({ 'x-api-key': k }, { path: '/admin' })]) {
      seen.push(o.cb.path, JSON.stringify(o.headers.toObject()), JSON.stringify([...o.cb.metadata]));
      for (const r of o.cb.replies) seen.push(r.reply.body.toString(), JSON.stringify(r.headers?.toObject() ?? null));
    }
  }
  seen.push(JSON.stringify(stats.snapshot('')), JSON.stringify(apiKeyConfig({})));
  const all = seen.join('\n');
  for (const k of [...ALL_KEYS, 'tsk_wrong-key-123']) assert.equal(all.includes(k), false, `key ${k} leaked`);
  assert.ok(all.includes('acme') && all.includes('API key is invalid'));
  assert.equal(shared.index.size, 3);
});

test('ApiKeyIndex: 1000 consumers × 2 keys, every key finds its consumer and near misses find none', () => {
  const consumers = Array.from({ length: 1000 }, (_, i) => ({
    id: `c${i}`,
    keys: [{ sha256: sha(`key-${i}-a`), name: 'a' }, { sha256: sha(`key-${i}-b`), name: 'b' }],
    metadata: {},
  }));
  const index = new ApiKeyIndex(consumers, 'x-consumer-id', []);
  assert.equal(index.size, 2000);
  for (let i = 0; i < 1000; i += 7) {
    assert.equal(index.lookup(`key-${i}-a`)?.consumerId, `c${i}`);
    assert.equal(index.lookup(`key-${i}-b`)?.keyName, 'b');
    assert.equal(index.lookup(`key-${i}-c`), null);
  }
});
