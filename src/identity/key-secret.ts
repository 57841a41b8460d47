import { hash, randomBytes } from 'node:crypto';

/** Every virtual key starts with this, so it is recognisable in a leak scan and never valid at a provider. */
export const KEY_PREFIX = 'sk-tg-';
const SECRET_BYTES = 32;
/** sk-tg- plus base64url of 32 random bytes (43 characters). */
export const KEY_SHAPE = /^sk-tg-[A-Za-z0-9_-]{43}$/;

export interface NewSecret {
  /** Shown to the caller exactly once. */
  secret: string;
  /** SHA-256 hex: the only form that is stored. */
  hash: string;
  /** Masked preview for listings and logs, e.g. "sk-tg-…x7Qa". */
  preview: string;
}

/** SHA-256 (hex) of a presented secret. Secrets carry 256 random bits, so a fast hash is enough. */
export function secretHash(secret: string): string {
  return hash('sha256', secret, 'hex');
}

export function secretPreview(secret: string): string {
  return `${KEY_PREFIX}…${secret.slice(-4)}`;
}

export function newSecret(): NewSecret {
  const secret = KEY_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
  return { secret, hash: secretHash(secret), preview: secretPreview(secret) };
}

/** A new public key id: "key_" plus 20 hex characters. Ids are not secret. */
export function newKeyId(): string {
  return `key_${randomBytes(10).toString('hex')}`;
}
