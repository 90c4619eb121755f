import { GraphQLError, Kind } from 'graphql';
import type {
  ASTVisitor,
  FragmentDefinitionNode,
  OperationDefinitionNode,
  SelectionSetNode,
  ValidationContext,
  ValidationRule,
} from 'graphql';

export interface OperationLimits {
  /** Deepest field nesting. */
  maxDepth: number;
  /** Aliased fields in one operation (aliases multiply work on a single request). */
  maxAliases: number;
  /** Field selections after fragment expansion: a proxy for the work one operation may ask for. */
  maxCost: number;
}

export const DEFAULT_LIMITS: OperationLimits = { maxDepth: 12, maxAliases: 30, maxCost: 2000 };

/** Lexer tokens per document; parsing stops past this, before any validation work. */
export const MAX_TOKENS = 5000;

/**
 * Characters per document, refused before it is hashed or lexed: 5,000 tokens and a few free-text literals fit many
 * times over (bulk data goes in variables), while lexing a 10 MB string literal held the event loop for a second.
 */
export const MAX_DOCUMENT_LENGTH = 100_000;

/**
 * Arrays and objects inside one another in a request's JSON (a body, GraphQL variables, a connection_init payload):
 * refused beyond this before anything recursive reads them (`src/lib/json-depth.ts`). A few thousand levels overflowed
 * the stack of JSON.parse's reviver and JSON.stringify (a WebSocket closed 4500); no request of ours needs 10.
 */
export const MAX_JSON_DEPTH = 64;

export const JSON_TOO_DEEP_MESSAGE = `JSON may nest arrays and objects at most ${MAX_JSON_DEPTH} levels deep`;

export const DOCUMENT_TOO_LONG_MESSAGE = `A GraphQL document may be at most ${MAX_DOCUMENT_LENGTH} characters; send data in variables`;

interface Measure {
  /** Levels of nested selection sets below this one (0: only leaf fields). */
  depth: number;
  aliases: number;
  cost: number;
}

/**
 * Measures a selection set with fragments expanded. Each fragment is measured once and its figures reused wherever
 * it is spread (its measure does not depend on where it is used), so a "fragment bomb" — each fragment spreading
 * the previous one twice — costs linear time to measure while its expanded cost grows past any limit.
 */
function measure(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  memo: Map<string, Measure>,
  visiting: Set<string>,
): Measure {
  const total: Measure = { depth: 0, aliases: 0, cost: 0 };
  for (const selection of selectionSet.selections) {
    let inner: Measure | undefined;
    if (selection.kind === Kind.FIELD) {
      total.cost += 1;
      if (selection.alias) {
        total.aliases += 1;
      }
      if (selection.selectionSet) {
        const child = measure(selection.selectionSet, fragments, memo, visiting);
        // Introspection's `ofType` is a chain, one object per level of a type's wrapping (`[Int!]!`), never a fan-out:
        // its levels cost fields but no depth, so the standard introspection query (GraphiQL's, codegen's: ofType
        // nested 7 deep) fits the depth limit.
        inner = { ...child, depth: child.depth + (selection.name.value === 'ofType' ? 0 : 1) };
      }
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      inner = measure(selection.selectionSet, fragments, memo, visiting);
    } else {
      const name = selection.name.value;
      const fragment = fragments[name];
      // Unknown or cyclic fragments are reported by graphql's own rules.
      if (fragment && !visiting.has(name)) {
        inner = memo.get(name);
        if (!inner) {
          visiting.add(name);
          inner = measure(fragment.selectionSet, fragments, memo, visiting);
          visiting.delete(name);
          memo.set(name, inner);
        }
      }
    }
    if (inner) {
      total.depth = Math.max(total.depth, inner.depth);
      total.aliases += inner.aliases;
      total.cost += inner.cost;
    }
  }
  return total;
}

/** One validation rule enforcing depth, alias and cost limits per operation. */
export function operationLimitsRule(limits: OperationLimits = DEFAULT_LIMITS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        fragments[definition.name.value] = definition;
      }
    }
    return {
      OperationDefinition(node: OperationDefinitionNode) {
        const measured = measure(node.selectionSet, fragments, new Map(), new Set());
        const m = { ...measured, depth: measured.depth + 1 };
        const name = node.name?.value ?? 'anonymous';
        const report = (what: string, value: number, max: number): void => {
          context.reportError(
            new GraphQLError(`Operation "${name}" exceeds the ${what} limit: ${value} > ${max}`, {
              nodes: [node],
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: what },
            }),
          );
        };
        if (m.depth > limits.maxDepth) {
          report('depth', m.depth, limits.maxDepth);
        }
        if (m.aliases > limits.maxAliases) {
          report('alias', m.aliases, limits.maxAliases);
        }
        if (m.cost > limits.maxCost) {
          report('cost', m.cost, limits.maxCost);
        }
      },
    };
  };
}
