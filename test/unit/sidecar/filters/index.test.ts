import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../../../src/xds/resources/filters/all.js';
import { httpFilterConfigValidator } from '../../../../src/xds/resources/filters/index.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';
import { faultFilterFactory } from '../../../../sidecar/filters/http/fault/config.js';
import { buildRegistry, httpFilterFactories, registerAll } from '../../../../sidecar/filters/index.js';
import type { HttpFilterFactory } from '../../../../sidecar/http/filter.js';

test('the registry holds the fault filter under its type URL', () => {
  const r = httpFilterFactories();
  assert.equal(r.get(TypeUrl.HttpFault), faultFilterFactory);
  assert.equal(r.get(TypeUrl.HttpFault)!.name, 'envoy.filters.http.fault');
  assert.equal(httpFilterFactories(), r, 'built once');
  assert.deepEqual([...registerAll().keys()], [...r.keys()]);
});

test('every registered filter has an xDS config validator for its type URL', () => {
  for (const [typeUrl, f] of httpFilterFactories()) {
    assert.equal(f.typeUrl, typeUrl);
    assert.equal(typeof httpFilterConfigValidator(typeUrl), 'function', `${f.name} has no config validator`);
  }
});

test('a name or type URL registered twice throws', () => {
  const other = (name: string, typeUrl: string): HttpFilterFactory => ({ ...faultFilterFactory, name, typeUrl });
  assert.throws(() => buildRegistry([faultFilterFactory, other('envoy.filters.http.fault', 'type.googleapis.com/x.Y')]), /envoy\.filters\.http\.fault registered twice/);
  assert.throws(() => buildRegistry([faultFilterFactory, other('tessera.filters.http.copy', TypeUrl.HttpFault)]), /registered twice/);
  assert.equal(buildRegistry([faultFilterFactory, other('tessera.filters.http.copy', 'type.googleapis.com/x.Y')]).size, 2);
});
