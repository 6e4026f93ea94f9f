/**
 * The bare tool for POST /v1/orders/reports: Fastify, a pg pool of the service's size and one Redis
 * connection, doing one `INSERT` (into `bare_reports`, a copy of `reports` with its columns,
 * defaults and indexes, which bench/backlog.ts creates) and one `LPUSH` per request, and nothing
 * else (no API key, validation, bound, fair order, rate limit, log line or metrics).
 * Started by bench/backlog.ts as a process of its own: DATABASE_URL, REDIS_URL, PORT and
 * BARE_CLIENT_ID from the environment.
 */
import Fastify from 'fastify';
import Redis from 'ioredis';
import { Pool } from 'pg';

/** The Redis list it pushes to (the bench's own database, 14; bench/backlog.ts deletes it). */
const BARE_QUEUE = 'bench:bare:queue';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const redis = new Redis(process.env.REDIS_URL!);
const app = Fastify();

app.post<{ Body: { start_date: string; end_date: string } }>(
  '/v1/orders/reports',
  async (request, reply) => {
    const { rows } = await pool.query<{ id: string; status: string; created_at: Date }>(
      `INSERT INTO bare_reports (client_id, start_date, end_date)
       VALUES ($1, $2, $3) RETURNING id, status, created_at`,
      [process.env.BARE_CLIENT_ID, request.body.start_date, request.body.end_date],
    );
    const [report] = rows;
    await redis.lpush(BARE_QUEUE, report.id);
    return reply
      .status(202)
      .header('Location', `/v1/orders/reports/status/${report.id}`)
      .send({ id: report.id, status: report.status, created_at: report.created_at.toISOString() });
  },
);

app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
