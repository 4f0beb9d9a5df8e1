// Raw HTTP/2 frame client for tests: hand-built frames (incl. malformed/abusive ones), a frame reader and a small HPACK codec.
// Test helper only: not on any data path, so it favours clarity over the hot-path rules.
import { connect, type Socket } from 'node:net';

// ---------------------------------------------------------------------------------------------
// Protocol constants (RFC 9113)

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FrameFlag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const H2Error = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

export const SettingsId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

const ERROR_NAMES: readonly string[] = Object.keys(H2Error);
const TYPE_NAMES: readonly string[] = Object.keys(FrameType);

/** `ENHANCE_YOUR_CALM` for 0xb, `0x2a` for unknown codes. */
export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** `HEADERS` for 0x1, `0x2a` for unknown types. */
export function frameTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `0x${type.toString(16)}`;
}

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

// ---------------------------------------------------------------------------------------------
// Frame encoding

export interface H2Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** One frame: 9-byte header + payload. The length field is the payload length (callers may lie via `raw`). */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  payload.copy(out, 9);
  return out;
}

export type SettingsInput = Readonly<Partial<Record<keyof typeof SettingsId, number>>> | readonly (readonly [number, number])[];

export function encodeSettingsPayload(settings: SettingsInput): Buffer {
  const pairs: (readonly [number, number])[] = Array.isArray(settings)
    ? [...(settings as readonly (readonly [number, number])[])]
    : Object.entries(settings as Record<string, number>).map(([k, v]) => {
        const id = (SettingsId as Record<string, number>)[k];
        if (id === undefined) throw new Error(`unknown setting ${k}`);
        return [id, v] as const;
      });
  const out = Buffer.allocUnsafe(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    out.writeUInt16BE(id, i * 6);
    out.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return out;
}

export interface PrioritySpec {
  readonly dependency: number;
  /** 1..256 (the wire carries weight - 1). */
  readonly weight: number;
  readonly exclusive?: boolean;
}

function encodePriority(p: PrioritySpec): Buffer {
  const out = Buffer.allocUnsafe(5);
  out.writeUInt32BE(((p.exclusive ? 0x80000000 : 0) | (p.dependency & 0x7fffffff)) >>> 0, 0);
  out[4] = (p.weight - 1) & 0xff;
  return out;
}

function pad(body: Buffer, padLength: number | undefined): { payload: Buffer; padded: boolean } {
  if (padLength === undefined) return { payload: body, padded: false };
  return { payload: Buffer.concat([Buffer.from([padLength]), body, Buffer.alloc(padLength)]), padded: true };
}

// ---------------------------------------------------------------------------------------------
// HPACK (RFC 7541)

/** RFC 7541 Appendix A. Index 0 is unused. */
export const HPACK_STATIC_TABLE: readonly (readonly [string, string])[] = [
  ['', ''],
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** Huffman code length of each symbol 0..256 (256 = EOS), RFC 7541 Appendix B; the code is canonical. */
const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

/** Canonical Huffman tables derived once from the lengths: codes per symbol, and per-length decode ranges. */
class HuffmanTables {
  readonly codes: Uint32Array = new Uint32Array(257);
  /** Symbols sorted by (length, symbol). */
  readonly sorted: Uint16Array = new Uint16Array(257);
  readonly firstCode: Int32Array = new Int32Array(31);
  readonly firstIndex: Int32Array = new Int32Array(31);
  readonly count: Int32Array = new Int32Array(31);

  constructor(lengths: readonly number[]) {
    const order = lengths.map((_, s) => s).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
    let code = 0;
    let prevLen = lengths[order[0]!]!;
    order.forEach((s, i) => {
      const len = lengths[s]!;
      code <<= len - prevLen;
      prevLen = len;
      if (this.count[len] === 0) {
        this.firstCode[len] = code;
        this.firstIndex[len] = i;
      }
      this.count[len] = this.count[len]! + 1;
      this.codes[s] = code;
      this.sorted[i] = s;
      code++;
    });
  }
}
const HUFFMAN = new HuffmanTables(HUFFMAN_LENGTHS);

export function huffmanEncode(input: Buffer): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of input) {
    const len = HUFFMAN_LENGTHS[b]!;
    const code = HUFFMAN.codes[b]!;
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >>> i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff); // EOS-prefix padding
  return Buffer.from(out);
}

