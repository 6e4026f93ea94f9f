/**
 * Chromium recycling benchmark: two workers, one recycling its Chromium as configured
 * (RENDER_RECYCLE_AFTER, RENDER_RECYCLE_RSS_MB) and one never, render the same reports (95 of 50
 * orders and 5 of 1,000 in every 100), RENDER_CONCURRENCY at a time, in alternating rounds.
 * Measures, never passes or fails. Run:
 *   bash scripts/with-env.sh node -r ts-node/register/transpile-only bench/recycle.ts [renders] [lives]
 * 1. Memory: rounds of 100 renders up to `renders`; after each, once a recycle under way is over,
 *    the worker's RSS and its Chromium's (summed RSS, as ps counts it, and PSS).
 * 2. Throughput over `lives` browser lives: RENDER_RECYCLE_AFTER renders per worker, in rounds of
 *    100 that alternate between the workers (first one, then the other, going first), so that the
 *    machine's drift (±20 % and more from one minute to the next here) hits both alike. The
 *    recycling worker is offset by half a life, so that each life holds one whole recycle. Each
 *    life's ratio compares the two workers' total times; the median ratio is kept.
 * Each worker is a child process of its own, so that its RSS and its Chromium's are its alone.
 */
import 'reflect-metadata';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Environment } from '../src/config/environment';
import { PdfRenderer } from '../src/pdf/pdf-renderer.service';
import { memorySink } from '../src/pdf/pdf-join';
import { processTree } from '../src/pdf/process-tree';
import { buildReport, treeRssMb } from './render';

const ROUND = 100;
/** One render in LARGE_EVERY is of 1,000 orders, the others of 50: a typical mix. */
const LARGE_EVERY = 20;

interface Sample {
  renders: number;
  ms: number;
  failed: number;
  recycles: number;
  restarts: number;
  workerRssMb: number;
  chromiumRssMb: number;
  /** Shared pages split between the processes that map them: what the machine really gives. */
  chromiumPssMb: number;
}

export interface RecycleBenchResult {
  recycleAfter: number;
  recycleRssMb: number;
  relaunchMs: number[];
  memory: Array<{ renders: number; without: Sample; with: Sample }>;
  throughput: {
    lives: Array<{ renders: number; withoutPerMin: number; withPerMin: number; ratio: number }>;
    ratio: number;
  };
}

function renderer(recycleAfter: number, recycleRssMb: number): PdfRenderer {
  return new PdfRenderer({
    executablePath: process.env.PUPPETEER_EXECUTABLE_PATH ?? '/usr/bin/chromium',
    concurrency: Number(process.env.RENDER_CONCURRENCY ?? 2),
    timeoutMs: 120_000,
    attempts: 1,
    rowsPerPage: 40,
    rowsPerPart: 1000,
    recycleAfter,
    recycleRssMb,
  });
}

function pssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1]);
    } catch {
      // It ended while we looked.
    }
  }
  return Math.round(kb / 1024);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The child: renders what it is asked, as a worker does, and answers what it measured. */
async function worker(recycleAfter: number, recycleRssMb: number): Promise<void> {
  const pdfRenderer = renderer(recycleAfter, recycleRssMb);
  await pdfRenderer.warmUp();
  const small = buildReport(50, 40, 1000).finish();
  const large = buildReport(1000, 40, 1000).finish();
  const lanes = Number(process.env.RENDER_CONCURRENCY ?? 2);
  let renders = 0;
  process.on('message', (message: { renders: number; settle: boolean; stop?: boolean }) => {
    if (message.stop) {
      void pdfRenderer.onApplicationShutdown().then(() => process.exit(0));
      return;
    }
    void (async () => {
      let next = 0;
      let failed = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: lanes }, async () => {
          while (next < message.renders) {
            const i = renders + next++;
            const output = memorySink();
            try {
              const parts = i % LARGE_EVERY === LARGE_EVERY - 1 ? large : small;
              await pdfRenderer.render(parts, output.sink);
              if (output.pdf().subarray(0, 5).toString() !== '%PDF-') failed += 1;
            } catch {
              failed += 1;
            }
          }
        }),
      );
      const ms = performance.now() - started;
      renders += message.renders;
      // Memory is read once a replacement is in and the old browser gone, its helpers too (they
      // outlive the browser's pipe by a moment), not halfway through.
      const settled = () =>
        !pdfRenderer.isRecycling &&
        processTree(process.pid).length === 1 + processTree(pdfRenderer.browserPid!).length;
      for (let i = 0; message.settle && i < 200 && !settled(); i++) await sleep(50);
      const tree = treeRssMb(process.pid);
      const sample: Sample = {
        renders,
        ms,
        failed,
        recycles: pdfRenderer.recycles,
        restarts: pdfRenderer.restarts,
        workerRssMb: tree.processMb,
        chromiumRssMb: tree.descendantsMb,
        chromiumPssMb: pssMb(processTree(process.pid).slice(1)),
      };
      process.send!(sample);
    })();
  });
  process.send!({ ready: true });
}

/** A worker process: `round(n)` renders its next n reports and answers a Sample. */
async function startWorker(recycleAfter: number, recycleRssMb: number) {
  const child = fork(__filename, ['--worker', String(recycleAfter), String(recycleRssMb)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const nextMessage = <T>() =>
    new Promise<T>((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`worker exited with ${code}`));
      child.once('exit', exited);
      child.once('message', (message) => {
        child.off('exit', exited);
        resolve(message as T);
      });
    });
  await nextMessage();
  return {
    round(renders: number, settle = true) {
      const answer = nextMessage<Sample>();
      child.send({ renders, settle });
      return answer;
    },
    async stop() {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.send({ stop: true });
      await gone;
    },
  };
}

