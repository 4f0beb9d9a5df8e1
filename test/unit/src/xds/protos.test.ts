import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import {
  PROTO_BUNDLE_PATH,
  checkKeys,
  decodeMessage,
  encodeMessage,
  loadProtoBundle,
  loadProtoSources,
  packAny,
  unpackAny,
  xdsRoot,
} from '../../../../src/xds/protos.js';
import { TypeUrl } from '../../../../src/xds/type-urls.js';

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, json: true };

function typeIn(root: protobuf.Root, url: string): protobuf.Type {
  return root.lookupType(url.slice(url.lastIndexOf('/') + 1));
}

/** A Listener exercising nested Anys (HCM → Router, tcp_proxy), oneofs, wrappers, Durations, enums, Struct and maps. */
function richListener(): Record<string, unknown> {
  return {
    name: 'ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: 8080, protocol: 'TCP' } },
    per_connection_buffer_limit_bytes: { value: 32768 },
    metadata: {
      filter_metadata: {
        'envoy.lb': { fields: { zone: { string_value: 'a' }, weight: { number_value: 2 }, tags: { list_value: { values: [{ bool_value: true }] } } } },
      },
    },
    filter_chains: [
      {
        name: 'http',
        filter_chain_match: { destination_port: { value: 8080 }, server_names: ['a.example', 'b.example'] },
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TypeUrl.HttpConnectionManager,
              stat_prefix: 'ingress',
              codec_type: 'HTTP1',
              stream_idle_timeout: { seconds: '300', nanos: 500 },
              common_http_protocol_options: { idle_timeout: { seconds: '60' }, max_headers_count: { value: 100 } },
              route_config: {
                name: 'local',
                virtual_hosts: [
                  {
                    name: 'all',
                    domains: ['*'],
                    routes: [
                      {
                        match: { prefix: '/api', headers: [{ name: 'x-env', string_match: { exact: 'prod' } }] },
                        route: {
                          weighted_clusters: { clusters: [{ name: 'a', weight: { value: 1 } }, { name: 'b', weight: { value: 3 } }] },
                          timeout: { seconds: '5' },
                        },
                      },
                    ],
                  },
                ],
              },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TypeUrl.Router, suppress_envoy_headers: true } }],
            },
          },
        ],
      },
      {
        name: 'tcp',
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: { '@type': TypeUrl.TcpProxy, stat_prefix: 'db', cluster: 'db', idle_timeout: { seconds: '30' }, max_connect_attempts: { value: 3 } },
          },
        ],
      },
    ],
  };
}

describe('xDS proto bundle', () => {
  it('is built and is what xdsRoot() loads (no validate/annotation types)', () => {
    assert.ok(existsSync(PROTO_BUNDLE_PATH), `${PROTO_BUNDLE_PATH} missing: run npm run build`);
    assert.equal(xdsRoot().lookup('validate.FieldRules'), null);
    assert.ok(loadProtoSources().lookup('validate.FieldRules'));
  });

  it('round-trips a Listener with nested Anys identically to the .proto-loaded root', () => {
    const sources = loadProtoSources();
    const bundle = loadProtoBundle();
    const obj = richListener();
    const encode = (root: protobuf.Root): Buffer => {
      const T = typeIn(root, TypeUrl.Listener);
      const msg = T.fromObject(obj);
      assert.equal(T.verify(msg), null);
      return Buffer.from(T.encode(msg).finish());
    };
    const fromSources = encode(sources);
    const fromBundle = encode(bundle);
    assert.ok(fromSources.equals(fromBundle), 'encodings differ');
    const decode = (root: protobuf.Root, bytes: Buffer): unknown => {
      const T = typeIn(root, TypeUrl.Listener);
      return T.toObject(T.decode(bytes), TO_OBJECT);
    };
    const a = decode(sources, fromBundle);
    const b = decode(bundle, fromSources);
    assert.deepEqual(b, a);
    // Any expansion reached the innermost typed config.
    const hcm = (a as { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] }).filter_chains[0]!.filters[0]!.typed_config;
    assert.equal(hcm['@type'], TypeUrl.HttpConnectionManager);
    assert.deepEqual((hcm.http_filters as { typed_config: unknown }[])[0]!.typed_config, { '@type': TypeUrl.Router, suppress_envoy_headers: true });
    // Field names stay snake_case.
    assert.ok('per_connection_buffer_limit_bytes' in (a as object));
  });

  it('keeps checkKeys, encodeMessage/decodeMessage and packAny/unpackAny working on the bundle', () => {
    const errors: string[] = [];
    checkKeys(xdsRoot().lookupType('envoy.config.listener.v3.Listener'), { name: 'x', filter_chain: [], address: { sockt_address: {} } }, '', errors);
    assert.deepEqual(errors, [
      'filter_chain: unknown field of envoy.config.listener.v3.Listener',
      'address.sockt_address: unknown field of envoy.config.core.v3.Address',
    ]);
    const obj = richListener();
    const any = packAny(TypeUrl.Listener, obj);
    assert.deepEqual(unpackAny(any), decodeMessage(TypeUrl.Listener, encodeMessage(TypeUrl.Listener, obj)));
    const l = unpackAny(any) as { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] };
    assert.equal(l.filter_chains[1]!.filters[0]!.typed_config['@type'], TypeUrl.TcpProxy);
  });
});
