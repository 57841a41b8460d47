// The Redis Stream that keeps every replica's semantic index in step (redis-semantic-store.ts).
// Each store and invalidation appends an event, in the same Lua script as its write, so the
// stream's order is the order of the writes:
//   add:        t=a  n=<JSON [owner, alias, version]>  i=<entry id>  x=<expiresAt>  v=<vector, float32 little-endian>
//   invalidate: t=i  o=<owner>  [a=<alias>]
// The stream is capped (XADD MAXLEN ~): a replica reads it from the start when it starts (the
// recent entries), then tails it with a blocking XREAD on a connection of its own. The stream
// only feeds the local indexes: correctness never depends on it, since every hit is checked
// against the generations and the payload in Redis. A lost event costs a miss, never a stale hit.

import { RESP_TYPES } from '@redis/client';
import type { CacheNamespace } from './cache-store.ts';

export type StreamEvent =
  | { readonly type: 'add'; readonly ns: CacheNamespace; readonly id: string; readonly expiresAt: number; readonly vector: Float32Array }
  | { readonly type: 'invalidate'; readonly owner: string; readonly alias?: string };

/** The vector as float32 little-endian bytes (the same on every platform). */
export function encodeVector(vector: Float32Array): Buffer {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes;
}

export function decodeVector(bytes: Buffer): Float32Array | undefined {
  if (bytes.length === 0 || bytes.length % 4 !== 0) return undefined;
  const vector = new Float32Array(bytes.length / 4);
  for (let i = 0; i < vector.length; i++) vector[i] = bytes.readFloatLE(i * 4);
  return vector;
}

/** One stream entry's fields as an event; undefined for anything malformed (skipped). */
export function decodeEvent(fields: readonly Buffer[]): StreamEvent | undefined {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i].toString(), fields[i + 1]);
  const type = f.get('t')?.toString();
  if (type === 'i') {
    const owner = f.get('o')?.toString();
    const alias = f.get('a')?.toString();
    if (owner === undefined) return undefined;
    return alias === undefined ? { type: 'invalidate', owner } : { type: 'invalidate', owner, alias };
  }
  if (type !== 'a') return undefined;
  const id = f.get('i')?.toString();
  const expiresAt = Number(f.get('x')?.toString());
  const vector = f.get('v') && decodeVector(f.get('v')!);
  let ns: unknown;
  try {
    ns = JSON.parse(f.get('n')?.toString() ?? '');
  } catch {
    return undefined;
  }
  if (!id || !Number.isFinite(expiresAt) || !vector || !Array.isArray(ns) || ns.length !== 3 || !ns.every((s) => typeof s === 'string')) return undefined;
  return { type: 'add', ns: { owner: ns[0], alias: ns[1], version: ns[2] }, id, expiresAt, vector };
}

/** What a client the tailer reads with must do. */
export interface BlockingClient {
  sendCommand(args: string[], options: { typeMapping: Record<number, unknown> }): Promise<unknown>;
}

export interface StreamTailerOptions {
  readonly client: BlockingClient;
  readonly key: string;
  readonly apply: (event: StreamEvent) => void;
  /** A failed read (Redis down): called once per outage. */
  readonly onError: (error: unknown) => void;
  /** Default 5000 ms; a read returns at least this often. */
  readonly blockMs?: number;
  /** Entries a read returns at most (default 256): a replica loading a long stream yields between reads. */
  readonly batch?: number;
}

/** Reads the stream from the start, then follows it: from start() until stop(). */
export class StreamTailer {
  readonly #options: StreamTailerOptions;
  #last = '0-0';
  #stopped = false;
  #done: Promise<void> = Promise.resolve();
  /** Events applied (for tests and metrics). */
  applied = 0;

  constructor(options: StreamTailerOptions) {
    this.#options = options;
  }

  /** Starts reading (once the client is connected); nothing after stop(). */
  start(): void {
    if (!this.#stopped) this.#done = this.#run();
  }

  /** The id of the last entry read ('0-0' before the first). */
  get lastId(): string {
    return this.#last;
  }

  /** Stops after the read in flight: call it, then close the connection to end that read now, then await it. */
  stop(): Promise<void> {
    this.#stopped = true;
    return this.#done;
  }

  async #run(): Promise<void> {
    const { client, key, apply } = this.#options;
    const args = ['XREAD', 'COUNT', String(this.#options.batch ?? 256), 'BLOCK', String(this.#options.blockMs ?? 5000), 'STREAMS', key];
    let failures = 0;
    while (!this.#stopped) {
      try {
        const reply = await client.sendCommand([...args, this.#last], { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } });
        failures = 0;
        for (const [id, fields] of streamEntries(reply)) {
          this.#last = id.toString();
          const event = decodeEvent(fields);
          if (event) apply(event);
          this.applied++;
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
      } catch (error) {
        if (this.#stopped) return;
        if (failures++ === 0) this.#options.onError(error);
        await new Promise<void>((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 5000)).unref());
      }
    }
  }
}

/** XREAD's entries, for RESP2 (an array of [key, entries]) and RESP3 (a map by key). */
function streamEntries(reply: unknown): [Buffer, Buffer[]][] {
  if (reply === null || reply === undefined) return [];
  const streams = reply instanceof Map ? [...reply.values()] : Array.isArray(reply) ? reply.map((s: unknown[]) => s[1]) : Object.values(reply as object);
  return streams.flatMap((entries) => (Array.isArray(entries) ? (entries as [Buffer, Buffer[]][]) : []));
}
