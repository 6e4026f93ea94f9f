import { Logger } from '@nestjs/common';
import { promises as dns } from 'node:dns';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, LookupFunction, Socket, TcpNetConnectOpts } from 'node:net';
import type { Duplex } from 'node:stream';
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
 * How long the request-time lookup may take, all tries included: the client is waiting for its 202.
 * The resolver gives up by itself a little before (DNS_TRY_TIMEOUT_MS, DNS_TRIES); this deadline is
 * only a backstop.
 */
export const DNS_LOOKUP_TIMEOUT_MS = 3000;
/**
 * Lookups go to c-ares (node:dns Resolver), never to getaddrinfo: getaddrinfo runs on libuv's 4
 * threads and cannot be stopped, so a zone whose nameserver never answers would hold them and stall
 * every other lookup (and file read, and zlib) in the process. c-ares runs on the event loop and gives
 * up by itself: a first try of 750 ms, a second one longer, about 2.3 s in all.
 */
const DNS_TRY_TIMEOUT_MS = 750;
const DNS_TRIES = 2;
/**
 * Request-time lookups one client may have in flight in one process: beyond, it is asked to come back
 * (503 with Retry-After), so that its slow names cannot pile up.
 */
export const MAX_LOOKUPS_PER_CLIENT = 8;
/** Names the hosts file gives are read from it, as getaddrinfo would, at most this often. */
const HOSTS_FILE = '/etc/hosts';
const HOSTS_FILE_TTL_MS = 10_000;
/** What a client is asked to wait after the resolver failed to answer. */
const DNS_RETRY_AFTER_SECONDS = 5;
/**
 * Lookup errors that are an answer about the name: it does not exist, has no address, or is not a
 * name DNS can carry (too long, bad punycode). Any other failure (EAI_AGAIN, a timeout, the resolver
 * refusing) says nothing about the URL, so it is not answered as the client's fault.
 */
const NAME_ERROR_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EINVAL', 'EBADNAME']);

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
  // A name that does not resolve is answered as one that resolves to a private address: telling them
  // apart would let a client map which internal names exist.
  return addresses.length > 0 && addresses.every(isPublicAddress) ? undefined : blocked;
}

function dnsUnavailable(host: string, error: unknown): ApiError {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  logger.warn(`DNS lookup of callback_url host ${host} failed: ${String(code ?? message)}`);
  return ApiError.unavailable(
    'The callback_url host could not be resolved just now; try again later',
    DNS_RETRY_AFTER_SECONDS,
  );
}

/** The addresses the hosts file gives each name (lower case), as getaddrinfo reads it. */
function parseHostsFile(text: string): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [address, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!address || isIP(address) === 0) continue;
    for (const alias of aliases) {
      const name = alias.toLowerCase();
      names.set(name, [...(names.get(name) ?? []), address]);
    }
  }
  return names;
}

/** A lookup failure with the code c-ares would give, so that callers tell them apart the same way. */
const dnsFailure = (code: string, host: string) =>
  Object.assign(new Error(`DNS lookup of ${host} failed: ${code}`), { code, hostname: host });

/**
 * Resolves callback hosts without getaddrinfo: the hosts file first (and `localhost`, loopback by
 * definition, RFC 6761), then DNS through c-ares with its own timeout and tries, on the system's
 * nameservers or CALLBACK_DNS_SERVERS. A and AAAA are asked together; a name answered by either
 * resolves. Search domains are not applied: a callback host is a fully qualified name.
 */
export class CallbackResolver {
  private readonly resolver = new dns.Resolver({ timeout: DNS_TRY_TIMEOUT_MS, tries: DNS_TRIES });
  private readonly inFlight = new Map<string, number>();
  private hosts?: { names: Promise<Map<string, string[]>>; readAt: number };

  constructor(servers: string[] = []) {
    if (servers.length > 0) this.resolver.setServers(servers);
  }

  /** All the addresses of `host`; an error with a c-ares code (ENOTFOUND, ETIMEOUT, …) otherwise. */
  async lookup(host: string): Promise<string[]> {
    const name = host.toLowerCase().replace(/\.$/, '');
    const listed = (await this.hostsFile()).get(name);
    if (listed) return listed;
    if (name === 'localhost' || name.endsWith('.localhost')) return ['127.0.0.1', '::1'];
    const answers = await Promise.allSettled([
      this.resolver.resolve4(name),
      this.resolver.resolve6(name),
    ]);
    const addresses = answers.flatMap((answer) =>
      answer.status === 'fulfilled' ? answer.value : [],
    );
    if (addresses.length > 0) return addresses;
    const codes = answers.map((answer) =>
      answer.status === 'rejected' ? String((answer.reason as { code?: unknown })?.code) : '',
    );
    // Not found only when both families say so about the name; a timeout says nothing about it.
    const failure = codes.find((code) => !NAME_ERROR_CODES.has(code)) ?? 'ENOTFOUND';
    throw dnsFailure(failure === '' ? 'ENODATA' : failure, name);
  }

