import { Logger } from '@nestjs/common';
import { promises as dns } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { ApiError, CommonErrorCode } from '../common/api-error';
import { withTimeout } from '../common/with-timeout';
import { CallbackErrorCode, CallbackUrlProblem } from './callbacks.exceptions';

/**
 * Keeps callbacks from reaching the service's own network (SSRF): the URL is checked when the report is
 * requested, and every connection is checked again after DNS resolution, because a name can resolve to a
 * public address at request time and to 127.0.0.1 a minute later (DNS rebinding).
 */

const MAX_URL_LENGTH = 2048;
const BLOCKED_MESSAGE =
  'callback_url must not point at a private, loopback, link-local or reserved address';

/**
 * IPv4-compatible IPv6 (::a.b.c.d, deprecated by RFC 4291) is the one form ipaddr.js still calls 'unicast'
 * although it embeds an IPv4 address; nobody legitimately uses it, so it is refused outright.
 */
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/** Names that are local by definition (RFC 6761, RFC 6762, ICANN's .internal) are refused without a lookup. */
const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal'];

/**
 * How long the request-time lookup may take. getaddrinfo has no deadline of its own (resolv.conf's
 * timeouts and attempts add up), and the client is waiting for its 202.
 */
export const DNS_LOOKUP_TIMEOUT_MS = 3000;
/** What a client is asked to wait after the resolver failed to answer. */
const DNS_RETRY_AFTER_SECONDS = 5;
/**
 * Lookup errors that are an answer about the name: it does not exist, has no address, or is not a
 * name DNS can carry (too long, bad punycode). Any other failure (EAI_AGAIN, a timeout, the resolver
 * refusing) says nothing about the URL, so it is not answered as the client's fault.
 */
const NAME_ERROR_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EINVAL']);

const logger = new Logger('CallbackUrl');

/**
 * Only ipaddr.js's 'unicast' range is public: loopback, private, link-local, CGNAT, multicast, broadcast,
 * unspecified, documentation, benchmarking, 240/4, unique-local, and the 6to4 / Teredo / NAT64 forms all have
 * a range of their own. IPv4-mapped IPv6 is judged by the IPv4 address it carries.
 */
export function isPublicAddress(address: string): boolean {
  // net.isIP first: ipaddr.js also reads forms such as '010.0.0.1' (octal) that the socket layer does not.
  if (typeof address !== 'string' || isIP(address) === 0) return false;
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return false;
  }
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address();
    else if (v6.match(IPV4_COMPATIBLE)) return false;
  }
  return parsed.range() === 'unicast';
}

/** Inclusive port ranges, as CALLBACK_ALLOWED_PORTS gives them. */
export type PortRange = [number, number];

/** The URL's port, its scheme's default when it names none. */
function portOf(url: URL): number {
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
}

/** The URL's port is one of the allowed. */
export function portAllowed(raw: string, allowed: PortRange[]): boolean {
  const port = portOf(new URL(raw));
  return allowed.some(([low, high]) => port >= low && port <= high);
}

/**
 * A callback_url on a port CALLBACK_ALLOWED_PORTS does not allow (by default all but 80 and 443):
 * callbacks are web requests, and would otherwise let a client probe other services' ports.
 */
export function callbackPortProblem(
  raw: string,
  allowed: PortRange[],
): CallbackUrlProblem | undefined {
  if (portAllowed(raw, allowed)) return undefined;
  const url = new URL(raw);
  const ports = allowed.map(([low, high]) => (low === high ? low : `${low}-${high}`)).join(', ');
  return {
    code: CallbackErrorCode.CallbackUrlNotAllowed,
    message: `callback_url port ${portOf(url)} is not allowed (allowed: ${ports})`,
  };
}

