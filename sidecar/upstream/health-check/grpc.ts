// gRPC health check (envoy.health_checkers.grpc): grpc.health.v1.Health/Check over h2c; success iff 200, grpc-status 0 and SERVING.
import type * as http2 from 'node:http2';
import type { HealthCheckConfig } from '../../../src/xds/resources/types.js';
import { H2Client } from './h2-client.js';
import { HEALTH_CHECK_USER_AGENT } from './http.js';
import { errorReason, ProbeOutcome, type HealthProbe, type ProbeCallbacks, type ProbeTarget } from './probe.js';

type GrpcCheck = Extract<HealthCheckConfig['check'], { kind: 'grpc' }>;

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING. */
export const SERVING = 1;
/** A health response is tiny; more than this is treated as a broken peer. */
const RESPONSE_LIMIT_BYTES = 16 * 1024;

/** One length-prefixed gRPC message holding HealthCheckRequest{service} (field 1, string; omitted when ''). */
export function encodeHealthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const lenBytes: number[] = [];
  for (let n = name.length; ; ) {
    if (n < 0x80) {
      lenBytes.push(n);
      break;
    }
    lenBytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  const msgLen = name.length === 0 ? 0 : 1 + lenBytes.length + name.length;
  const out = Buffer.alloc(5 + msgLen);
  out[0] = 0; // not compressed
  out.writeUInt32BE(msgLen, 1);
  if (msgLen > 0) {
    out[5] = 0x0a; // field 1, wire type 2
    Buffer.from(lenBytes).copy(out, 6);
    name.copy(out, 6 + lenBytes.length);
  }
  return out;
}

/**
 * The ServingStatus in a gRPC-framed HealthCheckResponse (field 1, varint; 0 UNKNOWN when absent),
 * or -1 when the body is not exactly one uncompressed, well-formed message.
 */
export function decodeServingStatus(body: Buffer): number {
  if (body.length < 5 || body[0] !== 0) return -1;
  const len = body.readUInt32BE(1);
  if (body.length !== 5 + len) return -1;
  let status = 0;
  let i = 5;
  const end = 5 + len;
  while (i < end) {
    const tag = readVarint(body, i, end);
    if (tag === null) return -1;
    i = tag.next;
    const field = Math.floor(tag.value / 8);
    const wire = tag.value & 7;
    if (wire === 0) {
      const v = readVarint(body, i, end);
      if (v === null) return -1;
      i = v.next;
      if (field === 1) status = v.value;
    } else if (wire === 2) {
      const l = readVarint(body, i, end);
      if (l === null || l.next + l.value > end) return -1;
      i = l.next + l.value;
    } else if (wire === 1) {
      i += 8;
    } else if (wire === 5) {
      i += 4;
    } else {
      return -1;
    }
  }
  return i === end ? status : -1;
}

function readVarint(b: Buffer, at: number, end: number): { value: number; next: number } | null {
  let value = 0;
  let mul = 1;
  for (let i = at; i < end && i < at + 10; i++) {
    const byte = b[i]!;
    value += (byte & 0x7f) * mul;
    mul *= 128;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
  }
  return null;
}

/** Owns one host's gRPC health-check h2c session and the call in flight. */
export class GrpcProbe implements HealthProbe {
  readonly kind = 'grpc' as const;
  readonly #cb: ProbeCallbacks;
  readonly #client: H2Client;
  readonly #headers: http2.OutgoingHttpHeaders;
  readonly #body: Buffer;
  #stream: http2.ClientHttp2Stream | null;

  constructor(check: GrpcCheck, target: ProbeTarget, cb: ProbeCallbacks) {
    this.#cb = cb;
    this.#client = new H2Client(target.address);
    this.#headers = {
      ':method': 'POST',
      ':scheme': 'http',
      ':path': HEALTH_CHECK_PATH,
      ':authority': check.authority !== '' ? check.authority : target.clusterName,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': HEALTH_CHECK_USER_AGENT,
    };
    this.#body = encodeHealthCheckRequest(check.serviceName);
    this.#stream = null;
  }

  // HealthProbe
  start(): void {
    const client = this.#client;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = client.session().request(this.#headers, { endStream: false });
    } catch (e) {
      client.reset();
      this.#cb.onProbeResult(ProbeOutcome.NetworkFailure, errorReason(e));
      return;
    }
    this.#stream = stream;
    let status = 0;
    let contentType = '';
    let grpcStatus: string | null = null;
    let grpcMessage = '';
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('response', (h) => {
      status = Number(h[':status'] ?? 0);
      contentType = String(h['content-type'] ?? '');
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']); // trailers-only
      if (h['grpc-message'] !== undefined) grpcMessage = String(h['grpc-message']);
    });
    stream.on('trailers', (t) => {
      if (t['grpc-status'] !== undefined) grpcStatus = String(t['grpc-status']);
      if (t['grpc-message'] !== undefined) grpcMessage = String(t['grpc-message']);
    });
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= RESPONSE_LIMIT_BYTES) chunks.push(c);
      else this.#done(stream, ProbeOutcome.ActiveFailure, 'response too large', true);
    });
    stream.on('error', (e) => this.#done(stream, ProbeOutcome.NetworkFailure, client.lastError ?? errorReason(e), false));
    stream.on('close', () => {
      if (status === 0) {
        this.#done(stream, ProbeOutcome.NetworkFailure, client.lastError ?? `stream reset ${stream.rstCode ?? ''}`.trim(), false);
        return;
      }
      if (status !== 200) return this.#done(stream, ProbeOutcome.ActiveFailure, `status ${status}`, false);
      if (!contentType.startsWith('application/grpc')) {
        return this.#done(stream, ProbeOutcome.ActiveFailure, `content-type ${contentType || 'missing'}`, false);
      }
      if (grpcStatus === null) return this.#done(stream, ProbeOutcome.ActiveFailure, 'no grpc-status', false);
      if (grpcStatus !== '0') {
        const msg = grpcMessage !== '' ? `: ${grpcMessage}` : '';
        return this.#done(stream, ProbeOutcome.ActiveFailure, `grpc-status ${grpcStatus}${msg}`, false);
      }
      const serving = decodeServingStatus(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      if (serving === SERVING) this.#done(stream, ProbeOutcome.Success, 'SERVING', false);
      else if (serving < 0) this.#done(stream, ProbeOutcome.ActiveFailure, 'malformed response', false);
      else this.#done(stream, ProbeOutcome.ActiveFailure, `serving status ${servingName(serving)}`, false);
    });
    stream.end(this.#body);
  }

  abort(): void {
    const s = this.#stream;
    this.#stream = null;
    if (s !== null) {
      s.destroy();
      this.#client.reset();
    }
  }

  close(): void {
    this.abort();
    this.#client.close();
  }

  #done(stream: http2.ClientHttp2Stream, outcome: ProbeOutcome, reason: string, destroy: boolean): void {
    if (this.#stream !== stream) return;
    this.#stream = null;
    if (destroy) stream.destroy();
    this.#cb.onProbeResult(outcome, reason);
  }
}

function servingName(s: number): string {
  return s === 0 ? 'UNKNOWN' : s === 2 ? 'NOT_SERVING' : s === 3 ? 'SERVICE_UNKNOWN' : String(s);
}
