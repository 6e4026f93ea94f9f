import { Inject, Injectable, Logger } from '@nestjs/common';
import DataLoader from 'dataloader';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { REDIS_WAIT_MS } from '../common/jobs';
import { withTimeout } from '../common/with-timeout';
import { RedisConnections } from '../redis/redis-connections';

/**
 * A waiting item's score is `turn × ROUND_SPAN + its arrival in the turn`: Redis keeps the fair
 * order, and ZRANK is an item's place in it (O(log n) in a skip list that counts as it moves).
 * A turn's arrivals are counted from 1 again whenever it holds no item; one that somehow reaches
 * ROUND_SPAN arrivals while never emptying sends the next arrival to the turn after. Scores stay
 * exact doubles up to turn 2^27, and turns start again from 1 whenever the queue empties.
 */
const ROUND_SPAN = 2 ** 26;
/** A turn's arrival counter outlives any wait: it only orders items within one turn. */
const ROUND_SEQ_TTL_MS = 30 * 24 * 3600_000;
/**
 * A refused client's Retry-After comes from the first of its unfinished items: looked for among
 * this many of them (all of them at the default bound of 20), so that a refusal costs a bounded time
 * whatever REPORT_MAX_UNFINISHED_PER_CLIENT.
 */
const CLIENT_AHEAD_SAMPLE = 100;
/** How many times an admission waits for another process's rebuild (100 ms each) before going on without Redis. */
const REBUILD_WAITS = 20;
/** How long an item that left the numbers is kept from being put back by the sweep. */
const LEFT_MEMORY_MS = 60_000;
/** How long one process may hold the rebuild before another may take it over. */
const REBUILD_LEASE_MS = 30_000;

/** Lua: the next arrival in `turn` (waiting, the seq prefix), from 1 again when the turn is empty. */
const NEXT_IN_TURN = `
local function nextInTurn(waiting, seqPrefix, turn)
  local seqKey = seqPrefix .. turn
  local from = string.format('%.0f', turn * ${ROUND_SPAN})
  local to = string.format('%.0f', (turn + 1) * ${ROUND_SPAN} - 1)
  if redis.call('ZCOUNT', waiting, from, to) == 0 then redis.call('DEL', seqKey) end
  local seq = redis.call('INCR', seqKey)
  redis.call('PEXPIRE', seqKey, ${ROUND_SEQ_TTL_MS})
  return seq
end`;

/**
 * Admits an item when its client and the queue are under their bounds, in one step that no other
 * admission can interleave with, on any API process.
 * KEYS: waiting, the client's unfinished, the clients' last turns, ready, the seq prefix.
 * ARGV: item id, client id, most unfinished per client, most waiting.
 * Answers {'rebuild'} before the numbers exist, {'client-full', items ahead of the client's
 * first}, {'queue-full', waiting} or {'admitted', turn, place, the client's turn before}.
 */
const ADMIT = `${NEXT_IN_TURN}
if redis.call('EXISTS', KEYS[4]) == 0 then return {'rebuild'} end
local span = ${ROUND_SPAN}
local unfinished = redis.call('SCARD', KEYS[2])
if unfinished >= tonumber(ARGV[3]) then
  local first = nil
  for _, id in ipairs(redis.call('SRANDMEMBER', KEYS[2], ${CLIENT_AHEAD_SAMPLE})) do
    local rank = redis.call('ZRANK', KEYS[1], id)
    if not rank then first = 0 break end
    if not first or rank < first then first = rank end
  end
  return {'client-full', first or 0}
end
local waiting = redis.call('ZCARD', KEYS[1])
if waiting >= tonumber(ARGV[4]) then return {'queue-full', waiting} end
local serving = 1
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[2] then serving = math.floor(tonumber(head[2]) / span) end
local before = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '-1')
local round = serving
if unfinished > 0 and before + 1 > round then round = before + 1 end
local seq = nextInTurn(KEYS[1], KEYS[5], round)
if seq >= span then
  round = round + 1
  seq = nextInTurn(KEYS[1], KEYS[5], round)
end
redis.call('ZADD', KEYS[1], string.format('%.0f', round * span + seq), ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], round)
return {'admitted', round, redis.call('ZRANK', KEYS[1], ARGV[1]), before}`;

