// One reusable h2c (prior-knowledge HTTP/2 over TCP) client session to a host, for HTTP/2 and gRPC checks.
import * as http2 from 'node:http2';
import { errorReason, hostPort } from './probe.js';
import type { SocketAddress } from '../../../src/xds/resources/types.js';

/** Owns the health-check HTTP/2 session to one host; reconnects lazily after the session ends. */
export class H2Client {
  readonly #origin: string;
  #session: http2.ClientHttp2Session | null;
  /** Why the last session failed (ECONNREFUSED), for failure reasons; null when none did. */
  lastError: string | null;

  constructor(address: SocketAddress) {
    this.#origin = `http://${hostPort(address)}`;
    this.#session = null;
    this.lastError = null;
  }

  /** The live session, connecting a new one when there is none (or it is closing). */
  session(): http2.ClientHttp2Session {
    const cur = this.#session;
    if (cur !== null && !cur.closed && !cur.destroyed) return cur;
    this.lastError = null;
    const s = http2.connect(this.#origin);
    s.on('error', (e: unknown) => {
      this.lastError = errorReason(e);
    });
    s.on('goaway', () => {
      // no new streams on it: let the next check open a fresh session; this one ends after its streams
      if (this.#session === s) this.#session = null;
      s.close();
    });
    s.on('close', () => {
      if (this.#session === s) this.#session = null;
    });
    s.unref();
    this.#session = s;
    return s;
  }

  /** Destroys the session (after a timeout, like Envoy closing the check connection). */
  reset(): void {
    const s = this.#session;
    this.#session = null;
    if (s !== null && !s.destroyed) s.destroy();
  }

  close(): void {
    this.reset();
  }
}
