/**
 * The requests the `stripe` SDK sends, replayed without it: a lean keep-alive HTTP/1.1 client for benchmarks whose
 * server, not the client, must be the bottleneck (bench-emulator.ts).
 *
 * The requests are not written by hand: `captureRequests` runs a call sequence through the real SDK against a
 * recording server, once, with marker ids, and keeps each request's method, path, headers and form body as a template
 * (User-Agent, X-Stripe-Client-User-Agent, Stripe-Version, Authorization, Content-Type, Idempotency-Key…). A replay
 * fills in the markers (the ids the emulator returned, the cycle's tag) and gives every POST that carried the SDK's
 * automatic `stripe-node-retry-<uuid>` key a fresh one, as the SDK does.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** Marker values a captured call sequence uses, replaced on replay. */
export const MARKERS = { customer: 'cus_QQCUSQQ', invoice: 'in_QQINVQQ', tag: 'QQTAGQQ' } as const;
export type MarkerValues = Record<keyof typeof MARKERS, string>;

/** One request as the SDK sent it, with markers still in place. */
export interface RequestTemplate {
  method: string;
  path: string;
  /** Header lines as sent (`Name: value\r\n`…), without Host, Connection and Content-Length. */
  headers: string;
  body: string;
  /** The SDK gave it an automatic `stripe-node-retry-…` Idempotency-Key (a fresh one per replay). */
  freshKey: boolean;
  /** It sent Content-Length (POSTs, even with an empty body). */
  contentLength: boolean;
}

const SKIPPED_HEADERS = new Set(['host', 'connection', 'content-length', 'idempotency-key']);
const AUTO_KEY = /^stripe-node-retry-/;

/**
 * Runs `calls` (SDK calls against `http://host:port`) against a recording server and returns the requests they made,
 * in order. The server answers each POST to /v1/customers or /v1/invoices with the marker id, anything else `{}`.
 */
export async function captureRequests(
  calls: (host: string, port: number) => Promise<void>,
): Promise<RequestTemplate[]> {
  const templates: RequestTemplate[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let headers = '';
      let freshKey = false;
      let contentLength = false;
      let explicitKey: string | null = null;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        const value = req.rawHeaders[i + 1];
        const lower = name.toLowerCase();
        if (lower === 'content-length') {
          contentLength = true;
        }
        if (lower === 'idempotency-key') {
          if (AUTO_KEY.test(value)) {
            freshKey = true;
          } else {
            explicitKey = `${name}: ${value}\r\n`;
          }
        }
        if (!SKIPPED_HEADERS.has(lower)) {
          headers += `${name}: ${value}\r\n`;
        }
      }
      templates.push({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: headers + (explicitKey ?? ''),
        body: Buffer.concat(chunks).toString('utf8'),
        freshKey,
        contentLength,
      });
      const id =
        req.method === 'POST' && req.url === '/v1/customers'
          ? MARKERS.customer
          : req.method === 'POST' && req.url === '/v1/invoices'
            ? MARKERS.invoice
            : undefined;
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Request-Id', 'req_capture');
      res.end(JSON.stringify(id ? { id } : {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await calls('127.0.0.1', (server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return templates;
}

/** A template cut at its markers (pieces equal to a marker value are filled in by `fill`). */
export interface CompiledRequest {
  head: string[];
  body: string[];
  freshKey: boolean;
  contentLength: boolean;
}

const MARKER_RE = new RegExp(`(${Object.values(MARKERS).join('|')})`);
const MARKER_NAME = new Map(Object.entries(MARKERS).map(([k, v]) => [v as string, k as keyof MarkerValues]));

const cut = (text: string): string[] => text.split(MARKER_RE).filter((part) => part !== '');

/** A template ready to fill; `Host` is the emulator's. */
export function compile(template: RequestTemplate, host: string): CompiledRequest {
  return {
    head: cut(`${template.method} ${template.path} HTTP/1.1\r\nHost: ${host}\r\n${template.headers}`),
    body: cut(template.body),
    freshKey: template.freshKey,
    contentLength: template.contentLength,
  };
}

function join(parts: string[], values: MarkerValues): string {
  let out = '';
  for (const part of parts) {
    const marker = MARKER_NAME.get(part);
    out += marker ? values[marker] : part;
  }
  return out;
}

/** The request's bytes, markers filled, with a fresh automatic key when the SDK would send one. */
export function fill(request: CompiledRequest, values: MarkerValues): string {
  const body = join(request.body, values);
  let head = join(request.head, values);
  if (request.freshKey) {
    head += `Idempotency-Key: stripe-node-retry-${randomUUID()}\r\n`;
  }
  if (request.contentLength) {
    head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  }
  return `${head}\r\n${body}`;
}

/**
 * One keep-alive HTTP/1.1 connection, one request at a time. Answers must carry Content-Length (the emulator's /v1
 * answers do); the body is returned as text only when asked for.
 */
export class LeanConnection {
  private readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: {
    resolve: (answer: { status: number; body: string | null }) => void;
    reject: (e: Error) => void;
    wantBody: boolean;
  } | null = null;
  private failure: Error | null = null;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    const fail = (e: Error): void => {
      this.failure = e;
      this.waiting?.reject(e);
      this.waiting = null;
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  send(bytes: string, wantBody: boolean): Promise<{ status: number; body: string | null }> {
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject, wantBody };
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end === -1 || !this.waiting) {
      return;
    }
    const head = this.buffer.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.waiting.reject(new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`));
      this.waiting = null;
      this.socket.destroy();
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.buffer.length < total) {
      return;
    }
    const status = Number(head.slice(9, 12));
    const body = this.waiting.wantBody ? this.buffer.toString('utf8', end + 4, total) : null;
    this.buffer = this.buffer.subarray(total);
    const { resolve } = this.waiting;
    this.waiting = null;
    resolve({ status, body });
  }
}
