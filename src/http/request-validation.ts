import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Request } from 'express';
import { UNSTORABLE_TEXT_MESSAGE, isStorableText } from '../schema/storable-text';
import { RequestError } from './http-errors';
import { openApiDocument } from './openapi';

/**
 * Request validation from the OpenAPI document (`openapi.ts`): each operation's parameter and request body schemas
 * are compiled once, with ajv, from the very objects served at `/api/v1/openapi.json`, so what a route refuses is
 * what its document says is invalid. Two extensions of ours, both in the document:
 *
 * - `x-storable: true` on a string schema: no NUL and no unpaired UTF-16 surrogate (text PostgreSQL can store).
 * - `x-error: { code, status?, keywords? }` on a schema: the error code (and status, 400 unless given) a failure of
 *   that schema answers, limited to the failing `keywords` when listed; otherwise 400 `invalid_request`.
 *
 * A query parameter marked `allowEmptyValue` is absent when empty (`?limit=` is the default limit). A query value
 * is text: for an `integer` schema, digits become the number before validation. Messages name the parameter and its
 * rule, never the value sent (it may be a card number).
 */

type Schema = Record<string, unknown>;

interface XError {
  code: string;
  status?: 400 | 422;
  keywords?: string[];
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  allowEmptyValue?: boolean;
  schema: Schema;
}

interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: { 'application/json': { schema: Schema } } };
}

/** What a route reads, validated: path and query parameters by name (defaults applied), and the JSON body. */
export interface RestInput {
  params: Record<string, unknown>;
  body: Record<string, unknown> | unknown[] | undefined;
}

export type RequestValidator = (req: Request) => RestInput;

const SCHEMAS = '#/components/schemas/';

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: false, verbose: true, useDefaults: true, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addKeyword({
    keyword: 'x-storable',
    type: 'string',
    schemaType: 'boolean',
    validate: (enabled: boolean, data: string) => !enabled || isStorableText(data),
    errors: false,
  });
  ajv.addKeyword('x-error');
  // The document's `$ref`s point into `components.schemas`; ajv reads them as the `$defs` of each compiled schema.
  const defs = JSON.parse(JSON.stringify(openApiDocument.components.schemas).replaceAll(SCHEMAS, '#/$defs/'));
  ajv.addSchema({ $id: 'components', $defs: defs });
  return ajv;
}

function compile(ajv: Ajv2020, schema: Schema): ValidateFunction {
  const rewritten = JSON.parse(JSON.stringify(schema).replaceAll(`"${SCHEMAS}`, '"components#/$defs/'));
  return ajv.compile(rewritten);
}

const TYPE_WORDS: Record<string, (schema: Schema, inBody: boolean) => string> = {
  string: () => 'a single string',
  integer: (schema, inBody) => {
    const range = typeof schema.minimum === 'number' && typeof schema.maximum === 'number';
    const noun = inBody ? 'a whole JSON number' : 'an integer';
    return range ? `${noun} from ${schema.minimum} to ${schema.maximum}` : noun;
  },
  number: () => 'a number',
  boolean: () => 'true or false',
  object: () => 'a JSON object',
  array: () => 'a list',
  null: () => 'null',
};

/** "a single string or a whole JSON number from 0 to 9007199254740991": what the schema's types accept. */
function describeType(schema: Schema, inBody: boolean): string {
  const types = ([] as string[]).concat((schema.type as string | string[] | undefined) ?? []);
  return types.map((type) => TYPE_WORDS[type]?.(schema, inBody) ?? type).join(' or ');
}

/** The rule `error` broke, in words, naming `name` and never the value. */
function describe(name: string, error: ErrorObject, inBody: boolean): string {
  const schema = (error.parentSchema ?? {}) as Schema;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type':
    case 'minimum':
    case 'maximum':
      return `${name} must be ${describeType(schema, inBody)}`;
    case 'maxLength':
      return `${name} must be at most ${params.limit} characters`;
    case 'minLength':
      return params.limit === 1 ? `${name} must not be empty` : `${name} must be at least ${params.limit} characters`;
    case 'pattern':
      return `${name} must match ${params.pattern}`;
    case 'format':
      return `${name} must be a ${params.format}`;
    case 'required':
      return `${params.missingProperty} is required`;
    case 'maxItems':
      return `${name} holds at most ${params.limit} items`;
    case 'x-storable':
      return `${name}: ${UNSTORABLE_TEXT_MESSAGE}`;
    default:
      return `${name} ${error.message ?? 'is invalid'}`;
  }
}

