import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'rk_';

/** A new API key: 32 random bytes, base64url, with a recognisable prefix. */
export function generateApiKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** Keys carry 256 bits of entropy, so SHA-256 is a safe one-way store and an O(1) lookup key. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}
