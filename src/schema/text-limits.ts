import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isInputObjectType,
  isListType,
  typeFromAST,
  visit,
} from 'graphql';
import type {
  ASTNode,
  ASTVisitor,
  DocumentNode,
  GraphQLInputType,
  GraphQLSchema,
  ValidationContext,
  ValidationRule,
  ValueNode,
} from 'graphql';

/**
 * The longest string any GraphQL argument or input field may carry, in characters (`GRAPHQL_MAX_*_LENGTH`). Without
 * a bound a 10 MB `userId` reached the database (the server froze for seconds) and came back in the error message.
 */
export interface TextLimits {
  /** Ids, codes, periods, currencies, cursors, keys, dates: every string not named below. */
  short: number;
  /** Free text: the arguments and input fields named in LONG_TEXT_NAMES. */
  long: number;
  /** Each string inside a JSON value (`metadata`), and each of its keys at most `short`. */
  jsonValue: number;
}

/** Arguments and input fields holding free text; every other string is an id-like short one. */
export const LONG_TEXT_NAMES: ReadonlySet<string> = new Set(['reason', 'description', 'name', 'message']);

const JSON_SCALARS: ReadonlySet<string> = new Set(['JSONObject', 'JSON']);

/** A refused string: where, how long, and the bound (never the text itself). */
interface TooLong {
  where: string;
  length: number;
  max: number;
}

type Report = (tooLong: TooLong, node?: ASTNode) => void;

const message = ({ where, length, max }: TooLong): string =>
  `${where} is ${length} characters long; at most ${max} are accepted`;

function maxFor(limits: TextLimits, name: string): number {
  return LONG_TEXT_NAMES.has(name) ? limits.long : limits.short;
}

function isJson(type: GraphQLInputType | undefined): boolean {
  return type !== undefined && JSON_SCALARS.has(getNamedType(type).name);
}

/** Any literal inside a JSON value (or under a type the schema does not know): keys short, strings jsonValue. */
function checkJsonLiteral(node: ValueNode, where: string, limits: TextLimits, report: Report): void {
  if (node.kind === Kind.STRING && node.value.length > limits.jsonValue) {
    report({ where, length: node.value.length, max: limits.jsonValue }, node);
  } else if (node.kind === Kind.LIST) {
    node.values.forEach((item) => checkJsonLiteral(item, where, limits, report));
  } else if (node.kind === Kind.OBJECT) {
    for (const field of node.fields) {
      if (field.name.value.length > limits.short) {
        report({ where: `A key of ${where}`, length: field.name.value.length, max: limits.short }, field.name);
      }
      checkJsonLiteral(field.value, where, limits, report);
    }
  }
}

function checkLiteral(
  node: ValueNode,
  type: GraphQLInputType | undefined,
  name: string,
  limits: TextLimits,
  report: Report,
): void {
  const where = `"${name}"`;
  if (type === undefined || isJson(type)) {
    checkJsonLiteral(node, where, limits, report);
    return;
  }
  const nullable = getNullableType(type);
  if (node.kind === Kind.LIST) {
    const item = isListType(nullable) ? (nullable.ofType as GraphQLInputType) : type;
    node.values.forEach((value) => checkLiteral(value, item, name, limits, report));
  } else if (node.kind === Kind.OBJECT) {
    const fields = isInputObjectType(nullable) ? nullable.getFields() : {};
    for (const field of node.fields) {
      checkLiteral(field.value, fields[field.name.value]?.type, field.name.value, limits, report);
    }
  } else if (node.kind === Kind.STRING) {
    const max = maxFor(limits, name);
    if (node.value.length > max) {
      report({ where, length: node.value.length, max }, node);
    }
  }
}

/**
 * Every string literal of an operation within its bound: arguments (of fields and directives), input object fields
 * and variable defaults, by the name of the argument or field that holds it. Variables are checked by
 * `oversizedVariablesError` with the same bounds.
 */
