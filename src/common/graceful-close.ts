import type { FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import { SHUTDOWN_GRACE_MS } from './jobs';

/**
 * On shutdown, closes at once every connection that has no request in flight, and the rest once
 * their requests are answered or SHUTDOWN_GRACE_MS has passed. Node's own close only drops the
 * connections idle between two requests: one that never sent a request (seen in tests: an HTTP
 * client's spare connection) kept the process up for its 60 s headers timeout.
 */
export function closeGracefully(fastify: FastifyInstance): void {
  const inFlight = new Map<Socket, number>();
  let closing = false;
  fastify.server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  fastify.server.on('request', (request, response) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closing && left === 0) socket.destroySoon();
    });
  });
  fastify.addHook('preClose', (done) => {
    closing = true;
    for (const [socket, requests] of inFlight) if (requests === 0) socket.destroy();
    const backstop = setTimeout(() => fastify.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    backstop.unref();
    fastify.server.once('close', () => clearTimeout(backstop));
    done();
  });
}
