// H1Stream: one request/response exchange on a downstream HTTP/1.1 connection (response framing and keep-alive).
import type { Socket } from 'node:net';
import type { DownstreamConnectionInfo } from '../connection-info.js';
import { ActiveStream, appendList, stripRequestHopByHop, stripResponseHopByHop, type HcmShared } from '../active-stream.js';
import type { HeaderMap } from '../header-map.js';
import { LocalReplies, serializeLocalReply, type LocalReply } from '../local-reply.js';
import type { H1Message } from './parser.js';
import {
  chunkHeader, CHUNKED_LINE, CLOSE_LINE, CONTINUE_100, CRLF, frameChunk, KEEP_ALIVE_LINE, LAST_CHUNK,
  lastChunkWithTrailers, serializeResponseHead, SMALL_CHUNK,
} from './serializer.js';

/** The connection side of an HTTP/1.1 stream (implemented by HttpConnection). */
export interface H1StreamOwner {
  readonly shared: HcmShared;
  readonly draining: boolean;
  readonly connection: DownstreamConnectionInfo;
  write(data: Buffer | string, cork: boolean): boolean;
  readDisable(disable: boolean): void;
  onStreamDone(stream: H1Stream): void;
  /** Stream activity (a response head or body chunk went out): pushes the stream idle timeout back. */
  touch(): void;
  setStreamIdleTimeout(ms: number): void;
  enterTunnel(stream: H1Stream, upstream: Socket, upstreamPending: Buffer | null): void;
  /** Closes the connection now (stream reset after the response started). */
  abort(): void;
}

/** Owns the HTTP/1.1 side of one stream: response framing (content-length, chunked, close-delimited), 100-continue, upgrades. */
export class H1Stream extends ActiveStream {
  readonly #owner: H1StreamOwner;
  readonly versionMinor: number;
  /** Close the connection after this response. */
  closeAfter: boolean;
  tunnel: boolean;
  #chunkedResponse: boolean;
  #suppressBody: boolean;
  #sent100: boolean;

  constructor(owner: H1StreamOwner, msg: H1Message) {
    super(
      owner.shared,
      {
        method: msg.method,
        path: msg.path,
        authority: msg.host,
        headers: msg.headers,
        protocol: msg.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
        bodyless: msg.bodyless,
        expectContinue: msg.expectContinue,
      },
      owner.connection,
    );
    this.#owner = owner;
    this.versionMinor = msg.versionMinor;
    this.closeAfter = !msg.keepAlive || owner.draining;
    this.tunnel = false;
    this.#chunkedResponse = false;
    this.#suppressBody = false;
    this.#sent100 = false;
  }

  /** Runs the request head through the HCM (HTTP/1.0 policy, hop-by-hop fields, upgrade) and on to routing. */
  start(msg: H1Message): void {
    if (this.versionMinor === 0 && !this.shared.config.acceptHttp10) {
      this.sendLocalReply(LocalReplies.http10NotAccepted, null);
      return;
    }
    const h = this.headers;
    const upgradeValue = msg.upgrade ? (h.get('upgrade') ?? '').toLowerCase() : '';
    stripRequestHopByHop(h);
    if (this.expectContinue) h.remove('expect');
    this.startStream(upgradeValue);
  }

  protected setStreamIdleTimeout(ms: number): void {
    this.#owner.setStreamIdleTimeout(ms);
  }

  // StreamCallbacks

  encodeHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    this.startResponse(status, headers, endStream);
    if (this.#owner.draining) this.closeAfter = true;
    let extra = '';
    const noBody = endStream || this.method === 'HEAD';
    if (!noBody && !headers.has('content-length')) {
      if (this.versionMinor === 1) {
        this.#chunkedResponse = true;
        extra = CHUNKED_LINE;
      } else {
        this.closeAfter = true; // close-delimited body for an HTTP/1.0 client
      }
    }
    this.#suppressBody = noBody;
    if (this.closeAfter) extra += CLOSE_LINE;
    else if (this.versionMinor === 0) extra += KEEP_ALIVE_LINE;
    const head = serializeResponseHead(status, headers, extra);
    const o = this.#owner;
    o.touch();
    o.write(head, !endStream);
    if (endStream) this.#responseDone();
  }

  encodeData(chunk: Buffer, endStream: boolean): boolean {
    let ok = true;
    if (!this.#suppressBody) {
      const n = chunk.length;
      this.bytesSent += n;
      const o = this.#owner;
      o.touch();
      if (this.#chunkedResponse) {
        if (n > 0) {
          if (n <= SMALL_CHUNK) ok = o.write(frameChunk(chunk), false);
          else {
            o.write(chunkHeader(n), true);
            o.write(chunk, true);
            ok = o.write(CRLF, true);
          }
        }
        if (endStream) ok = o.write(LAST_CHUNK, false);
      } else if (n > 0) {
        ok = o.write(chunk, false);
      }
    }
    if (endStream) this.#responseDone();
    return ok;
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (this.#chunkedResponse && !this.#suppressBody) this.#owner.write(lastChunkWithTrailers(trailers), false);
    this.#responseDone();
  }

  protected encodeLocalReply(reply: LocalReply, headers: HeaderMap | null): void {
    if (!this.requestComplete) this.closeAfter = true; // the rest of the request body will not be read
    const head = this.method === 'HEAD';
    if (this.#owner.draining) this.closeAfter = true;
    this.responseStarted = true;
    this.status = reply.status;
    this.bytesSent += head ? 0 : reply.body.length;
    const extra = this.closeAfter ? CLOSE_LINE : this.versionMinor === 0 ? KEEP_ALIVE_LINE : '';
    this.#owner.write(serializeLocalReply(reply, this.shared.config.serverName, headers, extra, head), false);
    this.#responseDone();
  }

  continueRequest(): void {
    if (!this.expectContinue || this.#sent100 || this.requestComplete || this.responseStarted) return;
    this.#sent100 = true;
    this.#owner.write(CONTINUE_100, false);
  }

  readDisable(disable: boolean): void {
    this.#owner.readDisable(disable);
  }

  upgradeTo(status: number, headers: HeaderMap, upstream: Socket, upstreamPending: Buffer | null): void {
    this.responseStarted = true;
    this.responseComplete = true;
    this.status = status;
    const upgrade = headers.get('upgrade') ?? this.upgradeType;
    stripResponseHopByHop(headers);
    const cfg = this.shared.config;
    if (cfg.via !== '') appendList(headers, 'via', cfg.via);
    headers.add('upgrade', upgrade);
    headers.add('connection', 'upgrade');
    this.tunnel = true;
    this.#owner.write(serializeResponseHead(status, headers, ''), false);
    this.#owner.enterTunnel(this, upstream, upstreamPending);
  }

  resetStream(flag: string): void {
    this.addResponseFlag(flag);
    this.responseComplete = true;
    this.#owner.abort();
  }

  #responseDone(): void {
    if (this.responseComplete) return;
    this.responseComplete = true;
    // Response before the request was fully read: the connection cannot carry another request.
    if (!this.requestComplete) this.closeAfter = true;
    this.#owner.onStreamDone(this);
  }
}
