import { randomBytes } from 'node:crypto';

const DECIMAL = /^-?\d+(?:\.\d+)?$/;

/**
 * A JSON number written with exactly these digits. The payment guide shows amounts as JSON numbers in major units
 * (`"amount": 25.50`); going through `Number("25.50")` would print `25.5` and put a float between the ledger and the
 * wire, so the exact decimal string from `minorToDecimalString` is spliced into the JSON text instead.
 */
export class JsonDecimal {
  constructor(readonly text: string) {
    if (!DECIMAL.test(text)) {
      throw new RangeError(`Not a plain decimal: ${text}`);
    }
  }
}

/**
 * `JSON.stringify` that writes every `JsonDecimal` as a bare number with its exact digits. Each decimal first becomes
 * a string tagged with a random per-call nonce, then the quoted tag is replaced by the digits; because the nonce is
 * unguessable, no client-supplied string (a reason, a description) can be turned into a number.
 * (`JSON.rawJSON` would do this natively, but Node 20's V8 does not ship it.)
 */
export function stringifyExact(value: unknown): string {
  const nonce = `~${randomBytes(12).toString('hex')}~`;
  const json = JSON.stringify(value, (_key, item: unknown) =>
    item instanceof JsonDecimal ? `${nonce}${item.text}` : item,
  );
  return json.replace(new RegExp(`"${nonce}(-?\\d+(?:\\.\\d+)?)"`, 'g'), '$1');
}
