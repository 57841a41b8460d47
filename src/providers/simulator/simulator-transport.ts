import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatRequest, EmbeddingsRequest, SendOptions, SimulatorSettings, Transport, UpstreamRequest, UpstreamResponse } from '../types.ts';
import { simulateChat, toChunks, toCompletion } from './simulator-chat.ts';
import { countTokens, lexicalEmbedding } from './simulator-text.ts';

export const DEFAULT_SIMULATOR: SimulatorSettings = Object.freeze({
  latency_ms: 0,
  ttft_ms: 0,
  tokens_per_second: 0,
  output_tokens: 32,
  failures: Object.freeze({ rate_429: 0, rate_500: 0, rate_503: 0, rate_timeout: 0, rate_broken_stream: 0 }),
});

type Outcome = 'ok' | '429' | '500' | '503' | 'timeout' | 'broken_stream';

const encoder = new TextEncoder();
const JSON_HEADERS = { 'content-type': 'application/json' };

function drawOutcome(settings: SimulatorSettings, random: () => number): Outcome {
  const f = settings.failures;
  let r = random();
  for (const [outcome, rate] of [['429', f.rate_429], ['500', f.rate_500], ['503', f.rate_503], ['timeout', f.rate_timeout], ['broken_stream', f.rate_broken_stream]] as const) {
    if (r < rate) return outcome;
    r -= rate;
  }
  return 'ok';
}

function errorResponse(status: number, message: string, type: string, code: string | null, headers: Record<string, string> = {}): UpstreamResponse {
  const body = JSON.stringify({ error: { message, type, param: null, code } });
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: bytes(once(body)) };
}

/** A byte stream, as an HTTP body would be. */
function bytes(source: AsyncGenerator<Uint8Array>): Readable {
  return Readable.from(source, { objectMode: false });
}

async function* once(text: string): AsyncGenerator<Uint8Array> {
  yield encoder.encode(text);
}

function brokenConnection(): Error {
  return Object.assign(new Error('simulated connection reset mid-body'), { code: 'ECONNRESET' });
}

/** Milliseconds until token `i` is due, at the configured pace. */
function dueAt(settings: SimulatorSettings, i: number): number {
  return settings.tokens_per_second > 0 ? (i * 1000) / settings.tokens_per_second : 0;
}

async function* streamBody(chunks: string[], settings: SimulatorSettings, broken: boolean, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const started = performance.now();
  if (settings.ttft_ms > 0) await sleep(settings.ttft_ms, undefined, { signal });
  const cutAt = broken ? Math.max(1, Math.floor(chunks.length / 2)) : Infinity;
  for (let i = 0; i < chunks.length; i++) {
    if (i === cutAt) throw brokenConnection();
    const wait = settings.ttft_ms + dueAt(settings, i) - (performance.now() - started);
    if (wait >= 1) await sleep(wait, undefined, { signal });
    yield encoder.encode(chunks[i]!);
  }
}

async function* brokenBody(text: string): AsyncGenerator<Uint8Array> {
  yield encoder.encode(text.slice(0, Math.floor(text.length / 2)));
  throw brokenConnection();
}

function chat(req: ChatRequest, settings: SimulatorSettings, outcome: Outcome, signal: AbortSignal): Promise<UpstreamResponse> | UpstreamResponse {
  const sim = simulateChat(req, settings.output_tokens, Date.now());
  if (req.stream) {
    const includeUsage = req.stream_options?.include_usage === true;
    const frames = toChunks(sim, includeUsage).map((c) => `data: ${JSON.stringify(c)}\n\n`);
    frames.push('data: [DONE]\n\n');
    return { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' }, body: bytes(streamBody(frames, settings, outcome === 'broken_stream', signal)) };
  }
  const body = JSON.stringify(toCompletion(sim));
  const generation = dueAt(settings, sim.usage.completion_tokens);
  const respond = (): UpstreamResponse => ({ status: 200, headers: JSON_HEADERS, body: bytes(outcome === 'broken_stream' ? brokenBody(body) : once(body)) });
  const delay = settings.latency_ms + generation;
  return delay >= 1 ? sleep(delay, undefined, { signal }).then(respond) : respond();
}

/** Each input's text and size: a string, or a token array (one input, as many tokens as it has). */
function embeddingInputs(input: unknown): Array<{ text: string; tokens: number }> {
  const read = (item: unknown) => (typeof item === 'string' ? { text: item, tokens: countTokens(item) } : { text: JSON.stringify(item ?? ''), tokens: Array.isArray(item) ? item.length : 1 });
  if (!Array.isArray(input) || (input.length > 0 && input.every((item) => typeof item === 'number'))) return [read(input)];
  return input.map(read);
}

/** As OpenAI encodes it: the little-endian float32 bytes, in base64. */
function toBase64(vector: number[]): string {
  const buffer = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => buffer.writeFloatLE(v, i * 4));
  return buffer.toString('base64');
}

function embeddings(req: EmbeddingsRequest): UpstreamResponse {
  const inputs = embeddingInputs(req.input);
  const dimensions = req.dimensions ?? 64;
  const tokens = inputs.reduce((sum, input) => sum + input.tokens, 0);
  const encode = req.encoding_format === 'base64' ? toBase64 : (vector: number[]) => vector;
  const body = {
    object: 'list',
    data: inputs.map(({ text }, index) => ({ object: 'embedding', index, embedding: encode(lexicalEmbedding(text, dimensions)) })),
    model: req.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
  return { status: 200, headers: JSON_HEADERS, body: bytes(once(JSON.stringify(body))) };
}

/**
 * The simulator's transport: answers in-process in OpenAI's wire format, with the
 * deployment's latency, pace and failure rates, so the whole pipeline runs as it would
 * against a real provider.
 */
export function createSimulatorTransport(random: () => number = Math.random): Transport {
  return {
    async send(request: UpstreamRequest, options: SendOptions): Promise<UpstreamResponse> {
      const settings = options.deployment.simulator ?? DEFAULT_SIMULATOR;
      const signal = options.signal;
      signal.throwIfAborted();
      const body = JSON.parse(request.body ?? '{}');
      const outcome = drawOutcome(settings, random);
      if (outcome === '429') return errorResponse(429, `Rate limit reached for simulated deployment ${options.deployment.id}. Please try again in 1s.`, 'requests', 'rate_limit_exceeded', { 'retry-after': '1' });
      if (outcome === '500') return errorResponse(500, 'The server had an error while processing your request.', 'server_error', null);
      if (outcome === '503') return errorResponse(503, 'The engine is currently overloaded, please try again later.', 'server_error', null);
      if (outcome === 'timeout') {
        await sleep(2 ** 31 - 1, undefined, { signal });
      }
      if (request.path.endsWith('/embeddings')) return embeddings(body as EmbeddingsRequest);
      return chat(body as ChatRequest, settings, outcome, signal);
    },
    async close() {},
  };
}
