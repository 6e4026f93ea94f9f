/**
 * The bare tool for the status route: Fastify and a pg pool of the service's size answering the same
 * path with one query per request, and nothing else (no API key, rate limit, log line or metrics).
 * Started by bench/run.ts as a process of its own, as the API is: DATABASE_URL and PORT from the environment.
 */
import Fastify from 'fastify';
import { Pool } from 'pg';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify();

app.get<{ Params: { id: string } }>('/v1/orders/reports/status/:id', async (request, reply) => {
  const { rows } = await pool.query<{
    id: string;
    status: string;
    progress: number;
    created_at: Date;
  }>(`SELECT id, status, progress, created_at FROM reports WHERE id = $1`, [request.params.id]);
  const [report] = rows;
  if (!report) return reply.status(404).send({ error_code: 'REPORT_NOT_FOUND' });
  if (report.status === 'COMPLETED') {
    const href = `/v1/orders/reports/${report.id}`;
    return reply
      .status(303)
      .header('Location', href)
      .send({ id: report.id, status: report.status, links: [{ rel: 'reports', href }] });
  }
  return reply.header('Retry-After', '1').send({
    id: report.id,
    status: report.status,
    progress: report.progress,
    created_at: report.created_at.toISOString(),
  });
});

app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
