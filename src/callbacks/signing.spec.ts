import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret } from '../clients/webhook-secret';
import { signatureHeader, signPayload } from './signing';

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
});
