// injection.encoded: base64 / base64url / hex runs (and \x41-style escaped bytes) that decode to
// readable text carrying an injection. Each run of 20+ characters is decoded (the first 8 KB of
// it), kept only when the result is mostly printable text, and the decoded text goes through the
// override, role-play and exfiltration detectors (and once more through this one, for payloads
// encoded twice). A hit scores the inner score plus 0.1: hiding instructions is itself a signal.
// Binary data (images, fonts, PDFs, hashes, keys) decodes to non-text and is skipped after a
// 64-byte look. System prompts and completions are not scanned.

import type { Detector, Finding, TextRole } from '../detector.ts';
import { exfiltrationDetector } from './injection-exfiltration.ts';
import { overrideDetector } from './injection-override.ts';
import { roleplayDetector } from './injection-roleplay.ts';
import { makeFinding, MAX_FINDINGS, MIN_REPORTED_SCORE, scansRole, type DetectorMeta } from './injection-scoring.ts';

const META: DetectorMeta = { name: 'injection.encoded', kind: 'injection', type: 'ENCODED_INJECTION' };

/** Characters of base64 (standard and url-safe); hex digits are a subset. */
const B64 = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-') B64[c.charCodeAt(0)] = 1;
const isB64 = (c: number) => c < 128 && B64[c] === 1;
const MIN_RUN = 20;
/** At most this many runs are decoded per text (bounds the work on hostile input). */
const MAX_RUNS = 256;
const ESCAPED = /(?:\\x[0-9a-fA-F]{2}){8,}/g;
const HEX = /^(?:0x)?((?:[0-9a-fA-F]{2})+)$/;
/** How much of one run is decoded. */
const MAX_DECODE = 8192;
const INNER = [overrideDetector, roleplayDetector, exfiltrationDetector];

/** The decoded text when `bytes` is mostly printable UTF-8 text, else null. */
function asText(bytes: Buffer): string | null {
  if (bytes.length < 8) return null;
  // A quick look at the start rejects binary without decoding all of it.
  let bad = 0;
  const look = Math.min(bytes.length, 64);
  for (let i = 0; i < look; i++) {
    const b = bytes[i];
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) bad++;
  }
  if (bad > look / 16) return null;
  const text = bytes.toString('utf8');
  let printable = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x20 && c !== 0xfffd && c !== 0x7f) || c === 0x0a || c === 0x0d || c === 0x09) printable++;
  }
  return printable >= text.length * 0.9 ? text : null;
}

function decodeRun(run: string): string | null {
  const hex = HEX.exec(run);
  if (hex !== null && hex[1].length >= 32) return asText(Buffer.from(hex[1], 'hex'));
  return asText(Buffer.from(run, 'base64'));
}

/** The highest inner score of the decoded text, or 0. */
function innerScore(decoded: string, role: TextRole, depth: number): number {
  let best = 0;
  for (const d of INNER) for (const f of d.scan(decoded, role)) if (f.score > best) best = f.score;
  if (depth < 1) for (const f of scanEncoded(decoded, role, depth + 1)) if (f.score - 0.1 > best) best = f.score - 0.1;
  return best;
}

/**
 * The [start, end) of every run of at least MIN_RUN base64 characters. A run that long covers at
 * least one of every MIN_RUN-th positions, so only those are looked at first (clean prose costs a
 * fraction of one pass), then the run around a hit is measured.
 */
function base64Runs(text: string): [number, number][] {
  const runs: [number, number][] = [];
  for (let p = MIN_RUN - 1; p < text.length; p += MIN_RUN) {
    if (!isB64(text.charCodeAt(p))) continue;
    let s = p;
    let e = p + 1;
    while (s > 0 && isB64(text.charCodeAt(s - 1))) s--;
    while (e < text.length && isB64(text.charCodeAt(e))) e++;
    if (e - s >= MIN_RUN && (runs.length === 0 || runs[runs.length - 1][1] < e)) runs.push([s, e]);
    if (e > p) p = e - 1;
    if (runs.length >= MAX_RUNS) break;
  }
  return runs;
}

function scanEncoded(text: string, role: TextRole, depth: number): Finding[] {
  const out: Finding[] = [];
  const check = (start: number, end: number, decoded: string | null) => {
    if (decoded === null) return;
    const inner = innerScore(decoded, role, depth);
    if (inner + 0.1 >= MIN_REPORTED_SCORE && inner > 0) out.push(makeFinding(META, inner + 0.1, 'encoded text that decodes to injection wording', role, start, end));
  };
  for (const [start, end] of base64Runs(text)) {
    if (out.length >= MAX_FINDINGS) break;
    let stop = end;
    while (stop < text.length && stop < end + 2 && text.charCodeAt(stop) === 0x3d) stop++; // "=" padding
    check(start, stop, decodeRun(text.slice(start, Math.min(end, start + MAX_DECODE))));
  }
  if (text.includes('\\x'))
    for (const m of text.matchAll(ESCAPED)) {
      if (out.length >= MAX_FINDINGS) break;
      const hex = m[0].slice(0, MAX_DECODE * 2).replace(/\\x/g, '');
      check(m.index, m.index + m[0].length, asText(Buffer.from(hex, 'hex')));
    }
  return out;
}

export const encodedDetector: Detector = {
  name: META.name,
  kind: META.kind,
  maxMatchLength: MAX_DECODE,
  scan(text: string, role: TextRole): Finding[] {
    if (!scansRole(role)) return [];
    return scanEncoded(text, role, 0);
  },
};
