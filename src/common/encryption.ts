import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Encryption at rest of the secrets the service must read back in the clear (webhook secrets sign
 * callbacks, so they cannot be hashed): AES-256-GCM under WEBHOOK_SECRETS_KEY.
 */

const ENCRYPTED_PREFIX = 'v1:';
const IV_BYTES = 12; // the size GCM is designed for
const TAG_BYTES = 16;

/** AES-256-GCM with a random IV: `v1:` + base64url(iv | tag | ciphertext). The prefix leaves room for a new scheme. */
export function encryptSecret(secret: string, key: Buffer): string {
  assertKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return (
    ENCRYPTED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')
  );
}

/** Throws when the value was tampered with or was encrypted with another key (GCM's tag check). */
export function decryptSecret(encrypted: string, key: Buffer): string {
  assertKey(key);
  if (!encrypted.startsWith(ENCRYPTED_PREFIX)) throw new Error('unknown secret encryption format');
  const raw = Buffer.from(encrypted.slice(ENCRYPTED_PREFIX.length), 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('encrypted secret is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([
    decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
    decipher.final(),
  ]).toString('utf8');
}

/**
 * Accepts 32 bytes written as hex (64 characters) or base64 / base64url. Node's base64 decoder skips
 * characters it does not know, so the input is re-encoded and compared to refuse near-miss values.
 */
export function parseEncryptionKey(value: string): Buffer {
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const unpadded = text.replace(/=+$/, '');
  for (const encoding of ['base64', 'base64url'] as const) {
    const key = Buffer.from(text, encoding);
    if (key.length === 32 && key.toString(encoding).replace(/=+$/, '') === unpadded) return key;
  }
  throw new Error('encryption key must be 32 bytes, base64 or hex');
}

function assertKey(key: Buffer): void {
  if (key.length !== 32) throw new Error('encryption key must be 32 bytes, base64 or hex');
}
