import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../config/logger';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export interface RequestContext {
  requestId: string;
  /** A child logger carrying the request id, made on first use (most requests never log). */
  readonly log: Logger;
}

/**
 * The start of every HTTP request, whichever handler serves it: takes a well-formed `X-Request-Id` or makes one,
 * echoes it, and writes one structured log line (method, path, status, duration) when the response finishes.
 * Plain node types, so the Express app and the webhook lane that runs ahead of it share it.
 */
export function beginRequest(req: IncomingMessage, res: ServerResponse, logger: Logger): RequestContext {
  const incoming = req.headers['x-request-id'];
  const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  let log: Logger | undefined;
  const context: RequestContext = {
    requestId,
    get log() {
      return (log ??= logger.child({ requestId }));
    },
  };
  res.setHeader('X-Request-Id', requestId);
  if (logger.isLevelEnabled('info')) {
    const started = process.hrtime.bigint();
    // Read now: a mounted Express router rewrites req.url while it handles the request.
    const url = req.url ?? '/';
    res.on('finish', () => {
      context.log.info(
        {
          method: req.method,
          path: url.split('?')[0],
          status: res.statusCode,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request',
      );
    });
  }
  return context;
}
