import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const SETUP = join(__dirname, '..', '..', 'scripts', 'setup.sh');

/** setup.sh's own masked_url, run by bash alone (setup.sh itself would install and start servers). */
function maskedUrl(url: string): string {
  return execFileSync(
    'bash',
    ['-c', 'eval "$(sed -n \'/^masked_url() {/,/^}/p\' "$0")"; masked_url "$1"', SETUP, url],
    { encoding: 'utf8' },
  );
}

describe('scripts/setup.sh', () => {
  it.each([
    ['postgres://app:s3cret@db.internal:5432/reports', 'postgres://***@db.internal:5432/reports'],
    ['redis://:s3cret@cache:6379/0', 'redis://***@cache:6379/0'],
    ['rediss://default:p@ss@word@cache:6380', 'rediss://***@cache:6380'],
    ['postgres://postgres@127.0.0.1:5432/reports', 'postgres://***@127.0.0.1:5432/reports'],
    ['redis://127.0.0.1:6379/0', 'redis://127.0.0.1:6379/0'],
    ['app:s3cret@db:5432', '***@db:5432'],
  ])('shows %s as %s, the way the service shows a rejected *_URL', (url, shown) => {
    expect(maskedUrl(url)).toBe(shown);
  });

  it('prints the connection strings it was given only through masked_url', () => {
    // The messages: what follows `say` or `die` on a line.
    const printed = readFileSync(SETUP, 'utf8')
      .split('\n')
      .flatMap((line) => /\b(?:say|die) (".*)$/.exec(line)?.[1] ?? []);
    expect(printed.length).toBeGreaterThan(10);
    for (const variable of ['USER_DATABASE_URL', 'USER_REDIS_URL', 'DB_URL', 'R_URL']) {
      for (const line of printed.filter((text) => text.includes(`$${variable}`))) {
        // Each mention inside a message is an argument of masked_url.
        expect(line.replaceAll(`$(masked_url "$${variable}")`, '')).not.toMatch(
          new RegExp(`\\$\\{?${variable}\\b`),
        );
      }
    }
  });
});