export function textLengthRule(limits: TextLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const report: Report = (tooLong, node) =>
      context.reportError(
        new GraphQLError(message(tooLong), {
          nodes: node ? [node] : [],
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        }),
      );
    return {
      Argument(node) {
        checkLiteral(node.value, context.getArgument()?.type, node.name.value, limits, report);
        return false;
      },
      VariableDefinition(node) {
        if (node.defaultValue) {
          const type = typeFromAST(context.getSchema(), node.type) as GraphQLInputType | undefined;
          checkLiteral(node.defaultValue, type, node.variable.name.value, limits, report);
        }
        return false;
      },
    };
  };
}

/** The name of the argument or input field each variable fills (the shortest bound wins when it fills several). */
function variableNames(document: DocumentNode, limits: TextLimits): Map<string, string> {
  const names = new Map<string, string>();
  visit(document, {
    Variable(node, _key, parent, _path, ancestors) {
      if ((parent as ASTNode | undefined)?.kind === Kind.VARIABLE_DEFINITION) {
        return;
      }
      // `ancestors` stops short of the parent (the Argument or ObjectField holding the variable).
      const holder = [...ancestors, parent]
        .reverse()
        .find(
          (a): a is ASTNode => !Array.isArray(a) && [Kind.ARGUMENT, Kind.OBJECT_FIELD].includes((a as ASTNode).kind),
        );
      const name = holder && 'name' in holder && holder.name ? holder.name.value : node.name.value;
      const known = names.get(node.name.value);
      if (known === undefined || maxFor(limits, name) < maxFor(limits, known)) {
        names.set(node.name.value, name);
      }
    },
  });
  return names;
}

function checkJsonValue(value: unknown, where: string, limits: TextLimits): TooLong | null {
  if (typeof value === 'string') {
    return value.length > limits.jsonValue ? { where, length: value.length, max: limits.jsonValue } : null;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = checkJsonValue(item, where, limits);
      if (found) {
        return found;
      }
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key.length > limits.short) {
        return { where: `A key of ${where}`, length: key.length, max: limits.short };
      }
      const found = checkJsonValue(item, where, limits);
      if (found) {
        return found;
      }
    }
  }
  return null;
}

function checkValue(
  value: unknown,
  type: GraphQLInputType | undefined,
  name: string,
  where: string,
  limits: TextLimits,
): TooLong | null {
  if (value === null || value === undefined) {
    return null;
  }
  if (type === undefined || isJson(type)) {
    return checkJsonValue(value, where, limits);
  }
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const items = Array.isArray(value) ? value : [value];
    for (let i = 0; i < items.length; i += 1) {
      const found = checkValue(items[i], nullable.ofType as GraphQLInputType, name, `${where}[${i}]`, limits);
      if (found) {
        return found;
      }
    }
    return null;
  }
  if (isInputObjectType(nullable) && typeof value === 'object' && !Array.isArray(value)) {
    const fields = nullable.getFields();
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const found = checkValue(item, fields[key]?.type, key, `${where}.${key.slice(0, 40)}`, limits);
      if (found) {
        return found;
      }
    }
    return null;
  }
  // Strings where another scalar or an enum is expected too: its "cannot represent" error would echo the value.
  if (typeof value === 'string') {
    const max = maxFor(limits, name);
    return value.length > max ? { where, length: value.length, max } : null;
  }
  return checkJsonValue(value, where, limits);
}

/**
 * The operation's variables held to the literals' bounds, before execution coerces them: the error to answer
 * (BAD_USER_INPUT, HTTP 400), or null. Shared by HTTP, WebSocket and SSE.
 */
export function oversizedVariablesError(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | null | undefined,
  limits: TextLimits,
): GraphQLError | null {
  if (!variables) {
    return null;
  }
  const names = variableNames(document, limits);
  const types = new Map<string, GraphQLInputType | undefined>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) {
      for (const v of definition.variableDefinitions ?? []) {
        types.set(v.variable.name.value, typeFromAST(schema, v.type) as GraphQLInputType | undefined);
      }
    }
  }
  for (const [key, value] of Object.entries(variables)) {
    const where = `Variable "$${key.slice(0, 40)}"`;
    const found = checkValue(value, types.get(key), names.get(key) ?? key, where, limits);
    if (found) {
      return new GraphQLError(message(found), { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
    }
  }
  return null;
}
