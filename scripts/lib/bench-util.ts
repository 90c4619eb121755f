/**
 * What the benchmark scripts share besides their output contract (bench-row.ts): the machine's load, medians, a
 * short-lived `pg` client and a light HTTP client.
 */
import http from 'node:http';
import { loadavg } from 'node:os';
import { Client } from 'pg';

/** The machine's three load averages (`1.84, 0.77, 0.30`), printed beside figures taken on a shared machine. */
export function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
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

/**
 * One POST of a JSON payload on node:http with `agent` (keep-alive: lighter than fetch, so the servers, not the
 * client, dominate the figures); answers the status and, unless `body: false`, the body.
 */
export function postJson(
  agent: http.Agent,
  url: string,
  payload: string,
  headers: Record<string, string>,
  options: { body?: boolean } = {},
): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      },
      (res) => {
        if (options.body === false) {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: '' }));
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
