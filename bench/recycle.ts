/**
 * Chromium over many renders: worker and Chromium RSS after 100, 200, … consecutive renders, and
 * what a relaunch costs (launch and page warm-up). Measures, never passes or fails. Run:
 *   bash scripts/with-env.sh node -r ts-node/register/transpile-only bench/recycle.ts [renders]
 * Each worker is a child process of its own, so that its RSS and its Chromium's are its alone.
 */
import 'reflect-metadata';
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { PdfRenderer } from '../src/reports/rendering/pdf-renderer.service';
import { memorySink } from '../src/reports/rendering/pdf-join';
import { buildReport, treeRssMb } from './render';

const ROUND = 100;
/** One render in LARGE_EVERY is of 1,000 orders, the others of 50: a typical mix. */
const LARGE_EVERY = 20;

interface RoundResult {
  renders: number;
  ms: number;
  failed: number;
  workerRssMb: number;
  chromiumRssMb: number;
  /** What Chromium's processes use without counting shared pages once per process. */
  chromiumPssMb: number;
  chromiumAnonMb: number;
  chromiumProcesses: number;
  restarts: number;
}

/** Every descendant of `pid`, from the kernel's lists of each thread's children. */
function descendants(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const thread of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${thread}/children`, 'utf8');
      children.push(...list.split(' ').filter(Boolean).map(Number));
    }
  } catch {
    // Gone meanwhile.
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/** Sums a /proc field (kB) over the processes, in MB; reading smaps_rollup costs ~2 ms a process. */
function sumMb(pids: number[], file: string, field: string): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(
        new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(
          readFileSync(`/proc/${pid}/${file}`, 'utf8'),
        )?.[1] ?? 0,
      );
    } catch {
      // Gone meanwhile.
    }
  }
  return Math.round(kb / 1024);
}

function renderer(): PdfRenderer {
  return new PdfRenderer({
    executablePath: process.env.PUPPETEER_EXECUTABLE_PATH ?? '/usr/bin/chromium',
    concurrency: Number(process.env.RENDER_CONCURRENCY ?? 2),
    timeoutMs: 120_000,
    attempts: 1,
    rowsPerPage: 40,
    rowsPerPart: 1000,
    recycleAfter: 0,
    recycleRssMb: 0,
  });
}

/** The child: renders rounds of ROUND reports as a worker does, RENDER_CONCURRENCY at a time. */
async function worker(): Promise<void> {
  const pdfRenderer = renderer();
  await pdfRenderer.warmUp();
  const small = buildReport(50, 40, 1000).finish();
  const large = buildReport(1000, 40, 1000).finish();
  const lanes = Number(process.env.RENDER_CONCURRENCY ?? 2);
  let renders = 0;
  process.on('message', (message: { renders: number; stop?: boolean }) => {
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
              await pdfRenderer.render(
                i % LARGE_EVERY === LARGE_EVERY - 1 ? large : small,
                output.sink,
              );
              if (output.pdf().subarray(0, 5).toString() !== '%PDF-') failed += 1;
            } catch {
              failed += 1;
            }
          }
        }),
      );
      const ms = performance.now() - started;
      renders += message.renders;
      const tree = treeRssMb(process.pid);
      const result: RoundResult = {
        renders,
        ms,
        failed,
        workerRssMb: tree.processMb,
        chromiumRssMb: tree.descendantsMb,
        chromiumPssMb: sumMb(descendants(process.pid), 'smaps_rollup', 'Pss'),
        chromiumAnonMb: sumMb(descendants(process.pid), 'status', 'RssAnon'),
        chromiumProcesses: descendants(process.pid).length,
        restarts: pdfRenderer.restarts,
      };
      process.send!(result);
    })();
  });
  process.send!({ ready: true });
}

/** A worker process: `round()` renders the next ROUND reports and answers what it measured. */
function startWorker() {
  const child = fork(__filename, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const nextMessage = <T>() =>
    new Promise<T>((resolve, reject) => {
      child.once('message', (message) => resolve(message as T));
      child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
  return {
    ready: nextMessage<{ ready: true }>(),
    round(renders = ROUND) {
      const answer = nextMessage<RoundResult>();
      child.send({ renders });
      return answer;
    },
    async stop() {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.send({ stop: true });
      await gone;
    },
  };
}

/** Launching Chromium and warming its pages, as a relaunch does: `runs` times, in ms. */
async function relaunchCost(runs = 5): Promise<number[]> {
  const costs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const fresh = renderer();
    const started = performance.now();
    await fresh.warmUp();
    costs.push(Math.round(performance.now() - started));
    await fresh.onApplicationShutdown();
  }
  return costs;
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 1000);
  console.log('Launch and warm-up of a fresh Chromium (ms):', await relaunchCost());
  const plain = startWorker();
  await plain.ready;
  const rows = [];
  try {
    for (let done = -ROUND; done < total; done += ROUND) {
      // The first round renders nothing: the memory of a fresh, warmed-up worker.
      const round = await plain.round(done < 0 ? 0 : ROUND);
      rows.push({
        renders: round.renders,
        'reports/min': round.renders ? Math.round((ROUND * 60_000) / round.ms) : undefined,
        failed: round.failed,
        'worker RSS MB': round.workerRssMb,
        'Chromium RSS MB': round.chromiumRssMb,
        'Chromium PSS MB': round.chromiumPssMb,
        'Chromium anon MB': round.chromiumAnonMb,
        processes: round.chromiumProcesses,
        restarts: round.restarts,
      });
      console.log(rows[rows.length - 1]);
    }
  } finally {
    await plain.stop();
  }
  console.log(`Without recycling, ${ROUND} renders a round (1 in ${LARGE_EVERY} of 1,000 orders):`);
  console.table(rows);
}

if (process.argv.includes('--worker')) {
  void worker();
} else if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
