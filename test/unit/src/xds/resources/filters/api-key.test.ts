import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Issues } from '../../../../../../src/xds/resources/common.js';
import {
  DEFAULT_API_KEY_HEADER,
  DEFAULT_CONSUMER_HEADER,
  validateApiKeyAuthConfig,
  type ApiKeyAuthConfig,
} from '../../../../../../src/xds/resources/filters/api-key.js';
import { httpFilterConfigValidator } from '../../../../../../src/xds/resources/filters/index.js';
import { validateListener } from '../../../../../../src/xds/resources/listener.js';
import { encodeMessage } from '../../../../../../src/xds/protos.js';
import { TypeUrl } from '../../../../../../src/xds/type-urls.js';
import { ROUTER, decoded, filterConfigHarness, hcm, listener } from '../fixtures.js';

const { validate, valid, hasError } = filterConfigHarness<ApiKeyAuthConfig>(TypeUrl.ApiKeyAuth);

const sha = (key: string) => createHash('sha256').update(key).digest('hex');
const K1 = sha('key-one');
const K2 = sha('key-two');
const K3 = sha('key-three');
const consumer = (id: string, ...hashes: string[]) => ({ id, keys: hashes.map((h) => ({ sha256: h })) });

test('all.js registers the api_key validator under the ApiKeyAuth type URL', () => {
  assert.equal(TypeUrl.ApiKeyAuth, 'type.googleapis.com/tessera.filters.http.api_key.v1.ApiKeyAuth');
  assert.equal(httpFilterConfigValidator(TypeUrl.ApiKeyAuth), validateApiKeyAuthConfig);
});

test('defaults: header x-api-key, consumer header x-consumer-id, no rules, credential removed; key names default to the hash prefix; frozen', () => {
  const c = valid({ consumers: [consumer('acme', K1)] });
  assert.deepEqual(c.sources, [{ kind: 'header', name: DEFAULT_API_KEY_HEADER }]);
  assert.equal(c.consumerHeader, DEFAULT_CONSUMER_HEADER);
  assert.deepEqual([c.rules, c.forwardMetadata, c.keepCredential], [[], [], false]);
  assert.deepEqual(c.consumers, [{ id: 'acme', keys: [{ sha256: K1, name: `sha256:${K1.slice(0, 8)}` }], metadata: {} }]);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.consumers[0]!.keys[0]) && Object.isFrozen(c.sources));
});

test('every field is read: two keys with names, metadata, sources in order (header lower-cased), rules, keep_credential, headers', () => {
  const c = valid({
    consumers: [{ id: 'acme', keys: [{ sha256: K1, name: 'old' }, { sha256: K2, name: 'new' }], metadata: { plan: 'gold', region: 'eu' } }],
    sources: [{ header: 'X-Api-Key' }, { query: 'api_key' }],
    rules: [
      { match: { prefix: '/public' }, skip: true },
      { match: { path: '/maybe' }, allow_missing: true, allowed_consumers: ['acme'] },
    ],
    keep_credential: true,
    consumer_header: 'X-Client',
    forward_metadata: ['plan', 'Region'],
  });
  assert.deepEqual(c.consumers[0]!.keys, [{ sha256: K1, name: 'old' }, { sha256: K2, name: 'new' }]);
  assert.deepEqual(c.consumers[0]!.metadata, { plan: 'gold', region: 'eu' });
  assert.deepEqual(c.sources, [{ kind: 'header', name: 'x-api-key' }, { kind: 'query', name: 'api_key' }]);
  assert.deepEqual(c.rules, [
    { match: { path: { kind: 'prefix', value: '/public' }, caseSensitive: true, headers: [], queryParameters: [] }, allowMissing: false, skip: true, allowedConsumers: [] },
    { match: { path: { kind: 'path', value: '/maybe' }, caseSensitive: true, headers: [], queryParameters: [] }, allowMissing: true, skip: false, allowedConsumers: ['acme'] },
  ]);
  assert.equal(c.keepCredential, true);
  assert.equal(c.consumerHeader, 'x-client');
  assert.deepEqual(c.forwardMetadata, ['plan', 'Region']);
});

test('consumers: id required, unique, printable', () => {
  hasError({ consumers: [consumer('', K1)] }, 'consumers[0].id: required');
  hasError({ consumers: [consumer('a', K1), consumer('a', K2)] }, `consumers[1].id: duplicate consumer id "a" (also ${'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config'}.consumers[0].id)`);
  hasError({ consumers: [consumer('a\nb', K1)] }, 'consumers[0].id: contains control characters');
});

