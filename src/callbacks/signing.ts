import { createHmac } from 'node:crypto';
import { WEBHOOK_SECRET_PREFIX } from '../clients/webhook-secret';

/** Standard Webhooks signing (https://www.standardwebhooks.com). */

/** `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`; the key is the decoded part after `whsec_`. */
export function signPayload(secret: string, id: string, timestamp: number, body: string): string {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    // Signing with the text of a malformed secret would produce signatures no client can verify.
    throw new Error('webhook secret must start with whsec_');
  }
  const key = Buffer.from(secret.slice(WEBHOOK_SECRET_PREFIX.length), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/**
 * The `webhook-signature` header: one signature per secret, space-separated. During a rotation the caller
 * passes the new secret first, then the old one, so clients holding either secret can verify.
 */
export function signatureHeader(
  secrets: string[],
  id: string,
  timestamp: number,
  body: string,
): string {
  if (secrets.length === 0) throw new Error('at least one webhook secret is needed to sign');
  return secrets.map((secret) => signPayload(secret, id, timestamp, body)).join(' ');
}
