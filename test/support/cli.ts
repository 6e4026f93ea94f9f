import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { testEnvironment } from './env';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/cli.js ...args` as an operator runs it, against the suite's database. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'cli.js'), ...args], {
    env: { ...process.env, ...testEnvironment(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Exactly one JSON document on stdout. */
export function document(run: Run): Record<string, unknown> {
  expect(run.stdout.endsWith('\n')).toBe(true);
  expect(run.stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}
