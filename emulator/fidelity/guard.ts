import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * The fidelity guard: every response and every event the local Stripe makes, checked against JSON Schemas generated
 * from the `stripe` package's own TypeScript declarations (`stripe-schemas.json`, `npm run stripe:schemas`).
 *
 * A body is checked by what it says it is: its `object` field picks the schema (`invoice` → `Stripe.Invoice`, a
 * `deleted: true` stub → `Stripe.DeletedInvoice`), so an object the emulator starts to return is checked as soon as
 * the schemas know it, and one they do not know is itself a violation. Lists and search results are checked as
 * envelopes and item by item; an event as `Stripe.EventBase`, its `data.object` as the object its type carries
 * (`invoice.paid` → `Stripe.Invoice`) and its `previous_attributes` as a part of that object; an error status as
 * `{ error: Stripe.StripeRawError }`, whose `payment_intent` is a full PaymentIntent.
 *
 * On (`STRIPE_FIDELITY_GUARD=1`, the test suite's default) a violation is recorded here (read by the test setup,
 * which fails the test that caused it) and written to stderr; a response that breaks the schemas is replaced by a
 * 500 naming the violation, so a client out of process (the compiled server in an end-to-end test) fails too.
 */

export interface Violation {
  /** `POST /v1/invoices/in_…/pay → 402` or `event invoice.paid evt_…`. */
  where: string;
  /** What broke, one line each (`/lines/data/0: must have required property 'taxes'`). */
  errors: string[];
  /** The test running when it happened (set by the test setup), if any. */
  test?: string;
}

interface SchemaFile {
  stripe: { version: string; apiVersion: string | null };
  objects: Record<string, string>;
  envelopes: string[];
  events: Record<string, string>;
  definitions: Record<string, Record<string, unknown>>;
}

/** How many exchanges were checked, and what broke: one per process (per test file under jest). */
class FidelityRecord {
  responses = 0;
  events = 0;
  readonly violations: Violation[] = [];
  /** Names the running test (the test setup sets it from jest's state). */
  testName: () => string | undefined = () => undefined;

  /** The violations so far, forgotten here. */
  take(): Violation[] {
    return this.violations.splice(0);
  }
}

export const fidelity = new FidelityRecord();

/** Whether the guard is on for an emulator started now: `STRIPE_FIDELITY_GUARD=1`. */
export function fidelityGuardFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.STRIPE_FIDELITY_GUARD === '1' || env.STRIPE_FIDELITY_GUARD === 'true';
}

/** The schema file, beside this module in the source tree, or found from a build under `dist/` or `.test-build/`. */
function schemaPath(): string {
  const candidates = [
    path.join(__dirname, 'stripe-schemas.json'),
    path.resolve(__dirname, '../../../emulator/fidelity/stripe-schemas.json'),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`fidelity guard: stripe-schemas.json not found (looked in ${candidates.join(', ')})`);
  }
  return found;
}

type Validators = Record<string, ValidateFunction>;

/** The schema a `previous_attributes` is checked against: the object's, with nothing required at its top. */
const partialName = (name: string): string => `Partial.${name}`;

/** An Ajv holding every definition, and the partial objects for `previous_attributes`. */
export function schemaAjv(file: SchemaFile, options: { source?: boolean } = {}): Ajv {
  const definitions: Record<string, unknown> = { ...file.definitions };
  for (const name of new Set(Object.keys(file.objects))) {
    const target = resolveName(file, name);
    const { required: _required, ...partial } = file.definitions[target];
    definitions[partialName(name)] = partial;
  }
  // `strict: false`: the generated schemas carry annotations Ajv does not know; formats are not used.
  const ajv = new Ajv({ strict: false, allErrors: true, code: { source: options.source ?? false } });
  ajv.addSchema({ $id: 'stripe', definitions });
  return ajv;
}

