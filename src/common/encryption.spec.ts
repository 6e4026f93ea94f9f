import { createCipheriv, randomBytes } from 'node:crypto';
import { decryptSecret, encryptSecret, keyId, parseEncryptionKey } from './encryption';

describe('encryption at rest', () => {
  describe('secret encryption', () => {
    const key = randomBytes(32);
    const keys = { current: key };
    const here = 'clients:7a1c:webhook_secret';
    const secret = `whsec_${randomBytes(32).toString('base64')}`;

    it('round-trips, with a fresh IV each time and the key id in the value', () => {
      const first = encryptSecret(secret, key, here);
      const second = encryptSecret(secret, key, here);
      expect(first).toMatch(new RegExp(`^v2:${keyId(key)}:[A-Za-z0-9_-]+$`));
      expect(keyId(key)).toMatch(/^[0-9a-f]{8}$/);
      expect(first).not.toBe(second);
      expect(decryptSecret(first, keys, here)).toEqual({ secret, upToDate: true });
      expect(decryptSecret(second, keys, here).secret).toBe(secret);
    });

    it('throws when the ciphertext was tampered with', () => {
      const [version, id, sealed] = encryptSecret(secret, key, here).split(':');
      const raw = Buffer.from(sealed, 'base64url');
      raw[raw.length - 1] ^= 1;
      expect(() =>
        decryptSecret(`${version}:${id}:${raw.toString('base64url')}`, keys, here),
      ).toThrow();
    });

    it('throws with the wrong key', () => {
      const other = { current: randomBytes(32) };
      expect(() => decryptSecret(encryptSecret(secret, key, here), other, here)).toThrow(
        'unknown key',
      );
    });

    it('throws when the value is copied to another row or column (its place is associated data)', () => {
      const value = encryptSecret(secret, key, here);
      expect(() => decryptSecret(value, keys, 'clients:9b2d:webhook_secret')).toThrow();
      expect(() => decryptSecret(value, keys, 'clients:7a1c:previous_webhook_secret')).toThrow();
    });

    it('reads values written under the previous key during a rotation, as not up to date', () => {
      const previous = randomBytes(32);
      const value = encryptSecret(secret, previous, here);
      expect(decryptSecret(value, { current: key, previous }, here)).toEqual({
        secret,
        upToDate: false,
      });
      expect(() => decryptSecret(value, { current: key }, here)).toThrow('unknown key');
    });

    it('reads the v1 values written before key ids, under either key', () => {
      const previous = randomBytes(32);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', previous, iv);
      const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      const v1 = `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
      expect(decryptSecret(v1, { current: key, previous }, here)).toEqual({
        secret,
        upToDate: false,
      });
      expect(() => decryptSecret(v1, { current: key }, here)).toThrow();
    });
  });

  describe('parseEncryptionKey', () => {
    const bytes = randomBytes(32);

    it('accepts 32 bytes as hex, base64 or base64url, padded or not', () => {
      expect(parseEncryptionKey(bytes.toString('hex'))).toEqual(bytes);
      expect(parseEncryptionKey(bytes.toString('base64'))).toEqual(bytes);
      expect(parseEncryptionKey(bytes.toString('base64url'))).toEqual(bytes);
      expect(parseEncryptionKey(bytes.toString('base64').replace(/=+$/, ''))).toEqual(bytes);
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