/** Launching Chromium and warming its pages, as a recycle does: `runs` times, in ms. */
async function relaunchCost(runs = 5): Promise<number[]> {
  const costs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const fresh = renderer(0, 0);
    const started = performance.now();
    await fresh.warmUp();
    costs.push(Math.round(performance.now() - started));
    await fresh.onApplicationShutdown();
  }
  return costs;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

export async function benchRecycle(renders = 1000, lifeCount = 3): Promise<RecycleBenchResult> {
  const defaults = new Environment();
  const recycleAfter = Number(process.env.RENDER_RECYCLE_AFTER ?? defaults.RENDER_RECYCLE_AFTER);
  const recycleRssMb = Number(process.env.RENDER_RECYCLE_RSS_MB ?? defaults.RENDER_RECYCLE_RSS_MB);
  const relaunchMs = await relaunchCost();
  const without = await startWorker(0, 0);
  const recycling = await startWorker(recycleAfter, recycleRssMb);
  try {
    const memory: RecycleBenchResult['memory'] = [];
    for (let done = 0; done <= renders; done += ROUND) {
      // The first row renders nothing: a fresh worker, warmed up.
      const count = done === 0 ? 0 : ROUND;
      const first = await without.round(count);
      memory.push({ renders: done, without: first, with: await recycling.round(count) });
      console.log(`Memory after ${done} renders:`, memory[memory.length - 1]);
    }

    // Each life holds one recycle's whole cost, and alternating short rounds share out the drift.
    const life = recycleAfter || 1000;
    await without.round(life / 2, false);
    await recycling.round(life / 2, false);
    const lives: RecycleBenchResult['throughput']['lives'] = [];
    for (let n = 0; n < lifeCount; n++) {
      const ms = { without: 0, with: 0 };
      for (let done = 0, turn = 0; done < life; done += ROUND, turn++) {
        const count = Math.min(ROUND, life - done);
        const sides = turn % 2 ? (['with', 'without'] as const) : (['without', 'with'] as const);
        for (const side of sides) {
          const sample = await (side === 'with' ? recycling : without).round(count, false);
          ms[side] += sample.ms;
        }
      }
      const [withoutPerMin, withPerMin] = [ms.without, ms.with].map((total) =>
        Math.round((life * 60_000) / total),
      );
      const ratio = Math.round((ms.without / ms.with) * 100) / 100;
      lives.push({ renders: life, withoutPerMin, withPerMin, ratio });
      // Memory at the end of the life, once the recycling worker is settled.
      const settled = { without: await without.round(0), with: await recycling.round(0) };
      memory.push({ renders: settled.without.renders, ...settled });
      console.log(`Throughput, life ${n + 1} of ${lifeCount}:`, lives[n], memory.at(-1));
    }
    return {
      recycleAfter,
      recycleRssMb,
      relaunchMs,
      memory,
      throughput: { lives, ratio: median(lives.map((each) => each.ratio)) },
    };
  } finally {
    await Promise.all([without.stop(), recycling.stop()]);
  }
}

/** The rows of the README's benchmark table: recycling against never, in the same run. */
export function recycleTableRows({
  recycleAfter,
  memory,
  throughput,
}: RecycleBenchResult): string[] {
  const at = [100, 500, 1000].filter((renders) => memory.some((row) => row.renders === renders));
  const mb = (side: 'with' | 'without') =>
    at
      .map((renders) => memory.find((row) => row.renders === renders)![side])
      .map((sample) => `${sample.workerRssMb} / ${sample.chromiumRssMb}`)
      .join('; ');
  const rates = (side: 'withPerMin' | 'withoutPerMin') =>
    median(throughput.lives.map((life) => life[side]));
  return [
    `| worker / Chromium RSS after ${at.map((n) => n.toLocaleString('en')).join(', ')} renders ` +
      `(MB), recycling every ${recycleAfter.toLocaleString('en')} | ${mb('with')} | ` +
      `${mb('without')} (never recycling, the same renders) | |`,
    `| ${recycleAfter.toLocaleString('en')} renders each, in alternating rounds of ${ROUND}, ` +
      `recycling once (reports/min; median of ${throughput.lives.length}) | ${rates('withPerMin')} | ` +
      `${rates('withoutPerMin')} (never recycling, the rounds between) | ${throughput.ratio} ` +
      `(each: ${throughput.lives.map((life) => life.ratio).join(', ')}) |`,
  ];
}

if (process.argv[2] === '--worker') {
  void worker(Number(process.argv[3]), Number(process.argv[4]));
} else if (require.main === module) {
  benchRecycle(Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 3))
    .then((result) => {
      console.log('Launch and warm-up of a fresh Chromium (ms):', result.relaunchMs);
      console.log(
        `Memory (MB), without recycling and with RENDER_RECYCLE_AFTER=${result.recycleAfter}, ` +
          `RENDER_RECYCLE_RSS_MB=${result.recycleRssMb}; Chromium RSS summed as ps counts it:`,
      );
      console.table(
        result.memory.map(({ renders, without, with: recycled }) => ({
          renders,
          'worker RSS': `${without.workerRssMb} / ${recycled.workerRssMb}`,
          'Chromium RSS': `${without.chromiumRssMb} / ${recycled.chromiumRssMb}`,
          'Chromium PSS': `${without.chromiumPssMb} / ${recycled.chromiumPssMb}`,
          recycles: recycled.recycles,
          'failed renders': without.failed + recycled.failed,
        })),
      );
      console.log(
        `Throughput (reports/min), ${result.recycleAfter} renders per worker in rounds of ${ROUND}:`,
      );
      console.table(result.throughput.lives);
      console.log(`Median ratio, with recycling / without: ${result.throughput.ratio}`);
      console.log(recycleTableRows(result).join('\n'));
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
