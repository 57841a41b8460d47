import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';
import { ClientGone } from '../pipeline/dispatch.ts';

function tooLarge(limit: number): GatewayError {
  return new GatewayError('body_too_large', `The request body is larger than the ${limit}-byte limit (server.max_body_size). Send a smaller body.`);
}

/** Gathers the body with plain events (cheaper than an async iterator per request). */
function collect(req: IncomingMessage, limit: number): Promise<{ chunks: Buffer[]; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve({ chunks, size });
    };
    const onError = () => {
      cleanup();
      reject(new ClientGone());
    };
    const onClose = () => {
      if (!req.complete) onError();
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export interface JsonBody {
  /** The body as the client sent it. */
  text: string;
  value: unknown;
}

/** Ingress: reads the body up to `limit` bytes and parses it as JSON, once. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<JsonBody> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const { chunks, size } = await collect(req, limit);
  if (size === 0) throw new GatewayError('invalid_json', 'The request body is empty. Send a JSON object.');
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
  try {
    return { text, value: JSON.parse(text) };
  } catch (err) {
    throw new GatewayError('invalid_json', `The request body is not valid JSON: ${(err as Error).message}.`);
  }
}
