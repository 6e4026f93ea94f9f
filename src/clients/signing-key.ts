import { createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';

/** Standard Webhooks public keys: `whpk_` + base64 of the raw 32-byte ed25519 key. */
export const SIGNING_PUBLIC_KEY_PREFIX = 'whpk_';

/**
 * A new ed25519 pair: the raw public key, and the private key as base64 of its PKCS#8 DER (the form
 * it is encrypted in; Node reads it back without any other detail).
 */
export function generateSigningKeyPair(): { publicKey: Buffer; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'),
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
  };
}

/** The public key as partners are given it. */
export function formatPublicKey(raw: Buffer): string {
  return SIGNING_PUBLIC_KEY_PREFIX + raw.toString('base64');
}

/** The private key that signs, from what generateSigningKeyPair made. */
export function privateKeyObject(pkcs8: string): KeyObject {
  const key = createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('signing key is not an ed25519 key');
  return key;
}
