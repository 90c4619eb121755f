import express from 'express';
import type { RequestHandler } from 'express';
import { jsonTextNestsDeeper } from '../lib/json-depth';
import { JSON_TOO_DEEP_MESSAGE, MAX_JSON_DEPTH } from '../schema/limits';
import { storableJsonReviver } from '../schema/storable-text';

/** body-parser's error `type` for a body refused by `refuseDeepJson` (`http-errors.ts` maps it to 400). */
export const JSON_TOO_DEEP = 'entity.too.deep';

/**
 * body-parser's `verify` hook (the raw body, before JSON.parse): a body nesting deeper than MAX_JSON_DEPTH is refused
 * before the parser's reviver, which recurses, and everything after it.
 */
function refuseDeepJson(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  let bytes: Uint8Array = body;
  if (!/^utf-?8$/i.test(encoding)) {
    try {
      bytes = Buffer.from(new TextDecoder(encoding).decode(body));
    } catch {
      // A charset no decoder knows: body-parser refuses it itself (415).
      return;
    }
  }
  if (jsonTextNestsDeeper(bytes, MAX_JSON_DEPTH)) {
    throw Object.assign(new Error(JSON_TOO_DEEP_MESSAGE), { status: 400, type: JSON_TOO_DEEP });
  }
}

/**
 * The one JSON body parser of every route that takes JSON (REST, GraphQL over HTTP and SSE): at most `limit` bytes,
 * no text PostgreSQL cannot store (`storableJsonReviver`), at most MAX_JSON_DEPTH levels of nesting.
 */
export function jsonBody(limit: string | number): RequestHandler {
  return express.json({ limit, reviver: storableJsonReviver, verify: refuseDeepJson });
}
