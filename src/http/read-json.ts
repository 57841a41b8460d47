import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors/gateway-error.ts';
import { ClientGone } from '../pipeline/dispatch.ts';
import { BodyTooLarge, readAll } from '../streams/read-all.ts';

function tooLarge(limit: number): GatewayError {
  return new GatewayError('body_too_large', `The request body is larger than the ${limit}-byte limit (server.max_body_size). Send a smaller body.`);
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
  let bytes: Buffer;
  try {
    bytes = await readAll(req, limit, () => new ClientGone());
  } catch (err) {
    throw err instanceof BodyTooLarge ? tooLarge(limit) : err;
  }
  if (bytes.length === 0) throw new GatewayError('invalid_json', 'The request body is empty. Send a JSON object.');
  const text = bytes.toString('utf8');
  try {
    return { text, value: JSON.parse(text) };
  } catch (err) {
    throw new GatewayError('invalid_json', `The request body is not valid JSON: ${(err as Error).message}.`);
  }
}
