import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Helmet's headers (nosniff, X-Frame-Options, HSTS, Referrer-Policy, ...) with one CSP. Every kind
 * of page forbids framing (frame-ancestors 'none', X-Frame-Options DENY): the dashboard's buttons
 * retry and remove jobs, and Swagger UI sends requests with the key it holds.
 *
 * None of them depends on the request, so helmet runs once, here, and each answer gets the same
 * object through Fastify. (Helmet's own middleware, per request, sets them on the raw response:
 * that sends every header of the answer through Node's slow path, and @fastify/helmet even builds
 * the middleware again for each request.)
 */
function withPolicy(directives: Record<string, string[]>): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = value),
    removeHeader: (name: string) => delete headers[name.toLowerCase()],
  };
  helmet({
    // Without helmet's defaults, upgrade-insecure-requests among them: a dashboard or Swagger UI
    // reached over plain HTTP inside a network would ask for its own assets over HTTPS.
    contentSecurityPolicy: { useDefaults: false, directives },
    xFrameOptions: { action: 'deny' },
  })({} as IncomingMessage, response as unknown as ServerResponse, () => undefined);
  return headers;
}

/** JSON, PDFs, errors, /health, /metrics: nothing in them is ever to be run or loaded. */
const API = withPolicy({ defaultSrc: ["'none'"], frameAncestors: ["'none'"] });

/** What the two pages (Swagger UI, the dashboard) have in common. */
const PAGE = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * Swagger UI: its scripts are files of its own (no inline script, no eval); its page holds an
 * inline stylesheet and style attributes, its icons are data: URIs, "Try it out" calls this origin.
 */
const DOCS = withPolicy({ ...PAGE, styleSrc: ["'self'", "'unsafe-inline'"] });

/** The Bull dashboard: as Swagger UI, plus the Google Fonts stylesheet its page links to. */
const DASHBOARD = withPolicy({
  ...PAGE,
  styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
  fontSrc: ["'self'", 'https://fonts.gstatic.com'],
});

const DOCS_PATH = /^\/docs(?:[/?]|$)/;
const DASHBOARD_PATH = /^\/admin\/queues(?:[/?]|$)/;

/** Sets the headers of the request's kind of page on its answer. */
export function setSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const url = request.url;
  void reply.headers(DOCS_PATH.test(url) ? DOCS : DASHBOARD_PATH.test(url) ? DASHBOARD : API);
}

/**
 * Every answer that goes through Fastify's hooks, 404s and errors included. (Fastify's own
 * refusals of a URL skip the hooks and call setSecurityHeaders themselves: error.filter.ts.)
 */
export function addSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    setSecurityHeaders(request, reply);
    done();
  });
}
