// envoy.filters.listener.tls_inspector: peeks at a new connection's first bytes to tell TLS from plaintext
// and, for TLS, reads SNI and ALPN from the ClientHello — before a filter chain is chosen. The bytes read are
// put back (socket.unshift) for whoever handles the connection: node:tls replays them into the handshake.
import type { Socket } from 'node:net';

export interface InspectedConnection {
  readonly transportProtocol: '' | 'tls' | 'raw_buffer';
  /** SNI, lower-cased; '' when absent. */
  readonly serverName: string;
  readonly applicationProtocols: readonly string[];
}

export const NOT_INSPECTED: InspectedConnection = Object.freeze({ transportProtocol: '', serverName: '', applicationProtocols: [] });
const RAW: InspectedConnection = Object.freeze({ transportProtocol: 'raw_buffer', serverName: '', applicationProtocols: [] });
/** A ClientHello larger than this is not inspected further (Envoy's default max read is 64 KiB). */
const MAX_CLIENT_HELLO = 64 * 1024;

const REC_HANDSHAKE = 0x16;
const HS_CLIENT_HELLO = 0x01;
const EXT_SNI = 0;
const EXT_ALPN = 16;

/** 'more': need more bytes; else the verdict for the bytes so far. */
export function inspectClientHello(buf: Buffer): InspectedConnection | 'more' {
  if (buf.length === 0) return 'more';
  if (buf[0] !== REC_HANDSHAKE) return RAW;
  // Reassemble the handshake message from consecutive handshake records.
  const hs: Buffer[] = [];
  let have = 0;
  let off = 0;
  let need = -1;
  while (true) {
    if (buf.length < off + 5) return buf.length >= MAX_CLIENT_HELLO ? tlsOnly() : 'more';
    if (buf[off] !== REC_HANDSHAKE) return tlsOnly();
    const len = buf.readUInt16BE(off + 3);
    if (buf.length < off + 5 + len) return buf.length >= MAX_CLIENT_HELLO ? tlsOnly() : 'more';
    hs.push(buf.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0 && have >= 4) {
      const h = Buffer.concat(hs);
      if (h[0] !== HS_CLIENT_HELLO) return tlsOnly();
      need = 4 + h.readUIntBE(1, 3);
    }
    if (need >= 0 && have >= need) return parseClientHello(Buffer.concat(hs).subarray(4, need));
    if (off >= MAX_CLIENT_HELLO) return tlsOnly();
  }
}

function tlsOnly(): InspectedConnection {
  return { transportProtocol: 'tls', serverName: '', applicationProtocols: [] };
}

function parseClientHello(b: Buffer): InspectedConnection {
  let serverName = '';
  const alpn: string[] = [];
  try {
    let p = 2 + 32; // legacy_version, random
    p += 1 + b[p]!; // session id
    p += 2 + b.readUInt16BE(p); // cipher suites
    p += 1 + b[p]!; // compression methods
    if (p + 2 <= b.length) {
      const end = Math.min(b.length, p + 2 + b.readUInt16BE(p));
      p += 2;
      while (p + 4 <= end) {
        const type = b.readUInt16BE(p);
        const len = b.readUInt16BE(p + 2);
        const body = b.subarray(p + 4, p + 4 + len);
        p += 4 + len;
        if (type === EXT_SNI && body.length >= 5 && body[2] === 0) {
          const n = body.readUInt16BE(3);
          serverName = body.subarray(5, 5 + n).toString('latin1').toLowerCase();
        } else if (type === EXT_ALPN && body.length >= 2) {
          let q = 2;
          const listEnd = Math.min(body.length, 2 + body.readUInt16BE(0));
          while (q < listEnd) {
            const n = body[q]!;
            alpn.push(body.subarray(q + 1, q + 1 + n).toString('latin1'));
            q += 1 + n;
          }
        }
      }
    }
  } catch {
    // A truncated or malformed hello: TLS without SNI/ALPN; the handshake itself will fail cleanly.
  }
  return { transportProtocol: 'tls', serverName, applicationProtocols: alpn };
}

/**
 * Reads from `socket` until the first bytes decide, then puts the bytes back and calls `done` (synchronously).
 * `done('closed')` when the peer went away, `done('timeout')` when listener_filters_timeout fired.
 */
export function inspectConnection(socket: Socket, timeoutMs: number, done: (r: InspectedConnection | 'closed' | 'timeout') => void): void {
  let buf: Buffer = Buffer.alloc(0);
  let timer: NodeJS.Timeout | null = null;
  const finish = (r: InspectedConnection | 'closed' | 'timeout'): void => {
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    if (timer !== null) clearTimeout(timer);
    // Still flowing: a plaintext handler attaching 'data' now gets these bytes first; TLS pauses before wrapping.
    if (buf.length > 0) socket.unshift(buf);
    done(r);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const r = inspectClientHello(buf);
    if (r !== 'more') finish(r);
  };
  const onEnd = (): void => finish('closed');
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  if (timeoutMs > 0) timer = setTimeout(finish, timeoutMs, 'timeout');
}
