// gRPC definition of tessera.ca.v1.CertificateService (proto/tessera/ca/v1/ca.proto), for the control plane's
// server and the sidecar's client. The .proto is small: parsed once on first use.
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';

export interface CertificateRequest {
  csr: string;
  validity_duration: string | number;
}

export interface CertificateResponse {
  cert_chain: string[];
  trust_bundle: string[];
  spiffe_id: string;
}

/** proto/ at the repository root (this file runs from src/tls under tsx or dist/src/tls when built). */
const PROTO = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../proto/tessera/ca/v1/ca.proto' : '../../proto/tessera/ca/v1/ca.proto', import.meta.url));

let root: protobuf.Root | null = null;

function type(name: string): protobuf.Type {
  root ??= new protobuf.Root().loadSync(PROTO, { keepCase: true });
  return root.lookupType(`tessera.ca.v1.${name}`);
}

function codec<T>(name: string): { serialize: (v: T) => Buffer; deserialize: (b: Buffer) => T } {
  return {
    serialize: (v: T) => {
      const t = type(name);
      return Buffer.from(t.encode(t.fromObject(v as object)).finish());
    },
    deserialize: (b: Buffer) => {
      const t = type(name);
      return t.toObject(t.decode(b), { longs: String, defaults: true, arrays: true }) as T;
    },
  };
}

export const CA_SERVICE_PATH = '/tessera.ca.v1.CertificateService/CreateCertificate';

export function caServiceDefinition(): grpc.ServiceDefinition {
  const req = codec<CertificateRequest>('CertificateRequest');
  const res = codec<CertificateResponse>('CertificateResponse');
  return {
    CreateCertificate: {
      path: CA_SERVICE_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
      originalName: 'createCertificate',
    },
  };
}
