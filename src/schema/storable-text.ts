import { GraphQLError } from 'graphql';
import type { ASTVisitor, ValidationContext, ValidationRule } from 'graphql';

/** A NUL, or a UTF-16 surrogate without its pair: PostgreSQL text cannot hold the first, UTF-8 cannot encode the second. */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const UNSTORABLE_TEXT_MESSAGE =
  'Text must not contain NUL characters (\\u0000) or unpaired UTF-16 surrogates; they cannot be stored';

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** The path of the first string (or object key) in `value` that cannot be stored, or null. */
export function findUnstorableText(value: unknown, path = '$'): string | null {
  if (typeof value === 'string') {
    return isStorableText(value) ? null : path;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = findUnstorableText(value[i], `${path}[${i}]`);
      if (found) {
        return found;
      }
    }
    return null;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const keyPath = `${path}.${key}`;
      if (!isStorableText(key)) {
        return keyPath;
      }
      const found = findUnstorableText(item, keyPath);
      if (found) {
        return found;
      }
    }
  }
  return null;
}

/**
 * A JSON.parse reviver for request bodies: refuses unstorable text while parsing, so every JSON route answers 400
 * with the reason before any work starts (a NUL reaching the database used to fail half-way with a 500).
 */
export function storableJsonReviver(key: string, value: unknown): unknown {
  if ((typeof value === 'string' && !isStorableText(value)) || !isStorableText(key)) {
    throw new SyntaxError(UNSTORABLE_TEXT_MESSAGE);
  }
  return value;
}

/** GraphQL string literals (`"a\u0000b"` in the document) are held to the same rule as JSON bodies. */
export function storableTextRule(): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    StringValue(node) {
      if (!isStorableText(node.value)) {
        context.reportError(new GraphQLError(UNSTORABLE_TEXT_MESSAGE, { nodes: [node] }));
      }
    },
  });
}

/** GraphQL variables (already parsed by the transport) held to the same rule: the error to answer, or null. */
export function unstorableVariablesError(variables: unknown): GraphQLError | null {
  const path = findUnstorableText(variables ?? {}, '$variables');
  return path
    ? new GraphQLError(`${path}: ${UNSTORABLE_TEXT_MESSAGE}`, {
        extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
      })
    : null;
}
