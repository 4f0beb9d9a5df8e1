// The demo's sample service: a tiny HTTP app that answers with who it is, and calls its dependencies
// through its sidecar's outbound listeners on /chain. Configured by environment variables.
import http from 'node:http';

const service = process.env.SERVICE_NAME ?? 'app';
const instance = process.env.INSTANCE_ID ?? service;
const version = process.env.SERVICE_VERSION ?? 'v1';
const port = Number(process.env.PORT ?? '0');
/** JSON object: dependency service name → base URL of the sidecar's outbound listener. */
const deps: Record<string, string> = JSON.parse(process.env.DEPENDENCIES ?? '{}') as Record<string, string>;

function fetchJson(url: string, headers: Record<string, string>): Promise<unknown> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, timeout: 3000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode, body: JSON.parse(text) as unknown });
        } catch {
          resolve({ status: res.statusCode, body: text });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.message }));
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://app');
  const reply = (status: number, body: unknown) => {
    const text = `${JSON.stringify(body, null, 2)}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const seen = {
    service,
    instance,
    version,
    method: req.method,
    path: req.url,
    request_id: req.headers['x-request-id'] ?? null,
    forwarded_for: req.headers['x-forwarded-for'] ?? null,
  };
  if (url.pathname === '/chain' || url.pathname.startsWith('/chain/')) {
    const names = Object.keys(deps);
    const fwd: Record<string, string> = {};
    for (const h of ['x-request-id', 'x-canary', 'x-chaos']) {
      const v = req.headers[h];
      if (typeof v === 'string') fwd[h] = v;
    }
    void Promise.all(names.map((n) => fetchJson(`${deps[n]}/items`, fwd))).then((answers) => {
      // A failed dependency call fails the chain (502), so injected faults show at the edge.
      const failed = answers.some((a) => (a as { status?: number }).status !== 200);
      reply(failed ? 502 : 200, { ...seen, calls: Object.fromEntries(names.map((n, i) => [n, answers[i]])) });
    });
    return;
  }
  if (url.pathname === '/items') {
    reply(200, { ...seen, items: version === 'v2' ? ['tile', 'grout', 'trowel (new!)'] : ['tile', 'grout'] });
    return;
  }
  reply(200, seen);
});

server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ event: 'ready', role: 'app', service, instance, port: typeof addr === 'object' && addr ? addr.port : port })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