/**
 * An item leaves the numbers: it finished, was cancelled, or its admission was undone; it is
 * remembered for LEFT_MEMORY_MS so that the sweep does not put it back from a read of Postgres
 * made just before. The client's last turn goes back to ARGV[4] when ARGV[3] (its turn) is still
 * the last one. KEYS: waiting, the client's unfinished, the clients' last turns, the left prefix.
 * ARGV: item id, client id, and for an undone admission its turn and the turn before ('' otherwise).
 */
const LEAVE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[4] .. ARGV[1], '1', 'PX', ${LEFT_MEMORY_MS})
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('HDEL', KEYS[3], ARGV[2])
elseif ARGV[3] ~= '' and redis.call('HGET', KEYS[3], ARGV[2]) == ARGV[3] then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
end
return 1`;

/** An item a worker took: it no longer waits, and is not put back in the line. KEYS: waiting, the left prefix. */
const START = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2] .. 'started:' .. ARGV[1], '1', 'PX', ${LEFT_MEMORY_MS})
return 1`;

/**
 * Puts back an item Postgres holds unfinished and Redis lost (the sweep): at the end of its turn;
 * not one that left (or was taken by a worker) since Postgres was read.
 * KEYS: waiting, the client's unfinished, the clients' last turns, the seq prefix, the left prefix.
 * ARGV: item id, client id, turn, '1' when it waits for a render.
 */
const RESTORE = `${NEXT_IN_TURN}
if redis.call('EXISTS', KEYS[5] .. ARGV[1]) == 1 then return 0 end
local added = redis.call('SADD', KEYS[2], ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '-1')
if tonumber(ARGV[3]) > last then redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) end
if ARGV[4] == '1' and not redis.call('ZSCORE', KEYS[1], ARGV[1])
    and redis.call('EXISTS', KEYS[5] .. 'started:' .. ARGV[1]) == 0 then
  local seq = nextInTurn(KEYS[1], KEYS[4], tonumber(ARGV[3]))
  redis.call('ZADD', KEYS[1], string.format('%.0f', tonumber(ARGV[3]) * ${ROUND_SPAN} + seq), ARGV[1])
  added = 1
end
return added`;

type FairQueueCommands = Redis & {
  admitToFairQueue(...args: string[]): Promise<[string, ...number[]]>;
  leaveFairQueue(...args: string[]): Promise<number>;
  startInFairQueue(...args: string[]): Promise<number>;
  restoreToFairQueue(...args: string[]): Promise<number>;
};

/** An unfinished item in the source of truth: its client, its turn, whether it waits (not started). */
export type QueuedItem = { id: string; clientId: string; fairRound: number; waiting: boolean };
export type QueuedState = 'waiting' | 'started' | 'finished';

/**
 * What the numbers are rebuilt and reconciled from (Postgres's reports, for the render queue):
 * every unfinished item, waiting ones in the fair order (turn, then arrival); the state of each
 * item given that exists.
 */
export interface FairQueueSource {
  unfinishedInFairOrder(): Promise<QueuedItem[]>;
  queueStates(ids: string[]): Promise<Map<string, QueuedState>>;
}
export const FAIR_QUEUE_SOURCE = Symbol('FAIR_QUEUE_SOURCE');

/** Another process rebuilds the numbers, for longer than an admission waits. */
export class FairQueueRebuilding extends Error {
  constructor() {
    super('the fair queue is being rebuilt from Postgres');
  }
}

export interface QueueBounds {
  unfinishedPerClient: number;
  waiting: number;
}

