import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'rk_';
/** What generateApiKey makes: anything else is refused without a lookup. */
export const API_KEY_SHAPE = /^rk_[A-Za-z0-9_-]{43}$/;

/** A new API key: 32 random bytes, base64url, with a recognisable prefix. */
export function generateApiKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** Keys carry 256 bits of entropy, so SHA-256 is a safe one-way store and an O(1) lookup key. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}
