// TCP health check (envoy.health_checkers.tcp): connect, send the payload, find every receive payload in order; one connection per check.
import * as net from 'node:net';
import type { HealthCheckConfig } from '../../../src/xds/resources/types.js';
import { errorReason, ProbeOutcome, type HealthProbe, type ProbeCallbacks, type ProbeTarget } from './probe.js';

type TcpCheck = Extract<HealthCheckConfig['check'], { kind: 'tcp' }>;

/** Received bytes kept per check; a peer that sends more without matching fails the check. */
export const TCP_RECEIVE_LIMIT_BYTES = 64 * 1024;

/** True when every segment occurs in `data`, each after the end of the previous one (Envoy's TcpHealthCheckMatcher). */
export function matchesInOrder(data: Buffer, segments: readonly Buffer[]): boolean {
  let from = 0;
  for (const seg of segments) {
    const at = data.indexOf(seg, from);
    if (at < 0) return false;
    from = at + seg.length;
  }
  return true;
}

/** Owns the socket of the TCP check in flight to one host (and one still flushing its payload). */
export class TcpProbe implements HealthProbe {
  readonly kind = 'tcp' as const;
  readonly #check: TcpCheck;
  readonly #target: ProbeTarget;
  readonly #cb: ProbeCallbacks;
  #sock: net.Socket | null;
  /** A socket whose check passed, still ending after writing its payload. */
  #closing: net.Socket | null;
  #received: Buffer;

  constructor(check: TcpCheck, target: ProbeTarget, cb: ProbeCallbacks) {
    this.#check = check;
    this.#target = target;
    this.#cb = cb;
    this.#sock = null;
    this.#closing = null;
    this.#received = Buffer.alloc(0);
  }

  // HealthProbe
  start(): void {
    const sock = net.connect({ host: this.#target.address.address, port: this.#target.address.port });
    sock.unref();
    this.#sock = sock;
    this.#received = Buffer.alloc(0);
    sock.on('connect', () => {
      if (this.#sock !== sock) return;
      const send = this.#check.send;
      if (send !== null && send.length > 0) sock.write(send);
      if (this.#check.receive.length === 0) this.#done(sock, ProbeOutcome.Success, 'connected', true);
    });
    sock.on('data', (chunk: Buffer) => {
      if (this.#sock !== sock) return;
      const buf = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
      this.#received = buf;
      if (matchesInOrder(buf, this.#check.receive)) this.#done(sock, ProbeOutcome.Success, 'received', false);
      else if (buf.length > TCP_RECEIVE_LIMIT_BYTES) this.#done(sock, ProbeOutcome.ActiveFailure, 'receive mismatch', false);
    });
    sock.on('error', (e) => this.#done(sock, ProbeOutcome.NetworkFailure, errorReason(e), false));
    sock.on('close', () => {
      if (this.#closing === sock) this.#closing = null;
      this.#done(sock, ProbeOutcome.NetworkFailure, this.#received.length > 0 ? 'closed before a match' : 'connection closed', false);
    });
  }

  abort(): void {
    const s = this.#sock;
    this.#sock = null;
    this.#received = Buffer.alloc(0);
    if (s !== null) s.destroy();
  }

  close(): void {
    this.abort();
    const c = this.#closing;
    this.#closing = null;
    if (c !== null) c.destroy();
  }

  /** Ends the check; the socket is closed after every check (gracefully when a payload may still be flushing). */
  #done(sock: net.Socket, outcome: ProbeOutcome, reason: string, flush: boolean): void {
    if (this.#sock !== sock) return;
    this.#sock = null;
    this.#received = Buffer.alloc(0);
    if (flush && this.#check.send !== null) {
      const prev = this.#closing;
      if (prev !== null) prev.destroy();
      this.#closing = sock;
      sock.end(() => sock.destroy());
    } else {
      sock.destroy();
    }
    this.#cb.onProbeResult(outcome, reason);
  }
}
