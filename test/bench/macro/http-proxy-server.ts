// The `http-proxy` peer of the macro benchmark: one Node process, http-proxy 1.18 with a
// keep-alive upstream agent. Usage: node http-proxy-server.js <target-url> <port>
import http from 'node:http';
import httpProxy from 'http-proxy';

const [target, portText] = process.argv.slice(2);
if (!target || !portText) {
  process.stderr.write('usage: http-proxy-server.js <target-url> <port>\n');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target, agent });
proxy.on('error', (err, _req, res) => {
  if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
  res.end(`proxy error: ${err.message}\n`);
});
http.createServer((req, res) => proxy.web(req, res)).listen(Number(portText), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
