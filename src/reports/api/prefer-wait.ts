/** Longest `Prefer: wait=N` honoured, in seconds (the contract's N ≤ 30). */
const MAX_WAIT_S = 30;

/** `Prefer: wait=N` (RFC 7240), capped at MAX_WAIT_S; undefined when absent or unreadable. */
export function preferredWait(prefer: string | undefined): number | undefined {
  const match = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?(?:$|[,;\s])/i.exec(prefer ?? '');
  return match ? Math.min(MAX_WAIT_S, Number(match[1])) : undefined;
}

/** `Prefer: respond-async` (RFC 7240) among the preferences: the client wants the 202 at once. */
export function prefersAsync(prefer: string | undefined): boolean {
  return /(?:^|,)\s*respond-async\s*(?:$|[,;])/i.test(prefer ?? '');
}
