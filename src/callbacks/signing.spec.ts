import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import {
  decryptSecret,
  encryptSecret,
  generateWebhookSecret,
  parseEncryptionKey,
  signatureHeader,
  signPayload,
} from './signing';

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
    const signature = signatureHeader([secret], 'msg_1', timestamp, body);
    expect(new Webhook(secret).verify(body, headers('msg_1', timestamp, signature))).toEqual(
      JSON.parse(body),
    );
  });

  it('signs with both secrets during a rotation, so either one verifies', () => {
    const [oldSecret, newSecret, otherSecret] = [1, 2, 3].map(generateWebhookSecret);
    const timestamp = now();
    const header = signatureHeader([newSecret, oldSecret], 'msg_2', timestamp, body);
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

  describe('secret encryption', () => {
    const key = randomBytes(32);
    const secret = generateWebhookSecret();

    it('round-trips, with a fresh IV each time', () => {
      const first = encryptSecret(secret, key);
      const second = encryptSecret(secret, key);
      expect(first).toMatch(/^v1:[A-Za-z0-9_-]+$/);
      expect(first).not.toBe(second);
      expect(decryptSecret(first, key)).toBe(secret);
      expect(decryptSecret(second, key)).toBe(secret);
    });

    it('throws when the ciphertext was tampered with', () => {
      const raw = Buffer.from(encryptSecret(secret, key).slice(3), 'base64url');
      raw[raw.length - 1] ^= 1;
      expect(() => decryptSecret(`v1:${raw.toString('base64url')}`, key)).toThrow();
    });

    it('throws with the wrong key', () => {
      expect(() => decryptSecret(encryptSecret(secret, key), randomBytes(32))).toThrow();
    });
  });

  describe('parseEncryptionKey', () => {
    const bytes = randomBytes(32);

    it('accepts 32 bytes as hex, base64 or base64url', () => {
      expect(parseEncryptionKey(bytes.toString('hex'))).toEqual(bytes);
      expect(parseEncryptionKey(bytes.toString('base64'))).toEqual(bytes);
      expect(parseEncryptionKey(bytes.toString('base64url'))).toEqual(bytes);
    });

    it('refuses other lengths and malformed text', () => {
      for (const bad of [
        '',
        randomBytes(16).toString('hex'),
        randomBytes(31).toString('base64'),
        randomBytes(33).toString('base64'),
        `${bytes.toString('base64')}!!`,
        'z'.repeat(64),
      ]) {
        expect(() => parseEncryptionKey(bad)).toThrow('must be 32 bytes, base64 or hex');
      }
    });
  });
});
