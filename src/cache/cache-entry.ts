// What the response cache keeps per answer: the completion in OpenAI's chat.completion shape,
// who served it and its usage (so a hit's ledger row can say what the call would have cost).
// Serialised as one JSON text; a value that does not parse back is treated as a miss.

import type { ChatCompletion, Usage } from '../providers/types.ts';

export const ENTRY_VERSION = 1;

export interface CacheEntry {
  readonly v: typeof ENTRY_VERSION;
  /** Epoch ms when the answer was stored (for max-age). */
  readonly storedAt: number;
  readonly alias: string;
  /** The deployment that produced the answer (priced again for cost_usd.saved). */
  readonly deployment: string;
  readonly provider: string;
  readonly usage?: Usage;
  readonly completion: ChatCompletion;
}

export function encodeEntry(entry: CacheEntry): string {
  return JSON.stringify(entry);
}

/** The entry in `value`, or undefined when it is not one this version wrote. */
export function decodeEntry(value: string): CacheEntry | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  const entry = parsed as Partial<CacheEntry> | null;
  if (!entry || entry.v !== ENTRY_VERSION || typeof entry.storedAt !== 'number' || typeof entry.deployment !== 'string') return undefined;
  const completion = entry.completion as Partial<ChatCompletion> | undefined;
  if (!completion || completion.object !== 'chat.completion' || !Array.isArray(completion.choices)) return undefined;
  return entry as CacheEntry;
}
