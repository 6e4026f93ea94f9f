import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const LOCAL = join(__dirname, '..', '..', '.local');

describe('What scripts/setup.sh leaves on the machine (npm test runs it first)', () => {
  it('writes .local/env, which holds WEBHOOK_SECRETS_KEY, and the key file for its owner alone (0600)', () => {
    const env = join(LOCAL, 'env');
    expect(existsSync(env)).toBe(true);
    expect((statSync(env).mode & 0o777).toString(8)).toBe('600');
    // The key file exists unless WEBHOOK_SECRETS_KEY came from the caller's environment.
    const key = join(LOCAL, 'webhook-secrets.key');
    if (existsSync(key)) expect((statSync(key).mode & 0o777).toString(8)).toBe('600');
  });
});
