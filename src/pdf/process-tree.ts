import { readdirSync, readFileSync } from 'node:fs';

/** A process and all its descendants, from the kernel's lists of each thread's children. */
export function processTree(pid: number): number[] {
  const children: number[] = [];
  try {
    // Chromium starts some helpers from other threads than its main one: read every thread's list.
    for (const thread of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${thread}/children`, 'utf8');
      children.push(...list.split(' ').filter(Boolean).map(Number));
    }
  } catch {
    // It ended while we looked.
  }
  return [pid, ...children.flatMap(processTree)];
}

/**
 * The resident memory of a process and its descendants, summed (as `ps` shows each: pages shared
 * between them count once per process), in MB; 0 when it is not running or /proc is not Linux's.
 * Measured: ~2 ms for a browser and its ten helpers.
 */
export function processTreeRssMb(pid: number | undefined): number {
  if (!pid) return 0;
  let kb = 0;
  for (const member of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${member}/status`, 'utf8');
      kb += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // It ended while we looked.
    }
  }
  return Math.round(kb / 1024);
}
