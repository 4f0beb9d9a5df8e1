// Minimal typings for the http-proxy package (no @types here), only what the bench peer uses.
declare module 'http-proxy' {
  import type { Agent, IncomingMessage, ServerResponse } from 'node:http';
  interface ServerOptions {
    target?: string;
    agent?: Agent;
    xfwd?: boolean;
  }
  interface ProxyServer {
    web(req: IncomingMessage, res: ServerResponse, options?: ServerOptions): void;
    on(event: 'error', listener: (err: Error, req: IncomingMessage, res: ServerResponse) => void): this;
  }
  const httpProxy: { createProxyServer(options?: ServerOptions): ProxyServer };
  export default httpProxy;
}
