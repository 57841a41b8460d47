import type { ServerResponse } from 'node:http';
import type { GatewayError } from '../errors/gateway-error.ts';
import { errorHeaders, toAnthropicErrorBody, toOpenAIErrorBody } from '../errors/to-response.ts';
import type { Deployment } from '../providers/types.ts';
import type { RequestContext } from '../pipeline/request-context.ts';

export type ErrorFormat = 'openai' | 'anthropic';
export type Headers = Record<string, string>;

export function sendJson(res: ServerResponse, status: number, body: string | Buffer, headers: Headers): void {
  headers['content-type'] = 'application/json';
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}

export function baseHeaders(ctx: RequestContext): Headers {
  return { 'x-request-id': ctx.requestId };
}

/** Respond stage headers: which deployment served, and where the time went. */
export function servedHeaders(ctx: RequestContext, dep: Deployment, upstreamMs: number): Headers {
  const total = performance.now() - ctx.receivedAt;
  return {
    'x-request-id': ctx.requestId,
    'x-gateway-model-resolved': dep.model,
    'x-gateway-provider': dep.provider,
    'x-gateway-deployment': dep.id,
    'x-gateway-upstream-ms': upstreamMs.toFixed(3),
    'x-gateway-overhead-ms': Math.max(0, total - upstreamMs).toFixed(3),
  };
}

export function sendError(res: ServerResponse, ctx: RequestContext, err: GatewayError, format: ErrorFormat): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(format === 'anthropic' ? toAnthropicErrorBody(err) : toOpenAIErrorBody(err));
  sendJson(res, err.status, body, { ...baseHeaders(ctx), ...errorHeaders(err) });
}
