import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../config/logger';
import type { TokenVerifier } from '../services/customers/auth.service';
import type { Caller } from '../services/customers/caller';
import { authenticate } from './authenticate';
import type { HttpResult } from './http-errors';
import { errorResult, sendResult } from './http-errors';

/**
 * Every REST route's frame: the Bearer token first (a caller without one learns nothing about body rules and costs
 * no parsing), then the JSON body if the route takes one, then the handler; whatever it throws becomes the one
 * error body (`http-errors.ts`).
 */
export function restRoute(
  verify: TokenVerifier,
  handler: (req: Request, caller: Caller) => Promise<HttpResult>,
  options: { parseJson?: RequestHandler } = {},
) {
  const { parseJson } = options;
  return async (req: Request, res: Response): Promise<void> => {
    let result: HttpResult;
    try {
      const caller = await authenticate(verify, req.headers.authorization);
      if (parseJson) {
        await new Promise<void>((resolve, reject) => {
          parseJson(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
        });
      }
      result = await handler(req, caller);
    } catch (error) {
      result = errorResult(error, res.locals.log as Logger | undefined);
    }
    sendResult(res, result);
  };
}
