// The control plane's admin HTTP API: readiness, connected proxies, NACKs, stats, and the CA's trust-bundle rotation
// (not on the data path).
import http from 'node:http';
import { isIP } from 'node:net';
import { listenHttp, type ListeningHttp } from '../../src/core/net-util.js';
import type { StatsStore } from '../../src/observability/stats.js';
import { CaRotationError, ROTATION_STEPS, type RotationStatus, type RotationStep } from '../ca/ca.js';
import type { XdsServer } from '../server/xds-server.js';

export type AdminHandle = ListeningHttp;

/** The CA as the admin API sees it (zero-trust mode only). */
export interface CaAdmin {
  status(): RotationStatus;
  rotate(step: RotationStep, force: boolean): Promise<RotationStatus>;
}

export interface ControlPlaneAdminOptions {
  readonly host: string;
  readonly port: number;
  readonly server: XdsServer;
  readonly stats: StatsStore;
  readonly info: () => Record<string, unknown>;
  /** Absent: the control plane runs without a CA (/ca answers 404). */
  readonly ca?: CaAdmin | undefined;
}

const ENDPOINTS = ['/ready', '/status', '/nacks', '/config', '/stats', '/ca', ...ROTATION_STEPS.map((s) => `POST /ca/rotate/${s}`)];
/** A rotation request body is `{}` or `{"force": true}`. */
const MAX_BODY_BYTES = 1024;

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

/** The Host header names this machine by a loopback name or address (a DNS-rebinding page cannot). */
function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return name === 'localhost' || isLoopback(name);
}

/**
 * Checks a state-changing request: loopback peer, loopback Host, JSON body (a cross-site form cannot send one
 * without a preflight this server never grants). Returns the refusal, or null when allowed.
 */
function refuseUnsafe(req: http.IncomingMessage): { status: number; error: string } | null {
  if (!isLoopback(req.socket.remoteAddress)) return { status: 403, error: 'CA rotation is only accepted from a loopback address' };
  if (!loopbackHost(req.headers.host)) return { status: 403, error: 'the Host header must be a loopback address or localhost' };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return { status: 415, error: 'send content-type: application/json (body {} or {"force": true})' };
  return null;
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}

/** POST /ca/rotate/<step>: one rotation step; 409 when the phase does not allow it (or finish would be unsafe). */
async function rotate(ca: CaAdmin, step: RotationStep, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readBody(req);
  let force = false;
  if (body === null) return json(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
  if (body.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return json(res, 400, { error: 'body must be JSON: {} or {"force": true}' });
    }
    const keys = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? Object.keys(parsed) : null;
    const f = (parsed as { force?: unknown } | null)?.force;
    if (keys === null || keys.some((k) => k !== 'force') || (f !== undefined && typeof f !== 'boolean')) {
      return json(res, 400, { error: 'body must be {} or {"force": true}' });
    }
    force = f === true;
  }
  try {
    json(res, 200, { step, ...(await ca.rotate(step, force)) });
  } catch (e) {
    if (e instanceof CaRotationError) json(res, 409, { error: e.message, ...ca.status() });
    else json(res, 500, { error: (e as Error).message });
  }
}

export async function startControlPlaneAdmin(opts: ControlPlaneAdminOptions): Promise<AdminHandle> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const rotation = /^\/ca\/rotate\/([a-z]+)$/.exec(url.pathname);
    if (rotation !== null) {
      const step = rotation[1] as RotationStep;
      if (!ROTATION_STEPS.includes(step)) return json(res, 404, { error: `no rotation step '${step}' (${ROTATION_STEPS.join(', ')})` });
      if (req.method !== 'POST') return json(res, 405, { error: 'use POST' }, { allow: 'POST' });
      const refused = refuseUnsafe(req);
      if (refused !== null) return json(res, refused.status, { error: refused.error });
      if (opts.ca === undefined) return json(res, 404, { error: 'no CA: the control plane runs without a trust domain' });
      void rotate(opts.ca, step, req, res);
      return;
    }
    switch (url.pathname) {
      case '/ready':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('LIVE\n');
        return;
      case '/status':
        json(res, 200, { proxies: opts.server.status() });
        return;
      case '/nacks':
        json(res, 200, { nacks: opts.server.nacks() });
        return;
      case '/config':
        json(res, 200, opts.info());
        return;
      case '/ca':
        if (opts.ca === undefined) json(res, 404, { error: 'no CA: the control plane runs without a trust domain' });
        else json(res, 200, opts.ca.status());
        return;
      case '/stats':
        if (url.searchParams.get('format') === 'json') {
          json(res, 200, opts.stats.snapshot());
        } else {
          const lines = Object.entries(opts.stats.snapshot()).map(([k, v]) => `${k}: ${v}`);
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(`${lines.join('\n')}\n`);
        }
        return;
      default:
        json(res, 404, { error: `no admin endpoint ${url.pathname}`, endpoints: ENDPOINTS });
    }
  });
  return listenHttp(server, opts.host, opts.port);
}
