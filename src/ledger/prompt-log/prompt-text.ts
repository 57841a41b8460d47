// What a logged prompt and completion become before they are stored: redacted (redact.ts),
// without the end user's raw id or inline binary data, and at most max_chars long.
//
// The prompt stays valid JSON however it is cut: it is written by a bounded serializer that
// redacts each string (and object key) as it goes, cuts the string that crosses the limit
// (ending it with …[TRUNCATED]), and closes the open arrays and objects, marking where the rest
// was left out ("[TRUNCATED]" in an array, "[TRUNCATED]": true in an object).
//
// Redaction runs before the cut, so a secret straddling the limit is never stored half-redacted.
// Only text that cannot reach the output is skipped: a string is redacted up to twice the room
// left plus 8 KiB (cut at a whitespace, so no token is split), never a whole 32 MB body.

import { redact, redactValue, uniqueKey, type RedactionCounts } from '../../redaction/redact.ts';

export const TRUNCATED = '[TRUNCATED]';
/** Ends a cut string. */
export const TRUNCATED_SUFFIX = `…${TRUNCATED}`;

/** Deeper values are replaced by "[TRUNCATED]". */
const MAX_DEPTH = 32;
/** Room kept for the last marker and the closing brackets, so the JSON never exceeds max_chars. */
const RESERVE = 64;
/** Raw text redacted beyond the room left: redaction shortens text, so more than the room may fit. */
const RAW_SLACK = 8192;
/** A cut goes back to a whitespace at most this far, so no token (a key, a card number) is split. */
const CUT_BACKTRACK = 512;
/** Strings longer than this that are all base64 (images, audio, files) are not kept. */
const MIN_BINARY_CHARS = 1024;

const DATA_URL = /^data:([\w.+-]{1,64}\/[\w.+-]{1,64})?(?:;[\w.+-]{1,64}=[\w.+-]{1,64})*;base64,/i;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const MIXED = [/[A-Z]/, /[a-z]/, /[0-9]/];

export interface PreparedText {
  readonly text: string;
  /** Something was left out for length. */
  readonly truncated: boolean;
}

/** Inline binary data as a short note, or undefined for text. */
export function binaryNote(text: string): string | undefined {
  if (text.length < MIN_BINARY_CHARS) return undefined;
  const dataUrl = DATA_URL.exec(text.slice(0, 256));
  if (dataUrl) return `[DATA ${dataUrl[1] ?? 'base64'}, ${text.length} chars omitted]`;
  // Encoded binary mixes upper case, lower case and digits; a long run of one letter is text.
  if (BASE64.test(text) && MIXED.every((pattern) => pattern.test(text.slice(0, MIN_BINARY_CHARS)))) return `[BASE64, ${text.length} chars omitted]`;
  return undefined;
}

/** The first `limit` characters, cut back to a whitespace (within CUT_BACKTRACK) and never inside a surrogate pair. */
function cutRaw(text: string, limit: number): string {
  let end = Math.max(0, Math.min(text.length, limit));
  const floor = Math.max(0, end - CUT_BACKTRACK);
  let at = end;
  while (at > floor && !/\s/.test(text[at - 1]!)) at--;
  end = at > floor ? at : floor;
  return withoutHalfPair(text.slice(0, end));
}

function withoutHalfPair(text: string): string {
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? text.slice(0, -1) : text;
}

/** The longest prefix of `text` whose JSON string (quotes included) is at most `room` characters. */
function fitJsonString(text: string, room: number): string {
  if (room <= 2) return '';
  let lo = 0;
  let hi = Math.min(text.length, room - 2);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (JSON.stringify(text.slice(0, mid)).length <= room) lo = mid;
    else hi = mid - 1;
  }
  return withoutHalfPair(text.slice(0, lo));
}

/** Redacts one string of the prompt, leaving out what cannot reach the output. */
function prepareString(text: string, room: number, counts: RedactionCounts | undefined): { text: string; cut: boolean } {
  const note = binaryNote(text);
  if (note !== undefined) return { text: note, cut: false };
  const limit = room * 2 + RAW_SLACK;
  if (text.length <= limit) return { text: redact(text, counts), cut: false };
  return { text: redact(cutRaw(text, limit), counts), cut: true };
}

type Written = 'whole' | 'cut' | 'none';

class BoundedJson {
  readonly #parts: string[] = [];
  #used = 0;
  readonly #budget: number;
  readonly #counts: RedactionCounts | undefined;
  truncated = false;

  constructor(budget: number, counts: RedactionCounts | undefined) {
    this.#budget = budget;
    this.#counts = counts;
  }

  get text(): string {
    return this.#parts.join('');
  }

