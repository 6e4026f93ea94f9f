import { createHmac, KeyObject, sign } from 'node:crypto';
import { WEBHOOK_SECRET_PREFIX } from '../clients/webhook-secret';

/** Standard Webhooks signing (https://www.standardwebhooks.com). */

/** What signs one client's callbacks now: each list newest first (two during a rotation). */
export interface Signers {
  /** `whsec_` webhook secrets: `v1` HMAC signatures. */
  secrets: string[];
  /** ed25519 private keys: `v1a` signatures. */
  privateKeys: KeyObject[];
}

/** The signed content: `{id}.{timestamp}.{body}`. */
const content = (id: string, timestamp: number, body: string) =>
  Buffer.from(`${id}.${timestamp}.${body}`, 'utf8');

/** `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`; the key is the decoded part after `whsec_`. */
export function signPayload(secret: string, id: string, timestamp: number, body: string): string {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    // Signing with the text of a malformed secret would produce signatures no client can verify.
    throw new Error('webhook secret must start with whsec_');
  }
  const key = Buffer.from(secret.slice(WEBHOOK_SECRET_PREFIX.length), 'base64');
  const mac = createHmac('sha256', key)
    .update(content(id, timestamp, body))
    .digest('base64');
  return `v1,${mac}`;
}

/** `v1a,` + base64 of the ed25519 signature of `{id}.{timestamp}.{body}`. */
export function signPayloadAsymmetric(
  privateKey: KeyObject,
  id: string,
  timestamp: number,
  body: string,
): string {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error('v1a signatures need an ed25519 private key');
  }
  return `v1a,${sign(null, content(id, timestamp, body), privateKey).toString('base64')}`;
}

/**
 * The `webhook-signature` header, space-separated: a `v1` signature per secret, then a `v1a` one per
 * private key. During a rotation the caller passes the new secret or key first, then the old one,
 * so that a partner holding either can verify.
 */
export function signatureHeader(
  { secrets, privateKeys }: Signers,
  id: string,
  timestamp: number,
  body: string,
): string {
  if (secrets.length === 0) throw new Error('at least one webhook secret is needed to sign');
  return [
    ...secrets.map((secret) => signPayload(secret, id, timestamp, body)),
    ...privateKeys.map((key) => signPayloadAsymmetric(key, id, timestamp, body)),
  ].join(' ');
}
