// HTTP health check (envoy.health_checkers.http): GET `path` on a kept-alive connection; success iff the status is expected.
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { HealthCheckConfig, HeaderValueOptionConfig } from '../../../src/xds/resources/types.js';
import { H2Client } from './h2-client.js';
import { errorReason, ProbeOutcome, type HealthProbe, type ProbeCallbacks, type ProbeTarget } from './probe.js';

type HttpCheck = Extract<HealthCheckConfig['check'], { kind: 'http' }>;

export const HEALTH_CHECK_USER_AGENT = 'tessera/hc';

/**
 * The check's request headers, built once: host (config host or cluster name), user-agent, then
 * request_headers_to_add applied with their append actions (the `host` header may be overridden this way).
 */
export function buildCheckHeaders(
  host: string,
  toAdd: readonly HeaderValueOptionConfig[],
): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { host, 'user-agent': HEALTH_CHECK_USER_AGENT };
  for (const o of toAdd) {
    const cur = h[o.key];
    switch (o.action) {
      case 'ADD_IF_ABSENT':
        if (cur === undefined) h[o.key] = o.value;
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        h[o.key] = o.value;
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (cur !== undefined) h[o.key] = o.value;
        break;
      default:
        // APPEND_IF_EXISTS_OR_ADD: a second line of the same header (host and user-agent stay single)
        if (cur === undefined || o.key === 'host' || o.key === 'user-agent') h[o.key] = o.value;
        else h[o.key] = Array.isArray(cur) ? [...cur, o.value] : [cur, o.value];
    }
  }
  return h;
}

/** True when `status` falls in one of the [start, end) ranges. */
export function statusExpected(status: number, ranges: readonly (readonly [number, number])[]): boolean {
  for (const r of ranges) if (status >= r[0] && status < r[1]) return true;
  return false;
}

/** Owns one host's HTTP check connection (HTTP/1.1 keep-alive agent with one socket, or one h2c session). */
export class HttpProbe implements HealthProbe {
  readonly kind = 'http' as const;
  readonly #check: HttpCheck;
  readonly #target: ProbeTarget;
  readonly #cb: ProbeCallbacks;
  readonly #h1Headers: Record<string, string | string[]>;
  readonly #h2Headers: http2.OutgoingHttpHeaders;
  readonly #agent: http.Agent | null;
  readonly #h2: H2Client | null;
  /** The check in flight (its request or stream); null when idle. Late events of older ones are ignored. */
  #h1Req: http.ClientRequest | null;
  #h2Stream: http2.ClientHttp2Stream | null;

  constructor(check: HttpCheck, target: ProbeTarget, cb: ProbeCallbacks) {
    this.#check = check;
    this.#target = target;
    this.#cb = cb;
    const headers = buildCheckHeaders(check.host !== '' ? check.host : target.clusterName, check.requestHeadersToAdd);
    this.#h1Headers = headers;
    const h2h: http2.OutgoingHttpHeaders = { ':method': 'GET', ':scheme': 'http', ':path': check.path };
    for (const [k, v] of Object.entries(headers)) {
      if (k === 'host') h2h[':authority'] = Array.isArray(v) ? v[0] : v;
      else if (k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding' && k !== 'upgrade') h2h[k] = v;
    }
    this.#h2Headers = h2h;
    this.#agent = check.codec === 'HTTP1' ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : null;
    this.#h2 = check.codec === 'HTTP2' ? new H2Client(target.address) : null;
    this.#h1Req = null;
    this.#h2Stream = null;
  }

  // HealthProbe
  start(): void {
    if (this.#agent !== null) this.#startH1(this.#agent);
    else this.#startH2(this.#h2!);
  }

  abort(): void {
    const r = this.#h1Req;
    this.#h1Req = null;
    if (r !== null) r.destroy();
    const s = this.#h2Stream;
    this.#h2Stream = null;
    if (s !== null) {
      s.destroy();
      this.#h2!.reset();
    }
  }

  close(): void {
    this.abort();
    this.#agent?.destroy();
    this.#h2?.close();
  }

  #startH1(agent: http.Agent): void {
    const req = http.request({
      host: this.#target.address.address,
      port: this.#target.address.port,
      method: 'GET',
      path: this.#check.path,
      headers: this.#h1Headers,
      agent,
    });
    this.#h1Req = req;
    req.on('socket', (s) => {
      s.unref();
    });
    req.on('response', (res) => {
      if (this.#h1Req !== req) {
        res.destroy();
        return;
      }
      const status = res.statusCode ?? 0;
      res.on('error', (e) => this.#h1Done(req, ProbeOutcome.NetworkFailure, errorReason(e)));
      res.on('end', () => this.#h1Done(req, this.#statusOutcome(status), `status ${status}`));
      res.resume();
    });
    req.on('error', (e) => this.#h1Done(req, ProbeOutcome.NetworkFailure, errorReason(e)));
    req.end();
  }

  #h1Done(req: http.ClientRequest, outcome: ProbeOutcome, reason: string): void {
    if (this.#h1Req !== req) return;
    this.#h1Req = null;
    this.#cb.onProbeResult(outcome, reason);
  }

  #startH2(client: H2Client): void {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = client.session().request(this.#h2Headers, { endStream: true });
    } catch (e) {
      client.reset();
      this.#cb.onProbeResult(ProbeOutcome.NetworkFailure, errorReason(e));
      return;
    }
    this.#h2Stream = stream;
    let status = 0;
    stream.on('response', (h) => {
      status = Number(h[':status'] ?? 0);
    });
    stream.on('error', (e) => this.#h2Done(stream, ProbeOutcome.NetworkFailure, client.lastError ?? errorReason(e)));
    stream.on('close', () => {
      if (status === 0 || stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
        this.#h2Done(stream, ProbeOutcome.NetworkFailure, client.lastError ?? `stream reset ${stream.rstCode ?? ''}`.trim());
      } else {
        this.#h2Done(stream, this.#statusOutcome(status), `status ${status}`);
      }
    });
    stream.resume();
  }

  #h2Done(stream: http2.ClientHttp2Stream, outcome: ProbeOutcome, reason: string): void {
    if (this.#h2Stream !== stream) return;
    this.#h2Stream = null;
    this.#cb.onProbeResult(outcome, reason);
  }

  #statusOutcome(status: number): ProbeOutcome {
    return statusExpected(status, this.#check.expectedStatuses) ? ProbeOutcome.Success : ProbeOutcome.ActiveFailure;
  }
}
