import { spawn } from 'node:child_process';
import { AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { testEnvironment } from '../support/env';
import { newClient, startApp, TestApp } from '../support/harness';
import { exited, killGroup } from '../support/processes';
import { eventually } from '../support/receiver';

jest.setTimeout(120_000);

interface LogLine {
  msg?: string;
  reportId?: string;
  req?: { id?: string };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The service as production runs it (`node dist/main.js`), its stdout read line by line. */
describe('Logs: JSON lines with the request id, and the report id on every line about a report', () => {
  let admin: TestApp;

  beforeAll(async () => {
    admin = await startApp({ APP_ROLE: 'api' });
  });
  afterAll(() => admin.close());

  it('logs the request with its id and no header, and the render with the report id', async () => {
    const shop = await newClient(admin, 'Logs Shop');
    const port = await freePort();
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'main.js')], {
      env: {
        ...process.env,
        ...testEnvironment(),
        APP_ROLE: 'all',
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${shop.api_key}` };
    let id = '';
    try {
      await eventually(async () => (await fetch(`${base}/health`).catch(() => null))?.ok, 60);
      const posted = await fetch(`${base}/v1/orders/reports`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'x-request-id': 'log-req-1' },
        body: JSON.stringify({ start_date: '2030-05-01', end_date: '2030-05-02' }),
      });
      expect(posted.status).toBe(202);
      id = ((await posted.json()) as { id: string }).id;
      await eventually(async () => out.includes(`"msg":"Report ${id}: 0 orders`), 60);
    } finally {
      killGroup(child, 'SIGTERM');
      await exited(child);
    }

    const lines = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as LogLine); // every line is JSON
    const request = lines.find((line) => line.req?.id === 'log-req-1');
    expect(request).toMatchObject({
      req: { method: 'POST', url: '/v1/orders/reports', remoteAddress: '127.0.0.1' },
      res: { statusCode: 202 },
    });
    expect(request).not.toHaveProperty('req.headers');
    const aboutReport = lines.filter((line) => String(line.msg).includes(id));
    expect(aboutReport.length).toBeGreaterThan(0);
    expect(aboutReport.filter((line) => line.reportId !== id)).toEqual([]);
    expect(out).not.toContain(shop.api_key);
  });
});