/** `Event` is an alias of `EventBase` in the file: the name whose definition holds the object. */
function resolveName(file: SchemaFile, name: string): string {
  const ref = (file.definitions[name] as { $ref?: string }).$ref;
  return ref ? decodeURIComponent(ref.replace('#/definitions/', '')) : name;
}

/** Every schema a check uses, by name: the objects, their partial forms and the envelopes. */
export function validatorNames(file: SchemaFile): string[] {
  const objects = Object.keys(file.objects);
  return [...objects, ...objects.map(partialName), ...file.envelopes];
}

export function readSchemaFile(): SchemaFile {
  return JSON.parse(readFileSync(schemaPath(), 'utf8')) as SchemaFile;
}

/**
 * Compiling the schemas takes a few seconds. A test run compiles them once (tests/setup/global-setup.ts) into a
 * standalone module named by `STRIPE_FIDELITY_VALIDATORS`; without it they are compiled here, on first use.
 */
function loadValidators(file: SchemaFile): Validators {
  const precompiled = process.env.STRIPE_FIDELITY_VALIDATORS;
  if (precompiled && existsSync(precompiled)) {
    return require(precompiled) as Validators;
  }
  const ajv = schemaAjv(file);
  const validators: Validators = {};
  for (const name of validatorNames(file)) {
    const validate = ajv.getSchema(`stripe#/definitions/${name}`);
    if (!validate) {
      throw new Error(`fidelity guard: no schema ${name}`);
    }
    validators[name] = validate;
  }
  return validators;
}

function describe(error: ErrorObject, at: string): string {
  const where = `${at}${error.instancePath}` || '(top)';
  const params = error.params as Record<string, unknown>;
  const detail =
    params.additionalProperty !== undefined
      ? ` '${String(params.additionalProperty)}'`
      : params.allowedValues !== undefined
        ? ` ${JSON.stringify(params.allowedValues)}`
        : params.allowedValue !== undefined
          ? ` ${JSON.stringify(params.allowedValue)}`
          : '';
  return `${where}: ${error.message ?? 'invalid'}${detail}`;
}

/**
 * Ajv's errors, one line each, at most a dozen. The branches of a failed `anyOf` are merged per path ("must be one of
 * "draft", "open"…", "must be string or null"); the `anyOf` itself and the closed enums' `not` add nothing.
 */
