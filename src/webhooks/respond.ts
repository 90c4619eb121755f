import { errorBody } from '../http/http-errors';
import type { ServerResponse } from 'node:http';

/** Writes a JSON response with plain node calls (the webhook lane does not go through Express). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The error shape of every REST route (`http-errors.ts`), written with plain node calls. */
export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, errorBody(code, message));
}
