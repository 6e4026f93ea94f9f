import { processTreeRssMb } from './process-tree';

/** Reading a browser's memory costs ~2 ms of the worker's CPU: at most once a second. */
const MEMORY_CHECK_INTERVAL_MS = 1000;

/** Why a browser is recycled: it did `after` renders, or its processes passed `rssMb`. */
export type RecycleReason = 'renders' | 'memory';

/** When a browser is due for replacement, from its renders and its memory, read between renders. */
export class RecyclePolicy {
  private renders = 0;
  private memoryCheckedAt = 0;

  constructor(
    /** Renders a browser does before a fresh one replaces it; 0: never. */
    private readonly after: number,
    /** The summed RSS (MB) of a browser's processes past which it is replaced; 0: no bound. */
    private readonly rssMb: number,
  ) {}

  /** A browser starts: its renders are counted from 0, its memory read from its first render on. */
  restart(): void {
    this.renders = 0;
    this.memoryCheckedAt = 0;
  }

  /** A render ended on the browser whose process is `pid`: why it is due now, if it is. */
  due(pid: number | undefined): { reason: RecycleReason; why: string } | undefined {
    this.renders += 1;
    if (this.after > 0 && this.renders >= this.after) {
      return { reason: 'renders', why: `after ${this.renders} renders` };
    }
    if (this.rssMb > 0 && Date.now() - this.memoryCheckedAt >= MEMORY_CHECK_INTERVAL_MS) {
      this.memoryCheckedAt = Date.now();
      const rssMb = processTreeRssMb(pid);
      if (rssMb > this.rssMb) {
        return { reason: 'memory', why: `at ${rssMb} MB of RSS (over ${this.rssMb} MB)` };
      }
    }
    return undefined;
  }
}
