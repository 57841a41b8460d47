import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SseParser } from '../../src/providers/shared/sse-parser.ts';
import type { SseEvent } from '../../src/providers/types.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function fixturePath(name: string): string {
  return FIXTURES + name;
}

export function readJsonFixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as T;
}

/** A `.chunks.txt` fixture is the raw recorded wire bytes of one SSE response. */
export function readChunksFixture(name: string): Buffer {
  return readFileSync(FIXTURES + name);
}

/** Splits bytes into pieces of `size` bytes, so lines (and UTF-8 characters) break mid-way. */
export function splitEvery(bytes: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  return pieces;
}

/** Parses raw SSE bytes delivered in the given pieces. */
export function parseSse(pieces: Buffer[]): SseEvent[] {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  for (const piece of pieces) events.push(...parser.push(piece));
  events.push(...parser.end());
  return events;
}

/** The chunk sizes every stream fixture is replayed with: whole, byte by byte, and odd splits. */
export const SPLITS = [Number.MAX_SAFE_INTEGER, 1, 3, 7, 64] as const;
