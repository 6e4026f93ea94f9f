import { createPublicKey, generateKeyPairSync, KeyObject, verify } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { formatPublicKey, generateSigningKeyPair, privateKeyObject } from '../clients/signing-key';
import { generateWebhookSecret } from '../clients/webhook-secret';
import { signatureHeader, signPayload, signPayloadAsymmetric } from './signing';

/** DER SubjectPublicKeyInfo of an ed25519 key, before its raw 32 bytes (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A `whpk_` key as a partner reads it: a public KeyObject. */
const publicKeyOf = (whpk: string): KeyObject =>
  createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(whpk.slice('whpk_'.length), 'base64')]),
    format: 'der',
    type: 'spki',
  });

/** Whether some `v1a` signature of the header verifies `content` under `publicKey`. */
const v1aVerifies = (header: string, content: string, publicKey: KeyObject) =>
  header
    .split(' ')
    .filter((part) => part.startsWith('v1a,'))
    .some((part) =>
      verify(null, Buffer.from(content), publicKey, Buffer.from(part.slice(4), 'base64')),
    );

/** A new pair as the service makes and stores it: the partner's whpk_, and the private KeyObject. */
const newPair = () => {
  const { publicKey, privateKey } = generateSigningKeyPair();
  return { whpk: formatPublicKey(publicKey), privateKey: privateKeyObject(privateKey) };
};

describe('signing', () => {
  const body = JSON.stringify({ id: 'r1', status: 'COMPLETED', links: [] });
  const now = () => Math.floor(Date.now() / 1000);
  const headers = (id: string, timestamp: number, signature: string) => ({
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
  });

  it("matches the Standard Webhooks specification's published test vector", () => {
    expect(
      signPayload(
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'msg_p5jXN8AQM9LWM0D4loKWxJek',
        1614265330,
        '{"test": 2432232314}',
      ),
    ).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it("is accepted by the standardwebhooks library's verify", () => {
    const secret = generateWebhookSecret();
    const timestamp = now();
    const signature = signatureHeader(
      { secrets: [secret], privateKeys: [] },
      'msg_1',
      timestamp,
      body,
    );
    expect(new Webhook(secret).verify(body, headers('msg_1', timestamp, signature))).toEqual(
      JSON.parse(body),
    );
  });

  it('signs with both secrets during a rotation, so either one verifies', () => {
    const [oldSecret, newSecret, otherSecret] = [1, 2, 3].map(generateWebhookSecret);
    const timestamp = now();
    const header = signatureHeader(
      { secrets: [newSecret, oldSecret], privateKeys: [] },
      'msg_2',
      timestamp,
      body,
    );
    expect(header.split(' ')).toEqual([
      signPayload(newSecret, 'msg_2', timestamp, body),
      signPayload(oldSecret, 'msg_2', timestamp, body),
    ]);
    for (const secret of [oldSecret, newSecret]) {
      expect(() =>
        new Webhook(secret).verify(body, headers('msg_2', timestamp, header)),
      ).not.toThrow();
    }
    expect(() =>
      new Webhook(otherSecret).verify(body, headers('msg_2', timestamp, header)),
    ).toThrow();
  });

  it('generates whsec_ + base64 of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });

  it('refuses to sign with a secret lacking the whsec_ prefix', () => {
    expect(() => signPayload('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'm', 1, '')).toThrow(/whsec_/);
  });

  describe('v1a (ed25519)', () => {
    it('signs "{id}.{timestamp}.{body}" so that crypto.verify accepts it with the listed whpk_ key, and refuses a tampered body', () => {
      const { whpk, privateKey } = newPair();
      const timestamp = now();
      const signature = signPayloadAsymmetric(privateKey, 'msg_3', timestamp, body);
      expect(signature).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
      const publicKey = publicKeyOf(whpk);
      expect(v1aVerifies(signature, `msg_3.${timestamp}.${body}`, publicKey)).toBe(true);
      expect(v1aVerifies(signature, `msg_3.${timestamp}.${body} `, publicKey)).toBe(false);
      expect(v1aVerifies(signature, `msg_4.${timestamp}.${body}`, publicKey)).toBe(false);
      expect(v1aVerifies(signature, `msg_3.${timestamp + 1}.${body}`, publicKey)).toBe(false);
      expect(
        v1aVerifies(signature, `msg_3.${timestamp}.${body}`, publicKeyOf(newPair().whpk)),
      ).toBe(false);
    });

    it("gives, for RFC 8032's first test key and the Standard Webhooks test message, the signature another implementation makes", () => {
      // RFC 8032, 7.1, TEST 1: the key. The expected signature was made by Python's
      // cryptography (OpenSSL) over the same content.
      const seed = Buffer.from(
        '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
        'hex',
      );
      const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
      const key = privateKeyObject(pkcs8.toString('base64'));
      const raw = Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
      expect(raw.toString('hex')).toBe(
        'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      );
      expect(
        signPayloadAsymmetric(
          key,
          'msg_p5jXN8AQM9LWM0D4loKWxJek',
          1614265330,
          '{"test": 2432232314}',
        ),
      ).toBe(
        'v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==',
      );
    });

    it('puts v1 signatures first, unchanged, then one v1a per key, newest first', () => {
      const [secret, oldSecret] = [generateWebhookSecret(), generateWebhookSecret()];
      const [current, previous] = [newPair(), newPair()];
      const timestamp = now();
      const header = signatureHeader(
        { secrets: [secret, oldSecret], privateKeys: [current.privateKey, previous.privateKey] },
        'msg_5',
        timestamp,
        body,
      );
      const parts = header.split(' ');
      expect(parts).toHaveLength(4);
      expect(parts.slice(0, 2)).toEqual([
        signPayload(secret, 'msg_5', timestamp, body),
        signPayload(oldSecret, 'msg_5', timestamp, body),
      ]);
      const content = `msg_5.${timestamp}.${body}`;
      expect(v1aVerifies(parts[2], content, publicKeyOf(current.whpk))).toBe(true);
      expect(v1aVerifies(parts[3], content, publicKeyOf(previous.whpk))).toBe(true);
      for (const pair of [current, previous]) {
        expect(v1aVerifies(header, content, publicKeyOf(pair.whpk))).toBe(true);
      }
      // A Standard Webhooks library that knows only v1 still verifies, skipping the v1a parts.
      expect(new Webhook(secret).verify(body, headers('msg_5', timestamp, header))).toEqual(
        JSON.parse(body),
      );
    });

    it('makes whpk_ + base64 of a raw 32-byte public key, a new pair each time', () => {
      const { whpk } = newPair();
      expect(whpk).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(whpk.slice(5), 'base64')).toHaveLength(32);
      expect(publicKeyOf(whpk).asymmetricKeyType).toBe('ed25519');
      expect(newPair().whpk).not.toBe(whpk);
    });

    it('refuses to sign v1a with a key that is not ed25519', () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      expect(() => signPayloadAsymmetric(privateKey, 'm', 1, '')).toThrow(/ed25519/);
      const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
      expect(() => privateKeyObject(pkcs8)).toThrow(/ed25519/);
    });
  });
});
