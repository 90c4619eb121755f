import { openApiDocument } from '../../src/http/openapi';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';

export interface RestResponse {
  status: number;
  headers: Headers;
  /** The body exactly as sent, to check how amounts are written. */
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
  body: any;
}

export interface RestServer {
  t: TestServer;
  url: string;
  /** Sends a request as the guide's examples do; `token` adds `Authorization: Bearer`. */
  call(
    method: string,
    path: string,
    options?: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> },
  ): Promise<RestResponse>;
  close(): Promise<void>;
}

/** The harness server (own database, own local Stripe, webhooks delivered to it), with the REST routes mounted. */
export async function startRestServer(): Promise<RestServer> {
  const t = await startTestServer();
  const url = t.url;
  return {
    t,
    url,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) {
        headers.authorization = `Bearer ${options.token}`;
      }
      let body = options.body;
      if (options.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.json);
      }
      const res = await fetch(`${url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const problems = undocumented(method, path, res.status, parsed);
      if (problems.length > 0) {
        throw new Error(`${method} ${path} answered ${res.status} off its documented schema:\n${problems.join('\n')}`);
      }
      return { status: res.status, headers: res.headers, text, body: parsed };
    },
    async close() {
      await t.close();
    },
  };
}

type Schema = Record<string, unknown>;

function resolve(schema: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') {
    return schema;
  }
  const name = ref.replace('#/components/schemas/', '');
  return (openApiDocument.components.schemas as Record<string, Schema>)[name];
}

function typeOf(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'array';
  }
  return Number.isInteger(value) ? 'integer' : typeof value;
}

/**
 * The problems of `value` against a schema of the OpenAPI document: `$ref`, `allOf`, `required`, `type`, `const`,
 * `enum`, `properties` and `items` — enough to keep the document honest about what the routes send.
 */
export function schemaProblems(schemaOrRef: Schema, value: unknown, at = '$'): string[] {
  const schema = resolve(schemaOrRef);
  const problems: string[] = [];
  for (const part of (schema.allOf as Schema[] | undefined) ?? []) {
    problems.push(...schemaProblems(part, value, at));
  }
  if ('const' in schema && value !== schema.const) {
    problems.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    problems.push(`${at}: ${JSON.stringify(value)} not in enum`);
  }
  if (typeof schema.pattern === 'string' && typeof value === 'string' && !new RegExp(schema.pattern).test(value)) {
    problems.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  }
  if (schema.type !== undefined) {
    const allowed = ([] as string[]).concat(schema.type as string | string[]);
    const actual = typeOf(value);
    if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number'))) {
      problems.push(`${at}: ${actual} is not ${allowed.join(' | ')}`);
    }
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const key of (schema.required as string[] | undefined) ?? []) {
      if (!(key in record)) {
        problems.push(`${at}.${key}: missing`);
      }
    }
    for (const [key, sub] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) {
      if (key in record) {
        problems.push(...schemaProblems(sub, record[key], `${at}.${key}`));
      }
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => problems.push(...schemaProblems(schema.items as Schema, item, `${at}[${i}]`)));
  }
  return problems;
}

/** The documented JSON schema of `path` `method` answering `status`. */
export function documentedSchema(path: string, method: string, status: number): Schema {
  const paths = openApiDocument.paths as unknown as Record<
    string,
    Record<string, { responses: Record<string, { content: { 'application/json': { schema: Schema } } }> }>
  >;
  const response = paths[path]?.[method]?.responses[String(status)];
  if (!response) {
    throw new Error(`${method.toUpperCase()} ${path} does not document ${status}`);
  }
  return response.content['application/json'].schema;
}

/**
 * Every response the harness receives is checked against the OpenAPI document (`src/http/openapi.ts`, served at
 * `/api/v1/openapi.json`): a documented route must document the status, and the body must fit that status's
 * schema; a path no route serves must answer the one error body. So the document cannot drift from what the routes
 * send.
 */
export function undocumented(method: string, url: string, status: number, body: unknown): string[] {
  const path = url.split('?')[0];
  const template = Object.keys(openApiDocument.paths).find((candidate) =>
    new RegExp(`^${candidate.replace(/\{\w+\}/g, '[^/]+')}$`).test(path),
  );
  const operation = template
    ? (openApiDocument.paths as unknown as Record<string, Record<string, { responses: Record<string, unknown> }>>)[
        template
      ][method.toLowerCase()]
    : undefined;
  if (!template || !operation) {
    return status >= 400 ? schemaProblems({ $ref: '#/components/schemas/Error' }, body) : [`${status}: no such route`];
  }
  if (!(String(status) in operation.responses)) {
    return [`${status} is not documented for ${method.toUpperCase()} ${template}`];
  }
  return schemaProblems(documentedSchema(template, method.toLowerCase(), status), body);
}
