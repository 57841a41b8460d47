// Redis pub/sub for identity changes: the replica that commits a change publishes it, and every
// replica drops its cached copy within milliseconds. Messages are hints; the database change
// feed (change-feed.ts) still guarantees delivery if Redis is down or a message is lost.

import { randomBytes } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import { openPubSubPair } from '../redis/pubsub-pair.ts';
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

/** Connects in the background: the gateway starts and serves whether or not Redis is up. */
export function openRedisChangeBus(options: RedisChangeBusOptions): ChangeBus {
  const { logger } = options;
  const channel = `${options.keyPrefix}identity-changes`;
  const origin = randomBytes(8).toString('hex');
  let reported = false;
  const onError = (err: Error) => {
    if (!reported && !redis.closing) logger.warn('redis unavailable for identity change events; relying on the database change feed', { error: err.message });
    reported = true;
  };
  const redis = openPubSubPair(options.url, onError);
  const { pub } = redis;
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
  redis.connect((sub) => sub.subscribe(channel, listener));

  return {
    publish(kind, id) {
      if (!pub.isReady) return;
      pub.publish(channel, JSON.stringify({ origin, kind, id })).catch(onError);
    },
    async close() {
      redis.close();
    },
  };
}
