import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { testEnvironment } from '../support/env';
import { exited } from '../support/processes';

/** `node dist/main.js` with TRUST_PROXY set: how it ended and what it wrote on stderr. */
async function serveWith(trustProxy: string) {
  const server = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'main.js')], {
    env: {
      ...process.env,
      ...testEnvironment(),
      APP_ROLE: 'api',
      PORT: '0',
      TRUST_PROXY: trustProxy,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const ended = await Promise.race([
    exited(server),
    sleep(60_000, 'still running', { ref: false }),
  ]);
  server.kill('SIGKILL'); // if it did not stop, it must not outlive the test
  return { ended, stderr };
}

describe('TRUST_PROXY', () => {
  it('refuses true at start (any client can write X-Forwarded-For), naming the forms it takes', async () => {
    const { ended, stderr } = await serveWith('true');
    expect(ended).toEqual({ code: 1, signal: null });
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Invalid configuration: TRUST_PROXY="true" \(.+\)$/);
    for (const form of ['false', 'number of proxy hops', 'addresses', 'true is refused'])
      expect(lines[0]).toContain(form);
  });
});
