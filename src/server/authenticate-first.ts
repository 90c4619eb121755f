import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { TokenVerifier } from '../services/customers/auth.service';
import { DomainError } from '../services/shared/errors';
import { authenticateStream } from './stream-auth';
import type { StreamIdentity } from './stream-auth';

/**
 * What an anonymous request's body may be and still be drained (keeping the connection): enough for nothing but its
 * 401. A larger body, or one of unknown length (chunked), is never parsed: the answer closes the connection.
 */
export const ANONYMOUS_BODY_LIMIT_BYTES = 1024;

/**
 * How much of a refused body is discarded, unparsed, while the answer leaves: closing a connection with unread data
 * resets it, and the client may then lose the 401 it was sent (seen as EPIPE in a client still uploading). Beyond this
 * the socket is dropped.
 */
const LINGER_LIMIT_BYTES = 32 * 1024 * 1024;

/** Answering before the body is read: a body beyond the anonymous cap is discarded unparsed, the connection closes. */
export function closeUnlessSmallBody(req: IncomingMessage, res: ServerResponse): void {
  const declared = req.headers['content-length'];
  const small =
    req.headers['transfer-encoding'] === undefined &&
    (declared === undefined || Number(declared) <= ANONYMOUS_BODY_LIMIT_BYTES);
  if (!small && !res.headersSent) {
    res.setHeader('connection', 'close');
    let discarded = 0;
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_LIMIT_BYTES) {
        req.socket.destroy();
      }
    });
  }
}

/** The caller behind a GraphQL request, set by `authenticateFirst`. */
export function identityOf(res: Response): StreamIdentity {
  const identity = res.locals.identity as StreamIdentity | undefined;
  if (!identity) {
    throw new Error('authenticateFirst must run before this handler');
  }
  return identity;
}

/**
 * Authenticate, then read: the Bearer token is verified from the headers before any body parser runs, so an anonymous
 * request costs no parsing whatever it sends (an unauthenticated 15.7 MB body used to be parsed in full before its
 * 401). The refusal is the GraphQL error shape `POST /graphql` always answered: HTTP 401, code UNAUTHENTICATED.
 */
export function authenticateFirst(verify: TokenVerifier): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      res.locals.identity = await authenticateStream(verify, req.headers.authorization);
    } catch (error) {
      const message = error instanceof DomainError ? error.message : 'Unauthenticated';
      closeUnlessSmallBody(req, res);
      res.status(401).json({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] });
      return;
    }
    next();
  };
}
