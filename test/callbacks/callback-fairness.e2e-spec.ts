import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { forgetQueues, testEnvironment } from '../support/env';
import { call, newClient, startApp, TestApp } from '../support/harness';
import { eventually, Receiver } from '../support/receiver';

/**
 * A partner that takes callbacks and does not answer them (until told to): it counts the requests
 * it holds, the most it held at once, and those that ended.
 */
class Tarpit {
  readonly held: Array<{ request: IncomingMessage; response: ServerResponse }> = [];
  readonly answered: string[] = [];
  mostHeld = 0;
  ended = 0;
  private answering = false;
  private readonly server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (this.answering) return this.answer(request, response);
      this.held.push({ request, response });
      this.mostHeld = Math.max(this.mostHeld, this.held.length);
    });
    response.once('close', () => {
      this.ended += 1;
      const i = this.held.findIndex((entry) => entry.response === response);
      if (i >= 0) this.held.splice(i, 1);
    });
  });
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  /** Answers 200 to what it holds and to everything after. */
  release(): void {
    this.answering = true;
    for (const { request, response } of this.held.splice(0)) this.answer(request, response);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    this.answered.push(String(request.headers['webhook-id']));
    response.writeHead(200).end();
  }
}

const QUEUES = { QUEUE_PREFIX: `${testEnvironment().QUEUE_PREFIX}-slots` };

describe('Callbacks fair too: a partner that never answers delays only its own client', () => {
  let test: TestApp;
  let tarpit: Tarpit;
  let receiver: Receiver;
  let day = 0;

  beforeAll(async () => {
    tarpit = await new Tarpit().start();
    receiver = await new Receiver().start();
    test = await startApp({
      ...QUEUES,
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
      CALLBACK_TIMEOUT_MS: '60000',
      CALLBACK_MAX_IN_FLIGHT_PER_CLIENT: '4',
      RATE_LIMIT_STATUS_PER_MINUTE: '100000',
    });
  });
  afterAll(async () => {
    await test.close();
    await tarpit.stop();
    await receiver.stop();
    const redis = new Redis(testEnvironment().REDIS_URL);
    await forgetQueues(redis, QUEUES.QUEUE_PREFIX);
    redis.disconnect();
  });

  const report = async (key: string, callbackUrl: string) => {
    day += 1;
    const start = new Date(Date.UTC(2046, 0, day)).toISOString().slice(0, 10);
    const end = new Date(Date.UTC(2046, 0, day + 1)).toISOString().slice(0, 10);
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key,
      json: { start_date: start, end_date: end, callback_url: callbackUrl },
    });
    expect(accepted.status).toBe(202);
    return accepted.body.id as string;
  };

  it("delivers another client's callback at once while 20 hang on a tarpit, 4 at a time, and later all 20 once", async () => {
    const stuck = await newClient(test, 'Tarpit partner');
    const quiet = await newClient(test, 'Quiet partner');
    const stuckIds: string[] = [];
    for (let i = 0; i < 20; i += 1) stuckIds.push(await report(stuck.api_key, tarpit.url));
    // Every report done, its callback due: the client's four slots hang on the tarpit.
    await eventually(async () => {
      const [{ done }] = await test.dataSource.query(
        `SELECT count(*)::int AS done FROM reports WHERE id = ANY($1::uuid[]) AND status = 'COMPLETED'`,
        [stuckIds],
      );
      return done === 20 && tarpit.held.length === 4;
    }, 120);

    await report(quiet.api_key, receiver.script('/quiet', { status: 200 }));
    await eventually(async () => receiver.at('/quiet').length === 1, 60);
    // It was sent while all four tarpit attempts still hung, none of them having timed out.
    expect(tarpit.ended).toBe(0);
    expect(tarpit.held.length).toBe(4);
    expect(tarpit.mostHeld).toBe(4);
    // The 16 waiting ones hold no worker and recorded no attempt.
    const [{ attempts }] = await test.dataSource.query(
      `SELECT count(*)::int AS attempts FROM callback_attempts a
         JOIN callback_events e ON e.id = a.event_id WHERE e.client_id = $1`,
      [stuck.id],
    );
    expect(attempts).toBe(0);

    tarpit.release();
    await eventually(async () => tarpit.answered.length >= 20, 120);
    const [{ delivered }] = await test.dataSource.query(
      `SELECT count(*)::int AS delivered FROM callback_events
        WHERE client_id = $1 AND status = 'DELIVERED' AND attempts = 1`,
      [stuck.id],
    );
    expect(delivered).toBe(20);
    expect(new Set(tarpit.answered).size).toBe(20);
    expect(tarpit.mostHeld).toBe(4);
  });
});
