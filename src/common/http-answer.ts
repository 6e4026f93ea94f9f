import type { FastifyReply, FastifyRequest } from 'fastify';

/** An answer as a route gives it: its status (when not the route's default), headers and body. */
export interface HttpAnswer<T> {
  status?: number;
  headers?: Record<string, string>;
  body: T;
}

/** Sets the answer's status and headers on the reply, and gives its body for Nest to send. */
export function answer<T>(reply: FastifyReply, { status, headers, body }: HttpAnswer<T>): T {
  if (status) void reply.status(status);
  if (headers) void reply.headers(headers);
  return body;
}

/** Runs `work` with a signal that aborts if the client closes its connection meanwhile. */
export async function untilClientLeaves<T>(
  request: FastifyRequest,
  work: (left: AbortSignal) => Promise<T>,
): Promise<T> {
  const left = new AbortController();
  const onClose = () => left.abort();
  request.raw.once('close', onClose);
  try {
    return await work(left.signal);
  } finally {
    request.raw.off('close', onClose);
  }
}
