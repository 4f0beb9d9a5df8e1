// Helpers of the CA tests: temp directories removed after the file's tests, and a mutual TLS handshake on loopback
// between two SVID holders.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tls from 'node:tls';
import { after } from 'node:test';

/** A fresh directory under the system temp dir; all of them are removed after the calling file's tests. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) execFileSync('rm', ['-rf', d]);
  });
  return () => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

export interface TlsPeer {
  readonly key: string;
  readonly chain: readonly string[];
  /** The roots this peer trusts. */
  readonly ca: readonly string[];
}

/** One mutual TLS handshake on loopback; resolves with the URI SAN each side saw of the other. */
export function handshake(server: TlsPeer, client: TlsPeer): Promise<{ serverSaw: string; clientSaw: string }> {
  return new Promise((resolve, reject) => {
    let serverSaw = '';
    const srv = tls.createServer(
      { key: server.key, cert: server.chain.join(''), ca: [...server.ca], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
      (s) => {
        serverSaw = s.getPeerCertificate().subjectaltname ?? '';
        s.end('ok');
      },
    );
    srv.on('tlsClientError', (e) => {
      srv.close();
      reject(e);
    });
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      const c = tls.connect({
        host: '127.0.0.1', port, key: client.key, cert: client.chain.join(''), ca: [...client.ca],
        // SPIFFE identities are checked on the URI SAN, not a host name.
        checkServerIdentity: () => undefined,
      });
      c.on('secureConnect', () => {
        const clientSaw = c.getPeerCertificate().subjectaltname ?? '';
        c.on('data', () => {});
        c.on('end', () => {
          srv.close();
          resolve({ serverSaw, clientSaw });
        });
      });
      c.on('error', (e) => {
        srv.close();
        reject(e);
      });
    });
  });
}