test('consumers: one or two keys', () => {
  hasError({ consumers: [consumer('a')] }, 'consumers[0].keys: at least one key is required');
  hasError({ consumers: [consumer('a', K1, K2, K3)] }, 'consumers[0].keys: at most 2 keys (two are valid at once during a rotation), got 3');
  valid({ consumers: [consumer('a', K1, K2)] });
});

test('keys: sha256 must be 64 lower-case hex, not the hash of the empty key, and listed once in the whole config', () => {
  const bad = 'must be 64 lower-case hex characters (the SHA-256 of the key)';
  hasError({ consumers: [consumer('a', K1.toUpperCase())] }, `consumers[0].keys[0].sha256: ${bad}`);
  hasError({ consumers: [consumer('a', K1.slice(1))] }, `consumers[0].keys[0].sha256: ${bad}`);
  hasError({ consumers: [consumer('a', `${K1.slice(1)}g`)] }, `consumers[0].keys[0].sha256: ${bad}`);
  hasError({ consumers: [consumer('a', '')] }, `consumers[0].keys[0].sha256: ${bad}`);
  hasError({ consumers: [consumer('a', 'key-one')] }, `consumers[0].keys[0].sha256: ${bad}`);
  hasError({ consumers: [consumer('a', sha(''))] }, 'consumers[0].keys[0].sha256: is the SHA-256 of the empty key');
  const P = 'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config';
  hasError({ consumers: [consumer('a', K1, K1)] }, `consumers[0].keys[1].sha256: key listed twice (also ${P}.consumers[0].keys[0].sha256)`);
  hasError({ consumers: [consumer('a', K1), consumer('b', K2, K1)] }, `consumers[1].keys[1].sha256: key listed twice (also ${P}.consumers[0].keys[0].sha256)`);
  hasError({ consumers: [{ id: 'a', keys: [{ sha256: K1, name: 'x\ty' }] }] }, 'consumers[0].keys[0].name: contains control characters');
});

test('metadata: keys non-empty and not reserved, values printable', () => {
  const m = (metadata: Record<string, string>) => ({ consumers: [{ ...consumer('a', K1), metadata }] });
  hasError(m({ '': 'x' }), 'consumers[0].metadata: metadata key must not be empty');
  hasError(m({ consumer_id: 'x' }), 'consumers[0].metadata.consumer_id: "consumer_id" is reserved (the filter sets it)');
  hasError(m({ key_name: 'x' }), 'consumers[0].metadata.key_name: "key_name" is reserved (the filter sets it)');
  hasError(m({ plan: 'gold\r\nx-admin: 1' }), 'consumers[0].metadata.plan: contains control characters');
});

test('sources: header names valid (lower-cased), query names non-empty, one of the two, each once', () => {
  hasError({ sources: [{ header: 'x api key' }] }, 'sources[0].header: invalid header name "x api key"');
  hasError({ sources: [{ header: ':path' }] }, 'sources[0].header: invalid header name ":path"');
  hasError({ sources: [{ header: '' }] }, 'sources[0].header: required');
  hasError({ sources: [{ header: 'Host' }] }, 'sources[0].header: header "host" cannot be used');
  hasError({ sources: [{ query: '' }] }, 'sources[0].query: must not be empty');
  hasError({ sources: [{}] }, 'sources[0]: one of header, query is required');
  hasError({ sources: [{ header: 'x-key' }, { header: 'X-Key' }] }, 'sources[1].header: header "x-key" listed twice');
  hasError({ sources: [{ query: 'k' }, { query: 'k' }] }, 'sources[1].query: query "k" listed twice');
  // A header and a query parameter may share a name.
  valid({ sources: [{ header: 'key' }, { query: 'key' }] });
});

test('rules: match required and validated as a RouteMatch; skip stands alone; allowed_consumers non-empty', () => {
  hasError({ rules: [{ skip: true }] }, 'rules[0].match: required');
  hasError({ rules: [{ match: {} }] }, 'rules[0].match: one of prefix, path, safe_regex, path_separated_prefix is required');
  hasError({ rules: [{ match: { safe_regex: { regex: '(?<=a)b' } } }] }, 'rules[0].match.safe_regex.regex: invalid regex "(?<=a)b": look-around is not RE2 syntax');
  hasError({ rules: [{ match: { prefix: '/', grpc: {} } }] }, 'rules[0].match.grpc: not supported by Tessera');
  hasError({ rules: [{ match: { prefix: '/', headers: [{ exact_match: 'x' }] } }] }, 'rules[0].match.headers[0].name: required');
  hasError({ rules: [{ match: { prefix: '/' }, skip: true, allow_missing: true }] }, 'rules[0].skip: cannot be combined with allow_missing or allowed_consumers');
  hasError({ rules: [{ match: { prefix: '/' }, skip: true, allowed_consumers: ['a'] }] }, 'rules[0].skip: cannot be combined with allow_missing or allowed_consumers');
  hasError({ rules: [{ match: { prefix: '/' }, allowed_consumers: ['a', ''] }] }, 'rules[0].allowed_consumers[1]: must not be empty');
  // A consumer not (or no longer) configured is accepted: it never matches (see the validator's header).
  valid({ consumers: [consumer('a', K1)], rules: [{ match: { prefix: '/' }, allowed_consumers: ['gone'] }] });
});

