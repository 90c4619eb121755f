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

interface Measure {
  depth: number;
  aliases: number;
  cost: number;
}

function measure(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  depth: number,
  visiting: Set<string>,
): Measure {
  const total: Measure = { depth, aliases: 0, cost: 0 };
  for (const selection of selectionSet.selections) {
    let inner: Measure | undefined;
    if (selection.kind === Kind.FIELD) {
      total.cost += 1;
      if (selection.alias) {
        total.aliases += 1;
      }
      if (selection.selectionSet) {
        inner = measure(selection.selectionSet, fragments, depth + 1, visiting);
      }
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      inner = measure(selection.selectionSet, fragments, depth, visiting);
    } else {
      const fragment = fragments[selection.name.value];
      // Unknown or cyclic fragments are reported by graphql's own rules.
      if (fragment && !visiting.has(fragment.name.value)) {
        visiting.add(fragment.name.value);
        inner = measure(fragment.selectionSet, fragments, depth, visiting);
        visiting.delete(fragment.name.value);
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
        const m = measure(node.selectionSet, fragments, 1, new Set());
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
