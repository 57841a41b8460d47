/**
 * The floor to approach (BENCHMARK.md): a minimal Node proxy, node:http in front of an undici
 * Pool, that parses the body, pins the model, forwards, and pipes the answer back. No auth,
 * routing, validation, headers or error mapping. Measured beside Tollgate so its added latency
 * can be read against what any Node proxy costs on the same machine in the same run.
 *
 * Usage: node bench/node-floor.ts '{"port":P,"upstreamPort":U,"delayMs":20}'
 */
import http from 'node:http';
import { Pool } from 'undici';

const { port, upstreamPort, delayMs } = JSON.parse(process.argv[2] ?? '{}') as { port: number; upstreamPort: number; delayMs: number };
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 256, pipelining: 1 });

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string };
    const path = body.model === 'floor-delayed' ? `/delay-${delayMs}/v1/chat/completions` : '/v1/chat/completions';
    body.model = 'gpt-4o-mini';
    pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-upstream-fake' }, body: JSON.stringify(body) }).then(
      (upstream) => {
        res.writeHead(upstream.statusCode, { 'content-type': String(upstream.headers['content-type'] ?? 'application/json') });
        upstream.body.pipe(res);
      },
      () => res.writeHead(502).end(),
    );
  });
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