function summarize(errors: ErrorObject[] | null | undefined, at: string): string[] {
  const kept = (errors ?? []).filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'not');
  const merged = new Map<string, string[]>();
  const lines: string[] = [];
  for (const e of kept) {
    const params = e.params as { allowedValue?: unknown; type?: unknown };
    const key = `${e.keyword} ${e.instancePath}`;
    const value =
      e.keyword === 'const' ? JSON.stringify(params.allowedValue) : e.keyword === 'type' ? String(params.type) : null;
    if (value === null) {
      lines.push(describe(e, at));
    } else if (merged.has(key)) {
      merged.get(key)?.push(value);
    } else {
      merged.set(key, [value]);
      lines.push(key);
    }
  }
  const out = [
    ...new Set(
      lines.map((line) => {
        const values = merged.get(line);
        if (!values) {
          return line;
        }
        const [keyword, path] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
        const where = `${at}${path}` || '(top)';
        return keyword === 'const'
          ? `${where}: must be one of ${values.join(', ')}`
          : `${where}: must be ${values.join(' or ')}`;
      }),
    ),
  ];
  return out.length > 12 ? [...out.slice(0, 12), `… and ${out.length - 12} more`] : out;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export class FidelityGuard {
  private readonly file: SchemaFile;
  private validators: Validators | null = null;
  /** `object` value → the type names carrying it (`customer` → Customer, DeletedCustomer). */
  private readonly byObject = new Map<string, string[]>();

  constructor(file: SchemaFile = readSchemaFile()) {
    this.file = file;
    for (const [name, object] of Object.entries(file.objects)) {
      this.byObject.set(object, [...(this.byObject.get(object) ?? []), name]);
    }
  }

  get stripeVersion(): string {
    return this.file.stripe.version;
  }

  /** The faults of `value` as a `name`, each path prefixed with `at` (where the value sits in the body). */
  private validate(name: string, value: unknown, at: string): string[] {
    this.validators ??= loadValidators(this.file);
    const validate = this.validators[name];
    if (!validate) {
      return [`${at || '(top)'}: no schema ${name}`];
    }
    return validate(value) ? [] : summarize(validate.errors, at);
  }

  /** The type a body says it is, by its `object` (and `deleted`) fields. */
  private typeOf(value: Json): string | { error: string } {
    const object = value.object;
    if (typeof object !== 'string') {
      return { error: 'no `object` field' };
    }
    const names = this.byObject.get(object);
    if (!names) {
      return {
        error:
          `no schema for object "${object}": add its type to OBJECTS in scripts/stripe-schemas.mjs and run ` +
          '`npm run stripe:schemas`',
      };
    }
    const deleted = value.deleted === true;
    return names.find((n) => n.startsWith('Deleted') === deleted) ?? names[0];
  }

  /** Every fault of a Stripe object, list, search result or event, with `at` before each path. */
  checkObject(value: unknown, at = ''): string[] {
    if (!isObject(value)) {
      return [`${at || '(top)'}: not an object`];
    }
    if (value.object === 'list' || value.object === 'search_result') {
      const envelope = this.validate(value.object === 'list' ? 'List' : 'SearchResult', value, at);
      const items = Array.isArray(value.data) ? value.data : [];
      return [...envelope, ...items.flatMap((item, i) => this.checkObject(item, `${at}/data/${i}`))];
    }
    const type = this.typeOf(value);
    if (typeof type !== 'string') {
      return [`${at || '(top)'}: ${type.error}`];
    }
    const faults = this.validate(type, value, at);
    if (type === 'Event') {
      faults.push(...this.checkEventData(value, at));
    }
    return faults;
  }

  /** An event's `data.object` is the object its type carries; `previous_attributes` a part of it. */
  private checkEventData(event: Json, at: string): string[] {
    const data = isObject(event.data) ? event.data : {};
    const carried = this.file.events[String(event.type)];
    if (!carried) {
      return [`${at}/type: unknown event type ${String(event.type)}`];
    }
    if (!(carried in this.file.objects)) {
      return [
        `${at}/data/object: ${String(event.type)} carries a ${carried}, which the schemas do not check: add it ` +
          'to OBJECTS in scripts/stripe-schemas.mjs',
      ];
    }
    const previous = data.previous_attributes;
    return [
      ...this.validate(carried, data.object, `${at}/data/object`),
      ...(previous === undefined
        ? []
        : this.validate(partialName(carried), previous, `${at}/data/previous_attributes`)),
    ];
  }

  /** A /v1 response: an error status is Stripe's error body, any other an object, list or search result. */
  checkResponse(status: number, body: string): string[] {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return ['(top): not JSON'];
    }
    return status >= 400 ? this.validate('ErrorBody', value, '') : this.checkObject(value);
  }
}

let shared: FidelityGuard | null = null;

/** The guard of this process (the schemas are read once). */
export function fidelityGuard(): FidelityGuard {
  shared ??= new FidelityGuard();
  return shared;
}

/** Records a violation (with the running test) and writes it to stderr. */
export function recordViolation(where: string, errors: string[]): Violation {
  const violation: Violation = { where, errors, test: fidelity.testName() };
  fidelity.violations.push(violation);
  process.stderr.write(`[stripe-emulator] fidelity violation: ${formatViolation(violation)}\n`);
  return violation;
}

export function formatViolation(v: Violation): string {
  return `${v.where}${v.test ? ` (in "${v.test}")` : ''}\n    ${v.errors.join('\n    ')}`;
}
