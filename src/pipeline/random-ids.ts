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