/** The contract's shape rules; no network access, so it can run inside request validation. */
export function callbackUrlFormatProblem(raw: string): CallbackUrlProblem | undefined {
  const invalid = (message: string): CallbackUrlProblem => ({
    code: CommonErrorCode.ValidationFailed,
    message,
  });
  if (typeof raw !== 'string') return invalid('must be an absolute http or https URL');
  if (raw.length > MAX_URL_LENGTH) return invalid(`must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw); // throws on relative URLs, which have no base here
  } catch {
    return invalid('must be an absolute http or https URL');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    return invalid('must be an absolute http or https URL');
  }
  // Credentials in the URL would end up in logs and in the attempts list.
  if (url.username !== '' || url.password !== '') return invalid('must not contain credentials');
  return undefined;
}

/**
 * Format first, then (unless private networks are allowed) the destination: an IP literal is judged as is,
 * a name by ALL the addresses it resolves to, since the HTTP client may pick any of them. Throws a 503
 * SERVICE_UNAVAILABLE ApiError when the lookup fails for a reason that is not the name's (EAI_AGAIN, no
 * answer within DNS_LOOKUP_TIMEOUT_MS): the URL may well be fine, and the client should try again.
 */
export async function callbackUrlProblem(
  raw: string,
  allowPrivateNetworks: boolean,
  lookup: (host: string) => Promise<string[]> = lookupAll,
): Promise<CallbackUrlProblem | undefined> {
  const formatProblem = callbackUrlFormatProblem(raw);
  if (formatProblem || allowPrivateNetworks) return formatProblem;
  const blocked: CallbackUrlProblem = {
    code: CallbackErrorCode.CallbackUrlNotAllowed,
    message: BLOCKED_MESSAGE,
  };

  // WHATWG URL has already normalised numeric hosts (2130706433, 0x7f.1) to dotted quads, and IPv6 to
  // its compressed form inside brackets.
  const host = new URL(raw).hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0) return isPublicAddress(host) ? undefined : blocked;

  const name = host.replace(/\.$/, ''); // 'localhost.' is the same name as 'localhost'
  if (name === 'localhost' || LOCAL_SUFFIXES.some((suffix) => name.endsWith(suffix)))
    return blocked;

  let addresses: string[];
  try {
    addresses = await withTimeout(lookup(host), DNS_LOOKUP_TIMEOUT_MS, 'DNS lookup');
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !NAME_ERROR_CODES.has(code)) throw dnsUnavailable(host, error);
    addresses = [];
  }
  if (addresses.length === 0) {
    return { code: CallbackErrorCode.CallbackUrlNotAllowed, message: 'host does not resolve' };
  }
  return addresses.every(isPublicAddress) ? undefined : blocked;
}

function dnsUnavailable(host: string, error: unknown): ApiError {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  logger.warn(`DNS lookup of callback_url host ${host} failed: ${String(code ?? message)}`);
  return ApiError.unavailable(
    'The callback_url host could not be resolved just now; try again later',
    DNS_RETRY_AFTER_SECONDS,
  );
}

async function lookupAll(host: string): Promise<string[]> {
  const results = await dns.lookup(host, { all: true, verbatim: true });
  return results.map((result) => result.address);
}

/**
 * Agents for the delivery's HTTP client. request-filtering-agent checks the address actually connected to,
 * after DNS resolution, which closes the window between validation and delivery. Its default policy is
 * isPublicAddress's rule (ipaddr.js range 'unicast' only), a little stricter: it refuses every IPv4-mapped
 * address. ::/96 is not added to denyIPAddressList because the library then warns on every IPv4 connection
 * (ipaddr.js cannot match an IPv4 address against an IPv6 CIDR); those addresses are not routed by default.
 */
export function callbackAgents(allowPrivateNetworks: boolean): {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
} {
  if (allowPrivateNetworks) {
    return {
      httpAgent: new http.Agent({ keepAlive: true }),
      httpsAgent: new https.Agent({ keepAlive: true }),
    };
  }
  const options = {
    keepAlive: true,
    allowPrivateIPAddress: false,
    allowMetaIPAddress: false,
  };
  return {
    httpAgent: new RequestFilteringHttpAgent(options),
    httpsAgent: new RequestFilteringHttpsAgent(options),
  };
}
