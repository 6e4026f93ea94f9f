import type { FastifyReply } from 'fastify';

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

/**
 * Runs `work` with a signal that aborts if the client closes its connection meanwhile (or already
 * has). The response's close, not the request's: a request's stream closes as soon as its body is
 * read, long before a POST held by Prefer: wait is answered.
 */
export async function untilClientLeaves<T>(
  reply: FastifyReply,
  work: (left: AbortSignal) => Promise<T>,
): Promise<T> {
  const left = new AbortController();
  const onClose = () => left.abort();
  reply.raw.once('close', onClose);
  if (reply.raw.socket?.destroyed) left.abort();
  try {
    return await work(left.signal);
  } finally {
    reply.raw.off('close', onClose);
  }
}
