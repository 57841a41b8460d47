// Cooldowns shared across gateway replicas through Redis (see cooldown-sync.ts for the contract).
//
//   ${prefix}routing:cooldowns          hash: deployment id -> {"until":<epoch ms>,"reason":...},
//                                       the cooldowns in force, read by replicas that start or reconnect
//   ${prefix}routing:cooldown           pub/sub channel: {origin, deployment, state, until?, reason?}
//   ${prefix}routing:probe:<deployment> the half-open probe claim: SET NX PX <lease>, value = origin
//
// An `open` event is HSET, a `closed` one HDEL'd; either deletes the probe claim (the probe is
// over) and is published (one MULTI each). A probe that ends without a verdict (its client left)
// deletes its claim. A field whose `until` has passed is ignored when read; the next
// trip overwrites it or the next close removes it, so the hash holds at most one field per
// deployment. Each instance has a random origin id and ignores its own messages.
//
// Redis only speeds agreement up; it is never in the way. The clients connect in the background
// and commands are not queued while it is down (disableOfflineQueue): publish drops the event,
// claimProbe answers true (this replica decides locally), current() answers []. Every breaker
// still works on its own local failures. After each (re)connect the cooldowns in force are read
// again and handed to onEvent, to catch up on events missed meanwhile.

import { randomBytes } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import { openPubSubPair } from '../redis/pubsub-pair.ts';
import type { CooldownEvent, CooldownSync } from './cooldown-sync.ts';

export interface RedisCooldownSyncOptions {
  url: string;
  keyPrefix: string;
  logger: Logger;
  /** A cooldown another replica started or ended (or one in force after a (re)connect). */
  onEvent(event: CooldownEvent): void;
}

/** How long claimProbe and current() wait for an answer before deciding locally. */
const COMMAND_TIMEOUT_MS = 250;
/** How long current() waits for a client that is still connecting (gateway start). */
const CONNECT_WAIT_MS = 1_000;

/** `command`, or a rejection once `ms` passed without an answer. */
function within<T>(command: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([command, timeout]).finally(() => clearTimeout(timer));
}

/** A well-formed event from a message or hash field, or undefined. */
function toEvent(deployment: unknown, state: unknown, until: unknown, reason: unknown): CooldownEvent | undefined {
  if (typeof deployment !== 'string' || deployment === '') return undefined;
  if (state === 'closed') return { deployment, state };
  if (state !== 'open' || typeof until !== 'number' || !Number.isFinite(until)) return undefined;
  return { deployment, state, until, ...(typeof reason === 'string' ? { reason } : {}) };
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Connects in the background: the gateway starts and serves whether or not Redis is up. */
export function openRedisCooldownSync(options: RedisCooldownSyncOptions): CooldownSync {
  const { logger } = options;
  const base = `${options.keyPrefix}routing:`;
  const hash = `${base}cooldowns`;
  const channel = `${base}cooldown`;
  const probeKey = (deployment: string) => `${base}probe:${deployment}`;
  const origin = randomBytes(8).toString('hex');
  let reported = false;
  // One warning per outage, never the URL (it may hold a password).
  const unavailable = (err: Error) => {
    if (!reported && !redis.closing) logger.warn('redis unavailable for cooldown sync; each replica keeps its own cooldowns meanwhile', { error: err.message });
    reported = true;
  };
  const redis = openPubSubPair(options.url, unavailable);
  const { pub, sub } = redis;

  const deliver = (event: CooldownEvent) => {
    try {
      options.onEvent(event);
    } catch (err) {
      logger.error('applying a cooldown event failed', { deployment: event.deployment, error: (err as Error).message });
    }
  };

  const listener = (message: string) => {
    const m = parse(message);
    if (!m || typeof m.origin !== 'string' || m.origin === origin) return;
    const event = toEvent(m.deployment, m.state, m.until, m.reason);
    if (event) deliver(event);
  };

  /** Resolves whether `pub` is ready, waiting at most `ms` (or until a connect attempt fails). */
  const whenReady = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (pub.isReady || redis.closing) return resolve(pub.isReady && !redis.closing);
      const done = (ready: boolean) => {
        clearTimeout(timer);
        pub.off('ready', onReady);
        pub.off('error', onError);
        resolve(ready);
      };
      const onReady = () => done(true);
      const onError = () => done(false);
      const timer = setTimeout(onError, ms);
      pub.on('ready', onReady);
      pub.on('error', onError);
    });

  async function current(): Promise<CooldownEvent[]> {
    if (!(await whenReady(CONNECT_WAIT_MS))) return [];
    try {
      const fields = await within(pub.hGetAll(hash), COMMAND_TIMEOUT_MS);
      const now = Date.now();
      const events: CooldownEvent[] = [];
      for (const [deployment, value] of Object.entries(fields)) {
        const v = parse(value);
        const event = v && toEvent(deployment, 'open', v.until, v.reason);
        if (event && event.until! > now) events.push(event);
      }
      return events;
    } catch (err) {
      unavailable(err as Error);
      return [];
    }
  }

  // After each (re)connect, once both clients are up (and, at start, once subscribed, so no event
  // falls between the read and the subscription), catch up on the cooldowns in force. Applying
  // one twice is harmless.
  const resync = () => {
    if (redis.closing || !pub.isReady || !sub.isReady) return;
    void current().then((events) => events.forEach(deliver));
  };
  pub.on('ready', () => {
    if (reported && !redis.closing) logger.info('redis available again for cooldown sync');
    reported = false;
    resync();
  });
  sub.on('ready', resync); // on reconnects the client subscribes again by itself

  redis.connect((client) => client.subscribe(channel, listener).then(resync));

  return {
    publish(event) {
      if (redis.closing) return;
      if (!pub.isReady) return unavailable(new Error('not connected; cooldown event dropped'));
      const message = JSON.stringify({ origin, deployment: event.deployment, state: event.state, until: event.until, reason: event.reason });
      const tx = pub.multi();
      // Either way the probe (if any) is over: its claim goes, so the next half-open can be claimed.
      if (event.state === 'open') tx.hSet(hash, event.deployment, JSON.stringify({ until: event.until, reason: event.reason })).del(probeKey(event.deployment));
      else tx.hDel(hash, event.deployment).del(probeKey(event.deployment));
      tx.publish(channel, message).exec().catch(unavailable);
    },

    async claimProbe(deployment, ttlMs) {
      if (redis.closing || !pub.isReady) return true;
      try {
        const set = pub.set(probeKey(deployment), origin, { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } });
        return (await within(set, COMMAND_TIMEOUT_MS)) === 'OK';
      } catch (err) {
        unavailable(err as Error);
        return true;
      }
    },

    releaseProbe(deployment) {
      if (redis.closing || !pub.isReady) return;
      pub.del(probeKey(deployment)).catch(unavailable);
    },

    current,

    async close() {
      redis.close();
    },
  };
}
