import { randomBytes } from 'node:crypto';
import { decryptSecret, encryptSecret, parseEncryptionKey } from './encryption';

describe('encryption at rest', () => {
  describe('secret encryption', () => {
    const key = randomBytes(32);
    const secret = `whsec_${randomBytes(32).toString('base64')}`;

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