export type AdmitVerdict =
  | { verdict: 'admitted'; turn: number; place: number; turnBefore: number }
  | { verdict: 'client-full'; clientAhead: number }
  | { verdict: 'queue-full'; waiting: number };

/**
 * The fair order and the bounds' counts, kept in Redis as the queue moves so that admitting a
 * item and telling a client its place cost the same whatever the backlog: a waiting item's
 * place is its rank in one sorted set, a client's unfinished items one set, the backlog that
 * set's size. Postgres stays the source of truth: when Redis loses them (a flush, a restart) they
 * are rebuilt from the unfinished items before the next admission, and the sweep puts back what
 * a crash left out and takes out what it left behind (`reconcile`).
 */
@Injectable()
export class FairQueue {
  private readonly logger = new Logger(FairQueue.name);
  private readonly redis: FairQueueCommands;
  private readonly prefix: string;
  /** Admissions went to Postgres alone while Redis was away: the numbers need a rebuild. */
  private stale = false;
  /** Items Redis held but Postgres did not at the previous reconcile: taken out if still so. */
  private suspects = new Set<string>();
  /**
   * Places of the items asked for in one turn of the event loop, read in one round trip (the
   * status route's polls arrive together, as ReportsRepository's reads do).
   */
  private readonly places = new DataLoader<string, number | null>(
    async (ids) => {
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.zrank(this.waitingKey, id);
      const results = (await pipeline.exec()) ?? [];
      return ids.map((_, i) => {
        const [error, rank] = results[i] ?? [null, null];
        return error || rank === null || rank === undefined ? null : Number(rank);
      });
    },
    { cache: false, batchScheduleFn: (read) => setImmediate(read), maxBatchSize: 100 },
  );

  constructor(
    connections: RedisConnections,
    @Inject(FAIR_QUEUE_SOURCE) private readonly source: FairQueueSource,
  ) {
    this.prefix = `${connections.prefix}:fair-queue`;
    // The scripts are loaded once on the process's connection for commands.
    this.redis = connections.get('commands') as FairQueueCommands;
    if (typeof this.redis.admitToFairQueue !== 'function') {
      this.redis.defineCommand('admitToFairQueue', { numberOfKeys: 5, lua: ADMIT });
      this.redis.defineCommand('leaveFairQueue', { numberOfKeys: 4, lua: LEAVE });
      this.redis.defineCommand('startInFairQueue', { numberOfKeys: 2, lua: START });
      this.redis.defineCommand('restoreToFairQueue', { numberOfKeys: 5, lua: RESTORE });
    }
  }

  private get waitingKey() {
    return `${this.prefix}:waiting`;
  }
  private get turnsKey() {
    return `${this.prefix}:last-turn`;
  }
  private get readyKey() {
    return `${this.prefix}:ready`;
  }
  private get seqPrefix() {
    return `${this.prefix}:seq:`;
  }
  private get leftPrefix() {
    return `${this.prefix}:left:`;
  }
  private unfinishedKey(clientId: string) {
    return `${this.prefix}:unfinished:${clientId}`;
  }

  /**
   * Reserves the item's place, or says which bound refuses it. Rejects when Redis does not
   * answer within REDIS_WAIT_MS: the caller then admits by Postgres alone (`admittedWithoutRedis`).
   */
  async admit(clientId: string, itemId: string, bounds: QueueBounds): Promise<AdmitVerdict> {
    if (this.stale) {
      await withTimeout(this.redis.del(this.readyKey), REDIS_WAIT_MS, 'fair queue');
      this.stale = false;
    }
    for (let tries = 0; ; tries += 1) {
      const [verdict, a, b, c] = await withTimeout(
        this.redis.admitToFairQueue(
          this.waitingKey,
          this.unfinishedKey(clientId),
          this.turnsKey,
          this.readyKey,
          this.seqPrefix,
          itemId,
          clientId,
          String(bounds.unfinishedPerClient),
          String(bounds.waiting),
        ),
        REDIS_WAIT_MS,
        'fair queue',
      );
      if (verdict === 'admitted') return { verdict, turn: a, place: b, turnBefore: c };
      if (verdict === 'client-full') return { verdict, clientAhead: a };
      if (verdict === 'queue-full') return { verdict, waiting: a };
      if (tries >= REBUILD_WAITS) throw new FairQueueRebuilding();
      // A request waits for a rebuild no longer than for Redis; the rebuild goes on meanwhile.
      const rebuilt = this.rebuild().catch((error: unknown) => {
        this.logger.warn(`Fair queue not rebuilt: ${String(error)}`);
      });
      await withTimeout(rebuilt, REDIS_WAIT_MS, 'fair queue rebuild').catch(() => {
        throw new FairQueueRebuilding();
      });
    }
  }