/** Throws on an EOS symbol, padding longer than 7 bits, or padding that is not all ones. */
export function huffmanDecode(input: Buffer): Buffer {
  const out: number[] = [];
  let code = 0;
  let len = 0;
  let allOnes = true;
  for (const byte of input) {
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >>> i) & 1;
      code = (code << 1) | bit;
      len++;
      if (bit === 0) allOnes = false;
      if (len > 30) throw new Error('hpack: invalid huffman code');
      const n = HUFFMAN.count[len]!;
      if (n > 0) {
        const off = code - HUFFMAN.firstCode[len]!;
        if (off >= 0 && off < n) {
          const sym = HUFFMAN.sorted[HUFFMAN.firstIndex[len]! + off]!;
          if (sym === 256) throw new Error('hpack: EOS in huffman string');
          out.push(sym);
          code = 0;
          len = 0;
          allOnes = true;
        }
      }
    }
  }
  if (len > 7 || !allOnes) throw new Error('hpack: invalid huffman padding');
  return Buffer.from(out);
}

/** HPACK primitives for building header blocks by hand (incl. hostile ones). */
export const hpack = {
  /** Integer with an N-bit prefix; `first` carries the pattern bits above the prefix. */
  int(value: number, prefixBits: number, first = 0): Buffer {
    const max = (1 << prefixBits) - 1;
    if (value < max) return Buffer.from([first | value]);
    const out = [first | max];
    let v = value - max;
    while (v >= 128) {
      out.push((v % 128) + 128);
      v = Math.floor(v / 128);
    }
    out.push(v);
    return Buffer.from(out);
  },
  /** String literal, raw or Huffman-coded. */
  str(value: string | Buffer, huffman = false): Buffer {
    const raw = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
    const body = huffman ? huffmanEncode(raw) : raw;
    return Buffer.concat([hpack.int(body.length, 7, huffman ? 0x80 : 0), body]);
  },
  /** Indexed header field (static 1..61, dynamic 62..). */
  indexed(index: number): Buffer {
    return hpack.int(index, 7, 0x80);
  },
  /** Literal without indexing, new name (0000 0000). */
  literal(name: string, value: string | Buffer, huffman = false): Buffer {
    return Buffer.concat([Buffer.from([0x00]), hpack.str(name, huffman), hpack.str(value, huffman)]);
  },
  /** Literal with incremental indexing, new name (0100 0000): inserts into the peer's dynamic table. */
  literalIndexed(name: string, value: string | Buffer, huffman = false): Buffer {
    return Buffer.concat([Buffer.from([0x40]), hpack.str(name, huffman), hpack.str(value, huffman)]);
  },
  /** Literal never indexed, new name (0001 0000). */
  literalNeverIndexed(name: string, value: string | Buffer): Buffer {
    return Buffer.concat([Buffer.from([0x10]), hpack.str(name), hpack.str(value)]);
  },
  /** Literal whose name is the indexed entry `nameIndex`; `indexing` adds it to the dynamic table. */
  literalIndexedName(nameIndex: number, value: string | Buffer, indexing = false): Buffer {
    return Buffer.concat([indexing ? hpack.int(nameIndex, 6, 0x40) : hpack.int(nameIndex, 4, 0x00), hpack.str(value)]);
  },
  /** Dynamic table size update (001x xxxx). */
  sizeUpdate(size: number): Buffer {
    return hpack.int(size, 5, 0x20);
  },
  /** A whole block of literal-without-indexing fields, no Huffman. */
  block(headers: HeaderList): Buffer {
    return Buffer.concat(headers.map(([n, v]) => hpack.literal(n, v)));
  },
};

export type HeaderList = readonly (readonly [string, string])[];

/** HPACK decoder with its own dynamic table (one per connection direction). */
export class HpackDecoder {
  #table: [string, string][] = [];
  #size = 0;
  #maxSize: number;

  constructor(maxSize = 4096) {
    this.#maxSize = maxSize;
  }

  get dynamicTableSize(): number {
    return this.#size;
  }

