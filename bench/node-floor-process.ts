/** Starts bench/node-floor.ts (the minimal Node proxy) as a child process. */
import path from 'node:path';
import { chatBody } from './chat-requests.ts';
import type { TargetSpec } from './load-protocol.ts';
import { freePort, startProcess, stopProcess, waitForHttp } from './processes.ts';
import type { GatewayHandle } from './tollgate.ts';

export async function startNodeFloor(repoRoot: string, upstreamPort: number, delayMs: number): Promise<GatewayHandle> {
  const port = await freePort();
  const child = startProcess('node floor', process.execPath, [path.join(repoRoot, 'bench/node-floor.ts'), JSON.stringify({ port, upstreamPort, delayMs })], { cwd: repoRoot });
  try {
    await waitForHttp(child, `http://127.0.0.1:${port}/health`, 10_000);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  const headers = { 'content-type': 'application/json' };
  const route = '/v1/chat/completions';
  const target: TargetSpec = {
    name: 'node floor',
    origin: `http://127.0.0.1:${port}`,
    plain: { path: route, headers, body: chatBody('floor', false) },
    delayed: { path: route, headers, body: chatBody('floor-delayed', false) },
    stream: { path: route, headers, body: chatBody('floor', true) },
  };
  return { process: child, target };
}
