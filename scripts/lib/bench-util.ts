/**
 * What the benchmark scripts share besides their output contract (bench-row.ts): the machine's load, medians, and a
 * short-lived `pg` client.
 */
import { execFileSync } from 'node:child_process';
import { Client } from 'pg';

/** `uptime`'s three load averages (`1.84, 0.77, 0.30`), or `unknown`: printed beside figures taken on a shared machine. */
export function loadAverage(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' })
      .trim()
      .replace(/^.*load average: /, '');
  } catch {
    return 'unknown';
  }
}

/** The median (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `fn` with a connected client on `url`, closed afterwards. */
export async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
