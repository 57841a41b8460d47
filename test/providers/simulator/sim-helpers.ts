// Shared helpers for the simulator tests: a deployment, a transport call, and a fetch that
// lets the official OpenAI SDK talk to the simulator in-process.

import { Readable } from 'node:stream';
import { createSimulatorTransport, DEFAULT_SIMULATOR } from '../../../src/providers/simulator/simulator-transport.ts';
import type { Deployment, SimulatorSettings, UpstreamResponse } from '../../../src/providers/types.ts';

export function dep(settings: Partial<SimulatorSettings> = {}): Deployment {
  return { id: 'sim', alias: 'sim', provider: 'simulator', model: 'sim-1', headers: {}, weight: 1, timeoutMs: 1000, streamTimeoutMs: 1000, connectTimeoutMs: 10_000, order: 1, healthCheck: true, dropParams: false, modelInfo: {}, simulator: { ...DEFAULT_SIMULATOR, ...settings, failures: { ...DEFAULT_SIMULATOR.failures, ...settings.failures } } };
}

export async function text(res: UpstreamResponse): Promise<string> {
  let out = '';
  for await (const chunk of res.body) out += Buffer.from(chunk).toString('utf8');
  return out;
}

export function send(path: string, body: unknown, d: Deployment = dep()): Promise<UpstreamResponse> {
  const transport = createSimulatorTransport(() => 0.99);
  return transport.send(
    { origin: 'http://simulator.invalid', path, method: 'POST', headers: {}, body: JSON.stringify(body) },
    { signal: new AbortController().signal, deployment: d, headersTimeoutMs: 1000, bodyTimeoutMs: 1000 },
  );
}

export async function sendJSON(path: string, body: unknown, d: Deployment = dep()): Promise<{ status: number; body: any }> {
  const res = await send(path, body, d);
  return { status: res.status, body: JSON.parse(await text(res)) };
}

/** A `fetch` for `new OpenAI({ fetch })`: requests are answered by the simulator transport. */
export function simulatorFetch(d: Deployment = dep()): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const res = await send(url.pathname, JSON.parse(String(init?.body ?? '{}')), d);
    return new Response(Readable.toWeb(res.body) as ReadableStream, { status: res.status, headers: res.headers as Record<string, string> });
  }) as typeof fetch;
}
