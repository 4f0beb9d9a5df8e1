// Small socket helpers shared by both binaries and the CLI: bind an admin HTTP server, find a free port.
import type http from 'node:http';
import net from 'node:net';

export interface ListeningHttp {
  readonly port: number;
  close(): Promise<void>;
}

/** Binds `server` on host:port (0 = any free port); `close()` ends open connections and the server. */
export async function listenHttp(server: http.Server, host: string, port: number): Promise<ListeningHttp> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port free on 127.0.0.1 right now (bound and released; another process may still take it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