  /**
   * `lookup`, with at most MAX_LOOKUPS_PER_CLIENT of one client's in flight at once; beyond, it
   * fails at once as a resolver that does not answer would (EAI_AGAIN).
   */
  async lookupFor(client: string, host: string): Promise<string[]> {
    const running = this.inFlight.get(client) ?? 0;
    if (running >= MAX_LOOKUPS_PER_CLIENT) throw dnsFailure('EAI_AGAIN', host);
    this.inFlight.set(client, running + 1);
    try {
      return await this.lookup(host);
    } finally {
      const left = (this.inFlight.get(client) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(client);
      else this.inFlight.set(client, left);
    }
  }

  /** As net.connect calls a `lookup` option: one address, or all of them with `{ all: true }`. */
  readonly connectLookup: LookupFunction = (hostname, options, callback) => {
    this.lookup(hostname).then(
      (found) => {
        const wanted = found
          .map((address) => ({ address, family: isIP(address) }))
          .filter(({ family }) => !options.family || options.family === family);
        if (wanted.length === 0) {
          callback(dnsFailure('ENOTFOUND', hostname), '', 0);
        } else if (options.all) {
          (callback as unknown as (e: null, all: typeof wanted) => void)(null, wanted);
        } else {
          callback(null, wanted[0].address, wanted[0].family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };

  private hostsFile(): Promise<Map<string, string[]>> {
    if (!this.hosts || Date.now() - this.hosts.readAt > HOSTS_FILE_TTL_MS) {
      const names = readFile(HOSTS_FILE, 'utf8').then(parseHostsFile, () => new Map());
      this.hosts = { names, readAt: Date.now() };
    }
    return this.hosts.names;
  }
}

/** The process's resolver on the system's nameservers, for callers that were given none. */
const systemResolver = new CallbackResolver();
const lookupAll = (host: string) => systemResolver.lookup(host);

/** The error a blocked connection fails with: its words are what describeFailure recognises. */
function blockedAddress(address: string, host: string): Error {
  return Object.assign(
    new Error(
      `Connection to ${address} (host: ${host}) is not allowed: private or reserved address`,
    ),
    { code: 'ERR_CALLBACK_ADDRESS_BLOCKED' },
  );
}

/** Wraps a `lookup` so that it fails unless every address it gives is public (isPublicAddress). */
function publicOnly(lookup: LookupFunction): LookupFunction {
  return (hostname, options, callback) =>
    lookup(hostname, options, ((error: NodeJS.ErrnoException | null, found: unknown, family) => {
      if (error) return callback(error, '', 0);
      const addresses = Array.isArray(found)
        ? (found as Array<{ address: string }>).map((entry) => entry.address)
        : [found as string];
      const refused = addresses.find((address) => !isPublicAddress(address));
      if (refused !== undefined) return callback(blockedAddress(refused, hostname), '', 0);
      (callback as (...args: unknown[]) => void)(null, found, family);
    }) as Parameters<LookupFunction>[2]);
}

type ConnectionCallback = (error: Error | null, socket: Duplex) => void;

/**
 * The connection-time check: an IP literal is judged by isPublicAddress before connecting, a name by
 * every address its lookup gives (`publicOnly`); request-filtering-agent checks again behind it.
 * isPublicAddress also refuses IPv4-compatible IPv6 (::/96), which the library's own rule lets through.
 */
function checkedConnection(
  options: TcpNetConnectOpts,
  lookup: LookupFunction,
  callback: ConnectionCallback | undefined,
  connect: (options: TcpNetConnectOpts, callback?: ConnectionCallback) => Duplex,
): Duplex {
  const host = (options.host ?? '').replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0 && !isPublicAddress(host)) {
    const socket = new Socket();
    const error = blockedAddress(host, host);
    if (callback) callback(error, socket);
    else process.nextTick(() => socket.destroy(error));
    return socket;
  }
  return connect({ ...options, lookup: publicOnly(options.lookup ?? lookup) }, callback);
}

const filterOptions = { keepAlive: true, allowPrivateIPAddress: false, allowMetaIPAddress: false };

class CallbackHttpAgent extends RequestFilteringHttpAgent {
  constructor(private readonly lookup: LookupFunction) {
    super(filterOptions);
  }

  override createConnection(options: TcpNetConnectOpts, callback?: ConnectionCallback): Duplex {
    return checkedConnection(options, this.lookup, callback, (o, c) =>
      super.createConnection(o, c),
    );
  }
}

class CallbackHttpsAgent extends RequestFilteringHttpsAgent {
  constructor(private readonly lookup: LookupFunction) {
    super(filterOptions);
  }

  override createConnection(options: TcpNetConnectOpts, callback?: ConnectionCallback): Duplex {
    return checkedConnection(options, this.lookup, callback, (o, c) =>
      super.createConnection(o, c),
    );
  }
}

/**
 * Agents for the delivery's HTTP client. Names are resolved by `resolver` (c-ares, never getaddrinfo:
 * see CallbackResolver), and, unless private networks are allowed, every connection is checked after
 * resolution (checkedConnection), which closes the window between validation and delivery (DNS
 * rebinding).
 */
export function callbackAgents(
  allowPrivateNetworks: boolean,
  resolver: CallbackResolver = systemResolver,
): {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
} {
  if (allowPrivateNetworks) {
    const options = { keepAlive: true, lookup: resolver.connectLookup };
    return { httpAgent: new http.Agent(options), httpsAgent: new https.Agent(options) };
  }
  return {
    httpAgent: new CallbackHttpAgent(resolver.connectLookup),
    httpsAgent: new CallbackHttpsAgent(resolver.connectLookup),
  };
}
