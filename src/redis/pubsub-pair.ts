// A publishing and a subscribing Redis client for change events between replicas (identity
// changes, cooldowns). They connect in the background, so the gateway starts and serves
// whether or not Redis is up; commands are not queued while it is down; and close() never
// waits on a Redis that is gone.

import { createClient } from '@redis/client';

function client(url: string) {
  return createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: 2_000, reconnectStrategy: (retries: number) => Math.min(200 * 2 ** retries, 5_000) } });
}

export type RedisClient = ReturnType<typeof client>;

export interface PubSubPair {
  readonly pub: RedisClient;
  readonly sub: RedisClient;
  /** True once close() was called. */
  readonly closing: boolean;
  /** Connects both; `subscribe` runs once the subscriber is connected (unless closing). */
  connect(subscribe: (sub: RedisClient) => Promise<unknown>): void;
  close(): void;
}

/** Closes a client at once, whatever state it is in (destroying twice is harmless). */
function destroy(client: { destroy(): void }): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
}

/** `onError` hears every connection error of either client (report it once per outage). */
export function openPubSubPair(url: string, onError: (err: Error) => void): PubSubPair {
  const pub = client(url);
  const sub = pub.duplicate();
  pub.on('error', onError);
  sub.on('error', onError);
  let closing = false;
  // connect() does not settle while Redis is down (the client keeps retrying), so nothing awaits
  // it. A close() that came first destroys each client as soon as its connect settles, because
  // destroy() during the connect leaves the new socket open.
  const settle = (client: RedisClient) => () => {
    if (closing) destroy(client);
  };
  return {
    pub,
    sub,
    get closing() {
      return closing;
    },
    connect(subscribe) {
      pub.connect().catch(onError).finally(settle(pub));
      sub.connect().then(() => (closing ? undefined : subscribe(sub))).catch(onError).finally(settle(sub));
    },
    close() {
      closing = true;
      // Pub/sub holds nothing worth a graceful QUIT, and a client still retrying would never finish one.
      destroy(pub);
      destroy(sub);
    },
  };
}
