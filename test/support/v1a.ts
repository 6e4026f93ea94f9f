import { createPublicKey, KeyObject, verify } from 'node:crypto';
import type { Received } from './receiver';
import { call, TestApp } from './harness';

/** DER SubjectPublicKeyInfo of an ed25519 key, before its raw 32 bytes (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface ListedKey {
  id: string;
  public_key: string;
  since: string;
  expires_at: string | null;
}

/** A `whpk_` key as a partner turns it into a Node public key. */
export function publicKeyOf(whpk: string): KeyObject {
  const raw = Buffer.from(whpk.replace(/^whpk_/, ''), 'base64');
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
}

/** The `v1a` signatures of a delivery's webhook-signature, in order, decoded. */
export function v1aSignatures(delivery: Received): Buffer[] {
  return String(delivery.headers['webhook-signature'])
    .split(' ')
    .filter((part) => part.startsWith('v1a,'))
    .map((part) => Buffer.from(part.slice('v1a,'.length), 'base64'));
}

/**
 * Whether a v1a signature of the delivery verifies under the listed key, as a partner checks it:
 * Node's crypto.verify over `{webhook-id}.{webhook-timestamp}.{body}` (`body`: the received one
 * unless given).
 */
export function v1aVerifies(delivery: Received, whpk: string, body = delivery.body): boolean {
  const content = Buffer.from(
    `${delivery.headers['webhook-id']}.${delivery.headers['webhook-timestamp']}.${body}`,
  );
  const key = publicKeyOf(whpk);
  return v1aSignatures(delivery).some((signature) => verify(null, content, key, signature));
}

/** GET /v1/webhook-signing-keys: the client's listed keys (asserting a 200). */
export async function signingKeys(test: TestApp, apiKey: string): Promise<ListedKey[]> {
  const answer = await call(test, 'GET', '/v1/webhook-signing-keys', { key: apiKey });
  expect(answer.status).toBe(200);
  return answer.body.data as ListedKey[];
}
