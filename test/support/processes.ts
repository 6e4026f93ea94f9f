import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { testEnvironment } from './env';

/**
 * A worker as production runs it: `node dist/main.js` with APP_ROLE=worker, in its own process
 * group, so that killing the group takes its Chromium down with it, as a machine crash would.
 */
export function spawnWorker(overrides: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'main.js')], {
    env: {
      ...process.env,
      ...testEnvironment(),
      APP_ROLE: 'worker',
      PORT: '0', // a worker listens for /health and /metrics: any free port
      LOG_LEVEL: 'warn',
      ...overrides,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** How the process ended: its exit code, or the signal that ended it. */
export function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}