/** The REST error for the first failure ajv found; `param` names the parameter or body property at fault. */
function refusal(name: string | undefined, error: ErrorObject, inBody: boolean): RequestError {
  const schema = (error.parentSchema ?? {}) as Schema;
  const rule = schema['x-error'] as XError | undefined;
  const applies = rule && (!rule.keywords || rule.keywords.includes(error.keyword));
  const param = error.keyword === 'required' ? (error.params as { missingProperty: string }).missingProperty : name;
  return new RequestError(
    applies ? (rule.status ?? 400) : 400,
    applies ? rule.code : 'invalid_request',
    describe(name ?? 'the body', error, inBody),
    param === undefined ? {} : { param },
  );
}

/** Query text → the number an `integer` parameter means, when it is one; anything else is validated as sent. */
function fromQuery(value: unknown, schema: Schema): unknown {
  const types = ([] as unknown[]).concat(schema.type ?? []);
  if (typeof value === 'string' && !types.includes('string') && types.includes('integer') && /^-?\d+$/.test(value)) {
    return Number(value);
  }
  return value;
}

function operationValidator(ajv: Ajv2020, operation: Operation): RequestValidator {
  const parameters = (operation.parameters ?? [])
    .filter((parameter) => parameter.in === 'path' || parameter.in === 'query' || parameter.in === 'header')
    .map((parameter) => ({
      ...parameter,
      validate: compile(ajv, { type: 'object', properties: { value: parameter.schema } }),
    }));
  const body = operation.requestBody;
  const bodySchema = body?.content['application/json'].schema;
  const validateBody = bodySchema ? compile(ajv, bodySchema) : undefined;
  const bodyWords = describeBody(bodySchema);

  return (req) => {
    const params: Record<string, unknown> = {};
    for (const parameter of parameters) {
      let value: unknown =
        parameter.in === 'header'
          ? req.headers[parameter.name.toLowerCase()]
          : (parameter.in === 'path' ? req.params : (req.query as Record<string, unknown>))[parameter.name];
      if (value === '' && parameter.allowEmptyValue) {
        value = undefined;
      }
      if (value === undefined && parameter.required) {
        throw new RequestError(400, 'invalid_request', `${parameter.name} is required`, { param: parameter.name });
      }
      // Wrapped in an object so that ajv applies the schema's default to an absent value.
      const holder: { value?: unknown } = value === undefined ? {} : { value: fromQuery(value, parameter.schema) };
      if (!parameter.validate(holder)) {
        throw refusal(parameter.name, (parameter.validate.errors as ErrorObject[])[0], false);
      }
      if (holder.value !== undefined) {
        params[parameter.name] = holder.value;
      }
    }
    const sent: unknown = req.body;
    if (!validateBody || (sent === undefined && !body?.required)) {
      return { params, body: undefined };
    }
    if (sent === undefined) {
      throw new RequestError(400, 'invalid_request', `Send a JSON body (Content-Type: application/json): ${bodyWords}`);
    }
    if (!validateBody(sent)) {
      const error = (validateBody.errors as ErrorObject[])[0];
      if (error.instancePath === '' && (error.keyword === 'type' || error.keyword === 'required')) {
        const missing = error.keyword === 'required' ? `; ${describe('', error, true)}` : '';
        throw new RequestError(
          400,
          'invalid_request',
          `Send a JSON body (Content-Type: application/json): ${bodyWords}${missing}`,
          error.keyword === 'required' ? { param: (error.params as { missingProperty: string }).missingProperty } : {},
        );
      }
      const name = error.instancePath.split('/').filter(Boolean).join('.') || undefined;
      throw refusal(name, error, true);
    }
    return { params, body: sent as RestInput['body'] };
  };
}

function describeBody(schema: Schema | undefined): string {
  if (!schema) {
    return 'none';
  }
  const ref = schema.$ref;
  const resolved =
    typeof ref === 'string'
      ? (openApiDocument.components.schemas as Record<string, Schema>)[ref.replace(SCHEMAS, '')]
      : schema;
  return typeof resolved.description === 'string' ? resolved.description : 'a JSON object';
}

/** One validator per `operationId` of the document, compiled once when the module is first loaded. */
function compileAll(): Map<string, RequestValidator> {
  const ajv = newAjv();
  const validators = new Map<string, RequestValidator>();
  for (const item of Object.values(openApiDocument.paths as unknown as Record<string, Record<string, Operation>>)) {
    for (const operation of Object.values(item)) {
      validators.set(operation.operationId, operationValidator(ajv, operation));
    }
  }
  return validators;
}

let compiled: Map<string, RequestValidator> | undefined;

/** The validator of the document's operation `operationId`; unknown ids fail at startup, not per request. */
export function requestValidator(operationId: string): RequestValidator {
  compiled ??= compileAll();
  const validator = compiled.get(operationId);
  if (!validator) {
    throw new Error(`The OpenAPI document has no operation "${operationId}"`);
  }
  return validator;
}