  /** Undoes `admit` (the item was not stored after all). */
  async withdraw(clientId: string, itemId: string, admitted: { turn: number; turnBefore: number }) {
    await this.leave(clientId, itemId, [String(admitted.turn), String(admitted.turnBefore)]);
  }

  /** The item was admitted by Postgres alone, Redis away: the numbers are rebuilt once it is back. */
  admittedWithoutRedis(): void {
    this.stale = true;
  }

  /** A worker took the item: it no longer waits (it stays unfinished). */
  async started(itemId: string): Promise<void> {
    await this.quietly(
      itemId,
      this.redis.startInFairQueue(this.waitingKey, this.leftPrefix, itemId),
    );
  }

  /** The item finished, failed or was cancelled: it leaves the fair order and its client's count. */
  async finished(clientId: string, itemId: string): Promise<void> {
    await this.quietly(itemId, this.leave(clientId, itemId, ['', '']));
  }

  /**
   * How many items render before this one, or null when it does not wait (or Redis does not
   * answer: the place is then unknown, never guessed).
   */
  place(itemId: string): Promise<number | null> {
    return withTimeout(this.places.load(itemId), REDIS_WAIT_MS, 'fair queue').catch(() => null);
  }

  /**
   * The numbers from Postgres, by one process at a time (the others' admissions wait for it):
   * every unfinished item, waiting ones in their turn and then in arrival order.
   */
  async rebuild(): Promise<void> {
    const lease = `${this.prefix}:rebuilding`;
    const holder = randomUUID();
    const taken = await this.redis.set(lease, holder, 'PX', REBUILD_LEASE_MS, 'NX');
    if (!taken) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return;
    }
    try {
      // Another process may have rebuilt them between our 'rebuild' and our lease: not twice (a
      // second rebuild would drop the places reserved since the first by admissions under way).
      if (await this.redis.exists(this.readyKey)) return;
      const rows = await this.source.unfinishedInFairOrder();
      // Every client with unfinished items has its last turn in turnsKey.
      const stale = (await this.redis.hkeys(this.turnsKey)).map((id) => this.unfinishedKey(id));
      const transaction = this.redis.multi();
      for (const key of [this.waitingKey, this.turnsKey, ...stale]) transaction.del(key);
      const lastTurn = new Map<string, number>();
      const seqInTurn = new Map<number, number>();
      for (const row of rows) {
        transaction.sadd(this.unfinishedKey(row.clientId), row.id);
        lastTurn.set(row.clientId, Math.max(lastTurn.get(row.clientId) ?? -1, row.fairRound));
        if (!row.waiting) continue;
        const seq = (seqInTurn.get(row.fairRound) ?? 0) + 1;
        seqInTurn.set(row.fairRound, seq);
        transaction.zadd(this.waitingKey, row.fairRound * ROUND_SPAN + seq, row.id);
      }
      for (const [clientId, turn] of lastTurn) transaction.hset(this.turnsKey, clientId, turn);
      for (const [turn, seq] of seqInTurn) {
        transaction.set(`${this.seqPrefix}${turn}`, seq, 'PX', ROUND_SEQ_TTL_MS);
      }
      transaction.set(this.readyKey, new Date().toISOString());
      await transaction.exec();
      this.suspects.clear();
      this.logger.log(`Fair queue rebuilt from Postgres: ${rows.length} unfinished item(s)`);
    } finally {
      // Only our own lease: one that expired and was taken by another process is theirs.
      await this.redis.eval(
        `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
        1,
        lease,
        holder,
      );
    }
  }

  /**
   * The sweep's part, for a page of Postgres's unfinished items: puts back those Redis lost (a
   * place reserved and then wiped by a rebuild, a change Redis missed). Answers how many.
   */
  async restore(page: QueuedItem[]): Promise<number> {
    if (page.length === 0 || !(await this.redis.exists(this.readyKey))) return 0;
    const pipeline = this.redis.pipeline() as unknown as FairQueueCommands;
    for (const row of page) {
      void pipeline.restoreToFairQueue(
        this.waitingKey,
        this.unfinishedKey(row.clientId),
        this.turnsKey,
        this.seqPrefix,
        this.leftPrefix,
        row.id,
        row.clientId,
        String(row.fairRound),
        row.waiting ? '1' : '0',
      );
    }
    const results = (await (pipeline as unknown as ReturnType<Redis['pipeline']>).exec()) ?? [];
    return results.reduce((sum, [, added]) => sum + Number(added ?? 0), 0);
  }

  /**
   * The sweep's other part: takes out what a crash or a missed change left behind: an item Redis
   * counts that Postgres holds finished (at once), or does not hold (once seen on two passes in a
   * row: an admission reserves its place just before it stores its item). Answers how many.
   */
  async reconcile(): Promise<number> {
    if (!(await this.redis.exists(this.readyKey))) {
      await this.rebuild();
      return 0;
    }
    const seen = new Map<string, string | null>(); // id -> client (null: only in waiting)
    for (const id of await this.redis.zrange(this.waitingKey, 0, -1)) seen.set(id, null);
    for (const clientId of await this.redis.hkeys(this.turnsKey)) {
      for (const id of await this.redis.smembers(this.unfinishedKey(clientId))) {
        seen.set(id, clientId);
      }
    }
    const ids = [...seen.keys()];
    const states = new Map<string, QueuedState>();
    for (let i = 0; i < ids.length; i += 1000) {
      for (const [id, state] of await this.source.queueStates(ids.slice(i, i + 1000))) {
        states.set(id, state);
      }
    }
    const suspects = new Set<string>();
    let removed = 0;
    for (const [id, clientId] of seen) {
      const state = states.get(id);
      if (state === 'waiting') continue;
      if (state === 'started') {
        await this.redis.zrem(this.waitingKey, id);
        continue;
      }
      // Not stored yet (its admission is under way) or never: taken out when still so next time.
      if (state === undefined && !this.suspects.has(id)) {
        suspects.add(id);
        continue;
      }
      removed += 1;
      if (clientId) await this.leave(clientId, id, ['', '']);
      else await this.redis.zrem(this.waitingKey, id);
    }
    this.suspects = suspects;
    return removed;
  }

  private async leave(clientId: string, itemId: string, undo: [string, string]) {
    await withTimeout(
      this.redis.leaveFairQueue(
        this.waitingKey,
        this.unfinishedKey(clientId),
        this.turnsKey,
        this.leftPrefix,
        itemId,
        clientId,
        ...undo,
      ),
      REDIS_WAIT_MS,
      'fair queue',
    );
  }

  /** A change Redis misses is put right by the sweep: it never fails the caller. */
  private async quietly(itemId: string, change: Promise<unknown>): Promise<void> {
    await withTimeout(change, REDIS_WAIT_MS, 'fair queue').catch((error: unknown) => {
      this.logger.warn({
        itemId,
        msg: `Item ${itemId}: fair queue not updated (${String(error)}); the sweep will`,
      });
    });
  }
}