  /** Decodes one complete header block; throws on malformed input. Header values are latin1 strings. */
  decode(block: Buffer): [string, string][] {
    const out: [string, string][] = [];
    let off = 0;
    const readInt = (prefixBits: number): number => {
      const max = (1 << prefixBits) - 1;
      let v = block[off++]! & max;
      if (v < max) return v;
      let m = 1;
      for (;;) {
        if (off >= block.length) throw new Error('hpack: truncated integer');
        const b = block[off++]!;
        v += (b & 0x7f) * m;
        m *= 128;
        if ((b & 0x80) === 0) return v;
        if (m > 2 ** 28) throw new Error('hpack: integer overflow');
      }
    };
    const readStr = (): string => {
      if (off >= block.length) throw new Error('hpack: truncated string');
      const huff = (block[off]! & 0x80) !== 0;
      const len = readInt(7);
      if (off + len > block.length) throw new Error('hpack: truncated string');
      const raw = block.subarray(off, off + len);
      off += len;
      return (huff ? huffmanDecode(raw) : raw).toString('latin1');
    };
    const lookup = (index: number): readonly [string, string] => {
      if (index <= 0) throw new Error('hpack: index 0');
      if (index < HPACK_STATIC_TABLE.length) return HPACK_STATIC_TABLE[index]!;
      const e = this.#table[index - HPACK_STATIC_TABLE.length];
      if (e === undefined) throw new Error(`hpack: index ${index} out of range`);
      return e;
    };
    while (off < block.length) {
      const b = block[off]!;
      if (b & 0x80) {
        const [n, v] = lookup(readInt(7));
        out.push([n, v]);
      } else if (b & 0x40) {
        const idx = readInt(6);
        const name = idx === 0 ? readStr() : lookup(idx)[0];
        const value = readStr();
        out.push([name, value]);
        this.#insert(name, value);
      } else if (b & 0x20) {
        const size = readInt(5);
        this.#maxSize = size;
        this.#evict(0);
      } else {
        const idx = readInt(4);
        const name = idx === 0 ? readStr() : lookup(idx)[0];
        out.push([name, readStr()]);
      }
    }
    return out;
  }

  #insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.#evict(size);
    if (size > this.#maxSize) return; // an entry larger than the table empties it (RFC 7541 §4.4)
    this.#table.unshift([name, value]);
    this.#size += size;
  }

