import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { TokenVerifier } from '../services/customers/auth.service';
import { discardRefusedBody } from '../lib/refused-body';
import { DomainError } from '../services/shared/errors';
import { authenticateStream } from './stream-auth';
import type { StreamIdentity } from './stream-auth';

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
      discardRefusedBody(req);
      res.status(401).json({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] });
      return;
    }
    next();
  };
}
