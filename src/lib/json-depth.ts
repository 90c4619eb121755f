/**
 * How deeply JSON nests, measured without recursion. Parsing deep JSON is cheap, but everything recursive after it
 * is not: a JSON.parse reviver, JSON.stringify, a walk over the value, PostgreSQL's jsonb input. A few thousand
 * levels (`[[[[…]]]]`, 10 KB) overflowed the stack in those, so callers refuse more than a small depth before any
 * of them runs.
 */

const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** What each byte means outside a string: nothing (0), a string's start, an opening or a closing bracket. */
const STRING = 1;
const OPEN = 2;
const CLOSE = 3;
const KIND = new Uint8Array(256);
KIND[QUOTE] = STRING;
KIND[OPEN_BRACKET] = OPEN;
KIND[OPEN_BRACE] = OPEN;
KIND[CLOSE_BRACKET] = CLOSE;
KIND[CLOSE_BRACE] = CLOSE;

/**
 * True when the JSON text in `bytes` (UTF-8: no byte of a multi-byte character is ASCII) opens more than `max`
 * arrays or objects inside one another. Brackets inside strings do not count. Text that is not JSON gives some
 * answer; the parser that follows refuses it anyway. A string is skipped with a native search for its closing quote,
 * so a 16 MB usage batch (mostly strings) is scanned in a fraction of JSON.parse's time.
 */
export function jsonTextNestsDeeper(bytes: Uint8Array, max: number): boolean {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let depth = 0;
  const length = buffer.length;
  for (let i = 0; i < length; i += 1) {
    const kind = KIND[buffer[i]];
    if (kind === 0) {
      continue;
    }
    if (kind === STRING) {
      i = closingQuote(buffer, i + 1);
      if (i < 0) {
        return false;
      }
    } else if (kind === OPEN) {
      depth += 1;
      if (depth > max) {
        return true;
      }
    } else {
      depth -= 1;
    }
  }
  return false;
}

/** The index of the quote that closes a string starting at `from` (after its opening quote), or -1. */
function closingQuote(buffer: Buffer, from: number): number {
  let at = buffer.indexOf(QUOTE, from);
  while (at >= 0) {
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0;
    while (at - 1 - backslashes >= from && buffer[at - 1 - backslashes] === BACKSLASH) {
      backslashes += 1;
    }
    if (backslashes % 2 === 0) {
      return at;
    }
    at = buffer.indexOf(QUOTE, at + 1);
  }
  return -1;
}

/** True when `value` (parsed JSON, or any plain data) has arrays or objects nested more than `max` deep. */
export function valueNestsDeeper(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') {
    return false;
  }
  // Containers only, each with its depth (1 for `value`); texts and numbers are never visited.
  const containers: object[] = [value];
  const depths: number[] = [1];
  while (containers.length > 0) {
    const container = containers.pop() as object;
    const depth = depths.pop() as number;
    if (depth > max) {
      return true;
    }
    const items = Array.isArray(container) ? (container as unknown[]) : Object.values(container);
    for (const item of items) {
      if (item !== null && typeof item === 'object') {
        containers.push(item);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