test('consumer_header: a valid header name that is not a key source', () => {
  hasError({ consumer_header: 'x consumer' }, 'consumer_header: invalid header name "x consumer"');
  hasError({ consumer_header: 'host' }, 'consumer_header: header "host" cannot be used');
  hasError({ consumer_header: 'X-Api-Key' }, 'consumer_header: "x-api-key" is also a key source');
});

test('forward_metadata: non-empty keys that make valid, distinct headers that are not key sources', () => {
  hasError({ forward_metadata: [''] }, 'forward_metadata[0]: must not be empty');
  hasError({ forward_metadata: ['pl an'] }, 'forward_metadata[0]: "pl an" does not make a valid header name (x-consumer-pl an)');
  hasError({ forward_metadata: ['plan', 'PLAN'] }, 'forward_metadata[1]: header x-consumer-plan is written twice (consumer_header or an earlier entry)');
  hasError({ forward_metadata: ['id'] }, 'forward_metadata[0]: header x-consumer-id is written twice (consumer_header or an earlier entry)');
  hasError({ sources: [{ header: 'x-consumer-token' }], forward_metadata: ['token'] }, 'forward_metadata[0]: header x-consumer-token is also a key source');
});

test('unknown fields are rejected with their path (validator and encoder)', () => {
  const issues = new Issues();
  validateApiKeyAuthConfig({ consumers: [{ id: 'a', keys: [{ sha256: K1, key: 'plain' }], owner: 'x' }], sources: [{ cookie: 'k' }], rules: [{ match: { prefix: '/' }, deny: true }], realm: 'x' }, 'tc', issues);
  assert.deepEqual(issues.list.sort(), [
    'tc.consumers[0].keys[0].key: not supported by Tessera',
    'tc.consumers[0].owner: not supported by Tessera',
    'tc.realm: not supported by Tessera',
    'tc.rules[0].deny: not supported by Tessera',
    'tc.sources[0].cookie: not supported by Tessera',
    'tc.sources[0]: one of header, query is required',
  ]);
  // The translator's objects go through encodeMessage, which refuses unknown keys before anything is sent.
  assert.throws(() => encodeMessage(TypeUrl.ApiKeyAuth, { consumers: [{ id: 'a', key: 'plain' }] }), /consumers\[0\]\.key: unknown field of tessera\.filters\.http\.api_key\.v1\.Consumer/);
});

test('every error is reported at once', () => {
  const { errors } = validate({ consumers: [consumer(''), consumer('b', 'XYZ')], sources: [{ query: '' }] });
  assert.equal(errors.length, 4, errors.join('\n'));
});

test('in a Listener: the filter validates inside the HCM and errors carry the full path', () => {
  const filter = (body: object) => ({ name: 'tessera.filters.http.api_key', typed_config: { '@type': TypeUrl.ApiKeyAuth, ...body } });
  const ok = validateListener(decoded(TypeUrl.Listener, listener('l', hcm({ http_filters: [filter({ consumers: [consumer('a', K1)] }), ROUTER] }))));
  assert.equal(ok.ok, true, JSON.stringify(ok));
  if (ok.ok) {
    const h = ok.value.filterChains[0]!.network;
    assert.equal(h.kind, 'http_connection_manager');
    if (h.kind === 'http_connection_manager') assert.equal(h.httpFilters[0]!.typeUrl, TypeUrl.ApiKeyAuth);
  }
  const bad = validateListener(decoded(TypeUrl.Listener, listener('l', hcm({ http_filters: [filter({ consumers: [consumer('a', K1, K2, K3)] }), ROUTER] }))));
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.ok(bad.errors.some((e) => e.endsWith('http_filters[0].typed_config.consumers[0].keys: at most 2 keys (two are valid at once during a rotation), got 3')), bad.errors.join('\n'));
});