  get #room(): number {
    return this.#budget - this.#used;
  }

  #emit(text: string): void {
    this.#parts.push(text);
    this.#used += text.length;
  }

  #rollback(parts: number, used: number): void {
    this.#parts.length = parts;
    this.#used = used;
  }

  value(value: unknown, depth: number, skip?: (key: string) => boolean): Written {
    if (depth > MAX_DEPTH) {
      const written = this.#scalar(JSON.stringify(TRUNCATED));
      this.truncated = true;
      return written;
    }
    if (typeof value === 'string') return this.#string(value);
    if (typeof value === 'number') {
      const redacted = redactValue(value, this.#counts);
      if (typeof redacted === 'string') return this.#string(redacted);
      return this.#scalar(Number.isFinite(value) ? String(value) : 'null');
    }
    if (typeof value === 'boolean') return this.#scalar(String(value));
    if (value === null || typeof value !== 'object') return this.#scalar('null');
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return this.value((value as { toJSON(): unknown }).toJSON(), depth, skip);
    return Array.isArray(value) ? this.#array(value, depth) : this.#object(value as Record<string, unknown>, depth, skip);
  }

  #scalar(json: string): Written {
    if (json.length > this.#room) return this.#exhausted();
    this.#emit(json);
    return 'whole';
  }

  #exhausted(): 'none' {
    this.truncated = true;
    return 'none';
  }

  #string(raw: string): Written {
    const room = this.#room;
    if (room < 2) return this.#exhausted();
    const prepared = prepareString(raw, room, this.#counts);
    const json = JSON.stringify(prepared.text);
    if (!prepared.cut && json.length <= room) {
      this.#emit(json);
      return 'whole';
    }
    this.truncated = true;
    const kept = fitJsonString(prepared.text, room - TRUNCATED_SUFFIX.length);
    this.#emit(JSON.stringify(kept + TRUNCATED_SUFFIX));
    return 'cut';
  }

  #array(items: readonly unknown[], depth: number): Written {
    if (this.#room < 2) return this.#exhausted();
    this.#emit('[');
    let outcome: Written = 'whole';
    for (let i = 0; i < items.length; i++) {
      const parts = this.#parts.length;
      const used = this.#used;
      if (i > 0) this.#emit(',');
      const written = this.value(items[i], depth + 1);
      if (written === 'none') {
        this.#rollback(parts, used);
        this.#emit(`${i > 0 ? ',' : ''}${JSON.stringify(TRUNCATED)}`);
        outcome = 'cut';
        break;
      }
      if (written === 'cut') {
        outcome = 'cut';
        break;
      }
    }
    this.#emit(']');
    return outcome;
  }

  #object(object: Record<string, unknown>, depth: number, skip?: (key: string) => boolean): Written {
    if (this.#room < 2) return this.#exhausted();
    this.#emit('{');
    let outcome: Written = 'whole';
    let first = true;
    const seen: Record<string, unknown> = {};
    for (const [rawKey, item] of Object.entries(object)) {
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol' || skip?.(rawKey)) continue;
      const parts = this.#parts.length;
      const used = this.#used;
      const key = uniqueKey(seen, redact(rawKey, this.#counts));
      seen[key] = true;
      const keyJson = `${first ? '' : ','}${JSON.stringify(key)}:`;
      let written: Written = 'none';
      if (keyJson.length < this.#room) {
        this.#emit(keyJson);
        written = this.value(item, depth + 1, depth === 0 && rawKey === 'metadata' ? (k) => k === 'user_id' : undefined);
      }
      if (written === 'none') {
        this.#rollback(parts, used);
        this.#emit(`${first ? '' : ','}${JSON.stringify(TRUNCATED)}:true`);
        this.truncated = true;
        outcome = 'cut';
        break;
      }
      first = false;
      if (written === 'cut') {
        outcome = 'cut';
        break;
      }
    }
    this.#emit('}');
    return outcome;
  }
}

/**
 * The prompt (the request body, or its messages) as redacted JSON of at most `maxChars`
 * characters. The end user's raw id (`user`, and `metadata.user_id`, at the top level) is left
 * out: the ledger keeps only its hash.
 */
export function preparePrompt(prompt: unknown, maxChars: number, counts?: RedactionCounts): PreparedText {
  const writer = new BoundedJson(Math.max(0, maxChars - RESERVE), counts);
  const written = writer.value(prompt === undefined ? null : prompt, 0, (key) => key === 'user');
  if (written === 'none') return { text: JSON.stringify(TRUNCATED), truncated: true };
  return { text: writer.text, truncated: writer.truncated };
}

/** The completion text, redacted, at most `maxChars` characters (a cut one ends with …[TRUNCATED]). */
export function prepareCompletion(completion: string, maxChars: number, counts?: RedactionCounts): PreparedText {
  const room = Math.max(0, maxChars - TRUNCATED_SUFFIX.length);
  const prepared = prepareString(completion, room, counts);
  if (!prepared.cut && prepared.text.length <= maxChars) return { text: storable(prepared.text), truncated: false };
  return { text: storable(withoutHalfPair(prepared.text.slice(0, room))) + TRUNCATED_SUFFIX, truncated: true };
}

/** Text every store keeps as it is: no NUL (PostgreSQL refuses it) and no unpaired surrogate. */
function storable(text: string): string {
  const clean = text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
  return clean.isWellFormed() ? clean : clean.toWellFormed();
}
