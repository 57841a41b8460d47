// An event's JSON text, made at most once per event object and shared by whoever needs it: the
// ledger's write-ahead log, spool and sinks, and the trace exporter's worker thread (which gets
// the text instead of a structured clone of the object). Kept in a WeakMap, so it lives as long as
// the event does and no longer.

import type { LedgerEvent } from './ledger-event.ts';

const texts = new WeakMap<LedgerEvent, string | null>();

/** JSON.stringify(event) (one line), or null when the event cannot be serialized. */
export function eventText(event: LedgerEvent): string | null {
  let text = texts.get(event);
  if (text === undefined) {
    try {
      text = JSON.stringify(event) ?? null;
    } catch {
      text = null;
    }
    texts.set(event, text);
  }
  return text;
}
