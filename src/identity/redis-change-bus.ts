// Redis pub/sub for identity changes: the replica that commits a change publishes it, and every
// replica drops its cached copy within milliseconds. Messages are hints; the database change
// feed (change-feed.ts) still guarantees delivery if Redis is down or a message is lost.

import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Logger } from '../logging/logger.ts';
import { OBJECT_KINDS, type ObjectKind } from './records.ts';

export interface ChangeBus {
  publish(kind: ObjectKind, id: string): void;
  close(): Promise<void>;
}

export interface RedisChangeBusOptions {
  url: string;
  keyPrefix: string;
  logger: Logger;
  onChange(kind: ObjectKind, id: string): void;
}

const KINDS = new Set<ObjectKind>(OBJECT_KINDS);

/** Closes a client at once, whatever state it is in (destroying twice is harmless). */
function destroy(client: { destroy(): void }): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
}

/** Connects in the background: the gateway starts and serves whether or not Redis is up. */
export function openRedisChangeBus(options: RedisChangeBusOptions): ChangeBus {
  const { logger } = options;
  const channel = `${options.keyPrefix}identity-changes`;
  const origin = randomBytes(8).toString('hex');
  const settings = { url: options.url, disableOfflineQueue: true, socket: { connectTimeout: 2_000, reconnectStrategy: (retries: number) => Math.min(200 * 2 ** retries, 5_000) } };
  const pub = createClient(settings);
  const sub = pub.duplicate();
  let reported = false;
  let closing = false;
  const onError = (err: Error) => {
    if (!reported && !closing) logger.warn('redis unavailable for identity change events; relying on the database change feed', { error: err.message });
    reported = true;
  };
  pub.on('error', onError);
  sub.on('error', onError);
  pub.on('ready', () => { reported = false; });

  const listener = (message: string) => {
    let event: { origin?: unknown; kind?: unknown; id?: unknown };
    try {
      event = JSON.parse(message) as typeof event;
    } catch {
      return;
    }
    if (event.origin === origin || typeof event.id !== 'string' || !KINDS.has(event.kind as ObjectKind)) return;
    options.onChange(event.kind as ObjectKind, event.id);
  };
  // connect() does not settle while Redis is down (the client keeps retrying), so nothing awaits
  // it. A close() that came first destroys each client as soon as its connect settles, because
  // destroy() during the connect leaves the new socket open.
  const settle = (client: typeof pub) => () => {
    if (closing) destroy(client);
  };
  pub.connect().catch(onError).finally(settle(pub));
  sub.connect().then(() => (closing ? undefined : sub.subscribe(channel, listener))).catch(onError).finally(settle(sub));

  return {
    publish(kind, id) {
      if (!pub.isReady) return;
      pub.publish(channel, JSON.stringify({ origin, kind, id })).catch(onError);
    },
    async close() {
      closing = true;
      // Pub/sub holds nothing worth a graceful QUIT, and a client still retrying would never finish one.
      destroy(pub);
      destroy(sub);
    },
  };
}
