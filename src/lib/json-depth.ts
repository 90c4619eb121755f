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

/**
 * True when the JSON text in `bytes` (UTF-8: no byte of a multi-byte character is ASCII) opens more than `max`
 * arrays or objects inside one another. Brackets inside strings do not count. Text that is not JSON gives some
 * answer; the parser that follows refuses it anyway.
 */
export function jsonTextNestsDeeper(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i += 1) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) {
        i += 1;
      } else if (byte === QUOTE) {
        inString = false;
      }
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      depth += 1;
      if (depth > max) {
        return true;
      }
    } else if (byte === CLOSE_BRACKET || byte === CLOSE_BRACE) {
      depth -= 1;
    }
  }
  return false;
}

/** True when `value` (parsed JSON, or any plain data) has arrays or objects nested more than `max` deep. */
export function valueNestsDeeper(value: unknown, max: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (current === null || typeof current !== 'object') {
      continue;
    }
    if (depth + 1 > max) {
      return true;
    }
    for (const item of Array.isArray(current) ? current : Object.values(current)) {
      stack.push({ value: item, depth: depth + 1 });
    }
  }
  return false;
}
