import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';

function tooLarge(limit: number): GatewayError {
  return new GatewayError('body_too_large', `The request body is larger than the ${limit}-byte limit (server.max_body_size). Send a smaller body.`);
}

/** Ingress: reads the body up to `limit` bytes and parses it as JSON, once. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) throw new GatewayError('invalid_json', 'The request body is empty. Send a JSON object.');
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new GatewayError('invalid_json', `The request body is not valid JSON: ${(err as Error).message}.`);
  }
}
