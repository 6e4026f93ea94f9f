import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Encryption at rest of the secrets the service must read back in the clear (webhook secrets sign
 * callbacks, so they cannot be hashed): AES-256-GCM under WEBHOOK_SECRETS_KEY.
 *
 * A value is `v2:<key id>:<base64url(iv | tag | ciphertext)>`. The key id (the first 8 hex digits of
 * the key's SHA-256) says which key to read it with, so the key can rotate: values written under
 * WEBHOOK_SECRETS_KEY_PREVIOUS still read until `secrets:reencrypt` rewrites them. The value's place
 * (`context`: the table, row and column) is its associated data, so a value copied to another row
 * or column does not decrypt. `v1:` values, from before key ids, had neither.
 */

const CURRENT = 'v2';
const LEGACY = 'v1';
const IV_BYTES = 12; // the size GCM is designed for
const TAG_BYTES = 16;

/** The keys secrets are read with: the current one (which writes), and the one before a rotation. */
export interface SecretKeys {
  current: Buffer;
  previous?: Buffer;
}

/** A short, public name for a key: which one encrypted a value. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export function encryptSecret(secret: string, key: Buffer, context: string): string {
  assertKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  const sealed = Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  return `${CURRENT}:${keyId(key)}:${sealed}`;
}

/**
 * The secret, and whether it was written under the current key in the current format (else
 * `secrets:reencrypt` has work to do). Throws when the value was tampered with, copied from another
 * place, or written under a key it does not know.
 */
export function decryptSecret(
  encrypted: string,
  keys: SecretKeys,
  context: string,
): { secret: string; upToDate: boolean } {
  const [version, ...rest] = encrypted.split(':');
  if (version === CURRENT && rest.length === 2) {
    const [id, sealed] = rest;
    const key = [keys.current, keys.previous].find(
      (candidate) => candidate && keyId(candidate) === id,
    );
    if (!key) throw new Error(`secret encrypted under an unknown key (${id})`);
    return { secret: open(sealed, key, context), upToDate: key === keys.current };
  }
  if (version === LEGACY && rest.length === 1) {
    for (const key of [keys.current, keys.previous]) {
      try {
        if (key) return { secret: open(rest[0], key), upToDate: false };
      } catch {
        // the next key, if any
      }
    }
    throw new Error('secret does not decrypt with any known key');
  }
  throw new Error('unknown secret encryption format');
}

function open(sealed: string, key: Buffer, context?: string): string {
  assertKey(key);
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('encrypted secret is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([
    decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
    decipher.final(),
  ]).toString('utf8');
}

/**
 * Accepts 32 bytes written as hex (64 characters) or base64 / base64url, padded or not. Node's
 * base64 decoder skips characters it does not know, so the input is re-encoded and compared to
 * refuse near-miss values. The environment check uses this same function.
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
