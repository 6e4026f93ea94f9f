import { randomBytes } from 'node:crypto';

/** Standard Webhooks secrets: `whsec_` + base64 of the key. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** How long the secret before a rotation keeps signing alongside the new one. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

/** `whsec_` + base64 of 32 random bytes: within the contract's 24 to 64, and SHA-256's output size (RFC 2104's advice). */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64');
}
