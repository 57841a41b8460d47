// The HTTP POST behind webhooks: undici's Agent and request API with connect, header and body
// timeouts, loaded only once a webhook is sent. Userinfo in the URL (https://user:pass@host/…)
// becomes a Basic authorization header, as browsers and curl do.

import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { decodeUserinfo } from './webhook-target.ts';

/** Resolves when the receiver answered 2xx; rejects otherwise (WebhookStatusError for other statuses). */
export type PostFn = (url: string, body: string) => Promise<void>;

export interface WebhookPost {
  readonly post: PostFn;
  /** Closes the connection pool (idle keep-alive sockets). */
  close(): Promise<void>;
}

export class WebhookStatusError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`HTTP ${status}`);
    this.name = 'WebhookStatusError';
    this.status = status;
  }
}

// Only undici's Agent and its request API are loaded: undici's index pulls in much more (see
// providers/shared/http-transport.ts, which pins the same paths).
const require = createRequire(import.meta.url);
type UndiciRequest = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

export function createWebhookPost(timeoutMs: number): WebhookPost {
  let client: { agent: UndiciAgent; request: UndiciRequest } | undefined;
  let closed = false;
  return {
    async post(url, body) {
      if (closed) throw new Error('the webhook sender is closed');
      if (!client) {
        const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
        const request = require('undici/lib/api/api-request.js') as UndiciRequest;
        const agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 10_000 });
        client = { agent, request };
      }
      const target = new URL(url);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (target.username || target.password) {
        headers.authorization = `Basic ${Buffer.from(`${decodeUserinfo(target.username)}:${decodeUserinfo(target.password)}`).toString('base64')}`;
      }
      const res = await client.request.call(client.agent, {
        origin: target.origin,
        path: target.pathname + target.search,
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode >= 300) throw new WebhookStatusError(res.statusCode);
    },
    async close() {
      closed = true;
      const agent = client?.agent;
      client = undefined;
      // destroy, not close: a hanging receiver must not hold shutdown up.
      if (agent) await agent.destroy().catch(() => {});
    },
  };
}