  #evict(room: number): void {
    while (this.#size + room > this.#maxSize && this.#table.length > 0) {
      const [n, v] = this.#table.pop()!;
      this.#size -= n.length + v.length + 32;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Client

export interface H2RawClientOptions {
  readonly host?: string;
  /** Send the connection preface + an initial SETTINGS frame on connect (default true). */
  readonly preface?: boolean;
  /** Settings carried by the initial SETTINGS frame (default none). */
  readonly settings?: SettingsInput;
  /** ACK the server's SETTINGS frames (default true). */
  readonly autoAckSettings?: boolean;
  /** Answer the server's PINGs (default true). */
  readonly autoAckPing?: boolean;
  /** Send WINDOW_UPDATE (connection + stream) for every DATA frame received (default true). */
  readonly autoWindowUpdate?: boolean;
  /** Read the socket at all (default true). `false`: the socket stays paused, as a client that never reads. */
  readonly read?: boolean;
  /** Keep at most this many received frames in `frames` (default 10_000); counters keep counting. */
  readonly maxRecordedFrames?: number;
  readonly connectTimeoutMs?: number;
}

export interface GoawayInfo {
  readonly lastStreamId: number;
  readonly errorCode: number;
  readonly errorName: string;
  readonly debug: string;
  /** Frames this client had sent when the GOAWAY arrived. */
  readonly atFramesSent: number;
  readonly atMs: number;
}

/** What the client has seen on one stream. */
export interface StreamResponse {
  headers: [string, string][] | null;
  trailers: [string, string][] | null;
  status: number | null;
  data: Buffer[];
  dataBytes: number;
  ended: boolean;
  rstCode: number | null;
}

export interface HeadersOptions {
  readonly endStream?: boolean;
  /** Default true. */
  readonly endHeaders?: boolean;
  readonly padLength?: number;
  readonly priority?: PrioritySpec;
}

/** One raw HTTP/2 connection over TCP: owns the socket, the frame reader, HPACK decoder state and what was received. */
export class H2RawClient {
  readonly socket: Socket;
  /** Received frames, in order (bounded by `maxRecordedFrames`). */
  readonly frames: H2Frame[] = [];
  /** Received frame counts by type. */
  readonly counts: Map<number, number> = new Map();
  /** RST_STREAM codes received, by stream id (last one wins). */
  readonly rsts: Map<number, number> = new Map();
  readonly streams: Map<number, StreamResponse> = new Map();
  readonly closed: Promise<void>;
  goaway: GoawayInfo | null = null;
  /** The server's settings as last received. */
  readonly peerSettings: Map<number, number> = new Map();
  framesSent = 0;
  bytesSent = 0;
  bytesReceived = 0;
  isClosed = false;
  closedAtMs: number | null = null;
  /** Set when a received header block failed to decode. */
  decodeError: Error | null = null;
  readonly startedAtMs: number = performance.now();

  #buf: Buffer = Buffer.alloc(0);
  #opts: Required<Omit<H2RawClientOptions, 'settings' | 'host' | 'connectTimeoutMs'>>;
  #decoder = new HpackDecoder();
  #headerBlock: Buffer[] | null = null;
  #headerStream = 0;
  #headerEndStream = false;
  #waiters: Set<() => void> = new Set();

  private constructor(socket: Socket, opts: H2RawClientOptions) {
    this.socket = socket;
    this.#opts = {
      preface: opts.preface ?? true,
      autoAckSettings: opts.autoAckSettings ?? true,
      autoAckPing: opts.autoAckPing ?? true,
      autoWindowUpdate: opts.autoWindowUpdate ?? true,
      read: opts.read ?? true,
      maxRecordedFrames: opts.maxRecordedFrames ?? 10_000,
    };
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        this.closedAtMs = performance.now() - this.startedAtMs;
        resolve();
        this.#notify();
      });
    });
    socket.on('error', () => {}); // surfaced as `closed`
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    if (!this.#opts.read) socket.pause();
  }

  /** Connects to 127.0.0.1:port (or `host`), sends the preface unless disabled. */
  static connect(port: number, opts: H2RawClientOptions = {}): Promise<H2RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, opts.host ?? '127.0.0.1');
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`h2-raw: connect to ${port} timed out`));
      }, opts.connectTimeoutMs ?? 2000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        const c = new H2RawClient(socket, opts);
        if (c.#opts.preface) {
          c.raw(CLIENT_PREFACE);
          c.settings(opts.settings ?? {});
        }
        resolve(c);
      });
    });
  }

  // --- sending: every method returns socket.write()'s result (false = the kernel buffer is full).

  raw(buf: Buffer): boolean {
    if (this.socket.destroyed) return false;
    this.bytesSent += buf.length;
    return this.socket.write(buf);
  }

  frame(type: number, flags: number, streamId: number, payload?: Buffer): boolean {
    this.framesSent++;
    return this.raw(encodeFrame(type, flags, streamId, payload));
  }

  settings(settings: SettingsInput = {}): boolean {
    return this.frame(FrameType.SETTINGS, 0, 0, encodeSettingsPayload(settings));
  }

  settingsAck(): boolean {
    return this.frame(FrameType.SETTINGS, FrameFlag.ACK, 0);
  }

  /** HEADERS with a literal (non-indexed, non-Huffman) block from `headers`, or `headers` as raw HPACK bytes. */
  headers(streamId: number, headers: HeaderList | Buffer, opts: HeadersOptions = {}): boolean {
    let block = Buffer.isBuffer(headers) ? headers : hpack.block(headers);
    let flags = 0;
    if (opts.endStream) flags |= FrameFlag.END_STREAM;
    if (opts.endHeaders ?? true) flags |= FrameFlag.END_HEADERS;
    if (opts.priority) {
      flags |= FrameFlag.PRIORITY;
      block = Buffer.concat([encodePriority(opts.priority), block]);
    }
    const p = pad(block, opts.padLength);
    if (p.padded) flags |= FrameFlag.PADDED;
    return this.frame(FrameType.HEADERS, flags, streamId, p.payload);
  }

  /** GET `path` with END_STREAM: the minimal request. */
  get(streamId: number, path = '/', authority = 'localhost', extra: HeaderList = []): boolean {
    return this.headers(
      streamId,
      [[':method', 'GET'], [':scheme', 'http'], [':authority', authority], [':path', path], ...extra],
      { endStream: true },
    );
  }

  continuation(streamId: number, block: HeaderList | Buffer, opts: { endHeaders?: boolean } = {}): boolean {
    const payload = Buffer.isBuffer(block) ? block : hpack.block(block);
    return this.frame(FrameType.CONTINUATION, opts.endHeaders ? FrameFlag.END_HEADERS : 0, streamId, payload);
  }

  data(streamId: number, data: Buffer | string = Buffer.alloc(0), opts: { endStream?: boolean; padLength?: number } = {}): boolean {
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    const p = pad(body, opts.padLength);
    const flags = (opts.endStream ? FrameFlag.END_STREAM : 0) | (p.padded ? FrameFlag.PADDED : 0);
    return this.frame(FrameType.DATA, flags, streamId, p.payload);
  }

  rst(streamId: number, code: number = H2Error.CANCEL): boolean {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(code >>> 0, 0);
    return this.frame(FrameType.RST_STREAM, 0, streamId, p);
  }

  ping(payload: Buffer = Buffer.alloc(8), ack = false): boolean {
    return this.frame(FrameType.PING, ack ? FrameFlag.ACK : 0, 0, payload);
  }

  windowUpdate(streamId: number, increment: number): boolean {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(increment & 0x7fffffff, 0);
    return this.frame(FrameType.WINDOW_UPDATE, 0, streamId, p);
  }

  priority(streamId: number, spec: PrioritySpec): boolean {
    return this.frame(FrameType.PRIORITY, 0, streamId, encodePriority(spec));
  }

  goawayFrame(lastStreamId: number, code: number = H2Error.NO_ERROR, debug = ''): boolean {
    const d = Buffer.from(debug);
    const p = Buffer.allocUnsafe(8 + d.length);
    p.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
    p.writeUInt32BE(code >>> 0, 4);
    d.copy(p, 8);
    return this.frame(FrameType.GOAWAY, 0, 0, p);
  }

  /** Resolves when the socket's write buffer drained (or it closed), at most `timeoutMs`. */
  drain(timeoutMs = 2000): Promise<void> {
    if (!this.socket.writableNeedDrain || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  /** Graceful end: FIN after pending writes. */
  end(): void {
    this.socket.end();
  }

  // --- receiving

  countOf(type: number): number {
    return this.counts.get(type) ?? 0;
  }

  stream(id: number): StreamResponse {
    let s = this.streams.get(id);
    if (s === undefined) {
      s = { headers: null, trailers: null, status: null, data: [], dataBytes: 0, ended: false, rstCode: null };
      this.streams.set(id, s);
    }
    return s;
  }

  /**
   * Resolves once `pred(this)` holds (checked now, on every received frame and on close); rejects after
   * `timeoutMs` with `what` in the message.
   */
  waitFor(pred: (c: H2RawClient) => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
    if (pred(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pred(this)) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`h2-raw: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Waits until stream `id` ended (END_STREAM or RST_STREAM) and returns what it got. */
  async response(id: number, timeoutMs = 2000): Promise<StreamResponse & { body: Buffer }> {
    await this.waitFor((c) => {
      const s = c.streams.get(id);
      return (s !== undefined && (s.ended || s.rstCode !== null)) || c.isClosed;
    }, timeoutMs, `response on stream ${id}`);
    const s = this.stream(id);
    return { ...s, body: Buffer.concat(s.data) };
  }

  /** Waits for a GOAWAY frame or the connection closing, whichever first. */
  async goawayOrClose(timeoutMs = 2000): Promise<GoawayInfo | null> {
    await this.waitFor((c) => c.goaway !== null || c.isClosed, timeoutMs, 'GOAWAY or close');
    return this.goaway;
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  #onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let off = 0;
    while (this.#buf.length - off >= 9) {
      const len = this.#buf.readUIntBE(off, 3);
      if (this.#buf.length - off < 9 + len) break;
      const frame: H2Frame = {
        type: this.#buf[off + 3]!,
        flags: this.#buf[off + 4]!,
        streamId: this.#buf.readUInt32BE(off + 5) & 0x7fffffff,
        payload: this.#buf.subarray(off + 9, off + 9 + len),
      };
      off += 9 + len;
      this.#onFrame(frame);
    }
    this.#buf = off === this.#buf.length ? Buffer.alloc(0) : this.#buf.subarray(off);
    this.#notify();
  }

  #onFrame(f: H2Frame): void {
    this.counts.set(f.type, (this.counts.get(f.type) ?? 0) + 1);
    if (this.frames.length < this.#opts.maxRecordedFrames) this.frames.push(f);
    const p = f.payload;
    switch (f.type) {
      case FrameType.SETTINGS:
        if ((f.flags & FrameFlag.ACK) === 0) {
          for (let i = 0; i + 6 <= p.length; i += 6) this.peerSettings.set(p.readUInt16BE(i), p.readUInt32BE(i + 2));
          if (this.#opts.autoAckSettings) this.settingsAck();
        }
        break;
      case FrameType.PING:
        if ((f.flags & FrameFlag.ACK) === 0 && this.#opts.autoAckPing) this.ping(Buffer.from(p), true);
        break;
      case FrameType.GOAWAY:
        this.goaway = {
          lastStreamId: p.readUInt32BE(0) & 0x7fffffff,
          errorCode: p.readUInt32BE(4),
          errorName: errorName(p.readUInt32BE(4)),
          debug: p.subarray(8).toString('latin1'),
          atFramesSent: this.framesSent,
          atMs: performance.now() - this.startedAtMs,
        };
        break;
      case FrameType.RST_STREAM: {
        const code = p.readUInt32BE(0);
        this.rsts.set(f.streamId, code);
        this.stream(f.streamId).rstCode = code;
        break;
      }
      case FrameType.HEADERS: {
        let start = 0;
        let end = p.length;
        if (f.flags & FrameFlag.PADDED) {
          end -= p[0]!;
          start = 1;
        }
        if (f.flags & FrameFlag.PRIORITY) start += 5;
        this.#headerBlock = [p.subarray(start, end)];
        this.#headerStream = f.streamId;
        this.#headerEndStream = (f.flags & FrameFlag.END_STREAM) !== 0;
        if (f.flags & FrameFlag.END_HEADERS) this.#finishHeaders();
        break;
      }
      case FrameType.CONTINUATION:
        if (this.#headerBlock !== null && f.streamId === this.#headerStream) {
          this.#headerBlock.push(p);
          if (f.flags & FrameFlag.END_HEADERS) this.#finishHeaders();
        }
        break;
      case FrameType.DATA: {
        const s = this.stream(f.streamId);
        let body = p;
        if (f.flags & FrameFlag.PADDED) body = p.subarray(1, p.length - p[0]!);
        s.data.push(Buffer.from(body));
        s.dataBytes += body.length;
        if (f.flags & FrameFlag.END_STREAM) s.ended = true;
        if (this.#opts.autoWindowUpdate && p.length > 0) {
          this.windowUpdate(0, p.length);
          if (!s.ended) this.windowUpdate(f.streamId, p.length);
        }
        break;
      }
      default:
        break;
    }
  }

  #finishHeaders(): void {
    const block = Buffer.concat(this.#headerBlock!);
    this.#headerBlock = null;
    const s = this.stream(this.#headerStream);
    let list: [string, string][];
    try {
      list = this.#decoder.decode(block);
    } catch (err) {
      this.decodeError = err as Error;
      return;
    }
    if (s.headers === null) {
      s.headers = list;
      const st = list.find(([n]) => n === ':status');
      s.status = st ? Number(st[1]) : null;
    } else {
      s.trailers = list;
    }
    if (this.#headerEndStream) s.ended = true;
  }
}

/** The value of header `name` (first occurrence) in a decoded list. */
export function headerValue(list: readonly (readonly [string, string])[] | null, name: string): string | undefined {
  return list?.find(([n]) => n === name)?.[1];
}
