// Sizes in config: a number of bytes, or a string like "32mb", "512kb", "1.5gib".

import { z } from 'zod';

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i;
const UNITS: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

/** "32mb", "512kb", 1048576 → bytes. */
export const byteSize = z.union([
  z.number().int().positive(),
  z.string().regex(SIZE, { error: 'must be a size like 32mb, 512kb or a number of bytes' }),
]).transform((value) => {
  if (typeof value === 'number') return value;
  const [, amount, unit] = SIZE.exec(value.trim())!;
  return Math.round(Number(amount) * UNITS[(unit ?? 'b').toLowerCase()]!);
});
