// One recorded event on its way to the sinks, shared by the write-ahead log and every sink's
// lane. Its JSON text is made once, by whichever needs it first (the write-ahead log, normally),
// and reused by the others: the write-ahead log, the spool, the JSONL file and every SQL sink's
// event_json column all hold JSON.stringify(event), and the SQLite sink's worker thread receives
// the text instead of a structured clone of the object.

import { eventText } from './event-text.ts';
import type { LedgerEvent } from './ledger-event.ts';
import type { WalSegment } from './ledger-wal.ts';

export interface LedgerEntry {
  readonly event: LedgerEvent;
  /** Sinks that have neither stored nor spooled it yet. */
  unsettled: number;
  /** The write-ahead segment holding it; cleared once it is settled everywhere. */
  seg: WalSegment | undefined;
  /** JSON.stringify(event) once made; null when the event cannot be serialized. */
  line: string | null | undefined;
}

export function ledgerEntry(event: LedgerEvent, sinks: number): LedgerEntry {
  return { event, unsettled: sinks, seg: undefined, line: undefined };
}

/** The event's JSON text (one line: JSON.stringify never writes a raw newline), or null when it cannot be serialized. */
export function lineOf(entry: LedgerEntry): string | null {
  if (entry.line === undefined) entry.line = eventText(entry.event);
  return entry.line;
}

/**
 * The entries' JSON texts, or undefined when one cannot be serialized: the sink then serializes
 * the events itself and reports the one at fault as it always does.
 */
export function linesOf(entries: readonly LedgerEntry[]): string[] | undefined {
  const lines = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const line = lineOf(entries[i]);
    if (line === null) return undefined;
    lines[i] = line;
  }
  return lines;
}
