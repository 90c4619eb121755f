import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../config/logger';
import type { TokenVerifier } from '../services/customers/auth.service';
import { discardRefusedBody } from '../lib/refused-body';
import type { Caller } from '../services/customers/caller';
import { authenticate } from './authenticate';
import type { HttpResult } from './http-errors';
import { errorResult, sendResult } from './http-errors';
import type { RestInput } from './request-validation';
import { requestValidator } from './request-validation';

/**
 * Every REST route's frame: the Bearer token first (a caller without one learns nothing about body rules and costs
 * no parsing), then the JSON body if the route takes one, then the request's parameters and body validated against
 * the route's operation in the OpenAPI document (`request-validation.ts`), then the handler with what was validated;
 * whatever it throws becomes the one error body (`http-errors.ts`).
 */
export function restRoute(
  verify: TokenVerifier,
  operationId: string,
  handler: (input: RestInput, caller: Caller) => Promise<HttpResult>,
  options: { parseJson?: RequestHandler } = {},
) {
  const { parseJson } = options;
  // Looked up now, so a route naming an operation the document lacks fails at startup.
  const validate = requestValidator(operationId);
  return async (req: Request, res: Response): Promise<void> => {
    let result: HttpResult;
    let caller: Caller;
    try {
      caller = await authenticate(verify, req.headers.authorization);
    } catch (error) {
      // Answered before the body is read; what follows is discarded unparsed.
      discardRefusedBody(req);
      sendResult(res, errorResult(error, res.locals.log as Logger | undefined));
      return;
    }
    try {
      if (parseJson) {
        await new Promise<void>((resolve, reject) => {
          parseJson(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
        });
      }
      result = await handler(validate(req), caller);
    } catch (error) {
      result = errorResult(error, res.locals.log as Logger | undefined);
    }
    sendResult(res, result);
  };
}
