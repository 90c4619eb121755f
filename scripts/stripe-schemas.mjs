#!/usr/bin/env node
/**
 * `npm run stripe:schemas`: JSON Schemas of the Stripe objects the local Stripe returns and sends, generated from the
 * installed `stripe` package's own TypeScript declarations (ts-json-schema-generator), written to
 * emulator/fidelity/stripe-schemas.json. The fidelity guard (emulator/fidelity/guard.ts) checks every response and
 * every event against them. Run it again after upgrading `stripe`, or to check an object the local Stripe starts to
 * return: add its type to OBJECTS (and its file to CHECKED_FILES).
 *
 * What is checked: every field a type declares (required unless optional, with its type and enum), and nothing more
 * (`additionalProperties: false`). Enums are closed: the SDK adds "any other string" to each (`OtherString`, for
 * values Stripe adds later), which the schemas leave out. What is not: objects of types outside CHECKED_FILES that an object only names or
 * embeds (an expandable `Account`, a `Discount`…), which become `{ "type": "object" }`: the local Stripe never makes
 * them, so only their presence is checked. Decimal fields are strings on the wire (the SDK turns them into `Decimal`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import {
  AnnotatedType,
  ObjectType,
  SchemaGenerator,
  StringType,
  createFormatter,
  createParser,
  createProgram,
} from 'ts-json-schema-generator';

const ROOT = path.resolve(import.meta.dirname, '..');
const STRIPE = path.join(ROOT, 'node_modules/stripe');
const STRIPE_TYPES = path.join(STRIPE, 'cjs');
const OUT = path.join(ROOT, 'emulator/fidelity/stripe-schemas.json');

/** Type name → the `object` value it carries (`deleted: true` marks the deleted stubs). */
const OBJECTS = {
  Customer: 'customer',
  DeletedCustomer: 'customer',
  Invoice: 'invoice',
  DeletedInvoice: 'invoice',
  InvoiceItem: 'invoiceitem',
  DeletedInvoiceItem: 'invoiceitem',
  InvoiceLineItem: 'line_item',
  InvoicePayment: 'invoice_payment',
  PaymentIntent: 'payment_intent',
  Charge: 'charge',
  Refund: 'refund',
  CreditNote: 'credit_note',
  CreditNoteLineItem: 'credit_note_line_item',
  CustomerBalanceTransaction: 'customer_balance_transaction',
  PaymentMethod: 'payment_method',
  Subscription: 'subscription',
  SubscriptionItem: 'subscription_item',
  WebhookEndpoint: 'webhook_endpoint',
  DeletedWebhookEndpoint: 'webhook_endpoint',
  Event: 'event',
};
/**
 * Types named in the generated entry file: the SDK's envelopes are generic (a list, a search result, an error body),
 * and `EventBase` (the event without its typed `data`) shares its name with the v2 API's.
 */
const ENVELOPES = {
  Event: 'EventBase',
  List: 'ApiList<unknown>',
  SearchResult: 'ApiSearchResult<unknown>',
  ErrorBody: '{ error: StripeRawError }',
};

/** Declaration files whose types are checked field by field (relative to the package's cjs/ folder). */
const CHECKED_FILES = [
  'resources/Charges.d.ts',
  'resources/CreditNoteLineItems.d.ts',
  'resources/CreditNotes.d.ts',
  'resources/CustomerBalanceTransactions.d.ts',
  'resources/Customers.d.ts',
  'resources/Events.d.ts',
  'resources/InvoiceItems.d.ts',
  'resources/InvoiceLineItems.d.ts',
  'resources/InvoicePayments.d.ts',
  'resources/Invoices.d.ts',
  'resources/PaymentIntents.d.ts',
  'resources/PaymentMethods.d.ts',
  'resources/Refunds.d.ts',
  'resources/SubscriptionItems.d.ts',
  'resources/Subscriptions.d.ts',
  'resources/WebhookEndpoints.d.ts',
  'Types.d.ts',
  'lib.d.ts',
  'shared.d.ts',
].map((f) => path.join(STRIPE_TYPES, f));

/** A decimal string as Stripe sends one (`unit_amount_decimal`, `quantity_decimal`). */
const DECIMAL_PATTERN = '^-?[0-9]+(\\.[0-9]+)?$';

/** Where a type reference is declared: the file and the name (`Invoice.AutomaticTax`). */
function declarationOf(checker, node) {
  let symbol = checker.getSymbolAtLocation(node.typeName);
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) {
    symbol = checker.getAliasedSymbol(symbol);
  }
  const declaration = symbol?.declarations?.[0];
  if (!declaration) {
    return null;
  }
  return {
    file: declaration.getSourceFile().fileName,
    name: checker.getFullyQualifiedName(symbol).replace(/^".*"\./, ''),
  };
}

/** Cuts the schema off at Stripe types outside CHECKED_FILES, and reads `Decimal` as its wire form. */
class StripeBoundaryParser {
  constructor(checker) {
    this.checker = checker;
    this.cut = new Set();
  }
  supportsNode(node) {
    if (node.kind !== ts.SyntaxKind.TypeReference) {
      return false;
    }
    const where = declarationOf(this.checker, node);
    return where !== null && where.file.startsWith(STRIPE) && !CHECKED_FILES.includes(where.file);
  }
  createType(node) {
    const { file, name } = declarationOf(this.checker, node);
    if (path.basename(file) === 'Decimal.d.ts') {
      return new AnnotatedType(new StringType(), { pattern: DECIMAL_PATTERN, description: 'Stripe.Decimal' }, false);
    }
    this.cut.add(name);
    return new AnnotatedType(
      new ObjectType(`unchecked-${name}`, [], [], true),
      { description: `Stripe.${name}: not checked` },
      false,
    );
  }
}

// The one root file: it names the envelopes and brings the checked files into the program (the objects are found
// there by name).
const entryDir = mkdtempSync(path.join(tmpdir(), 'stripe-schemas-'));
const entry = path.join(entryDir, 'entry.ts');
const from = (file) => JSON.stringify(path.join(STRIPE_TYPES, file).replace(/\.d\.ts$/, '.js'));
writeFileSync(
  entry,
  [
    `import type { ApiList, ApiSearchResult } from ${from('lib.d.ts')};`,
    `import type { StripeRawError } from ${from('Types.d.ts')};`,
    `import type { EventBase } from ${from('resources/Events.d.ts')};`,
    ...CHECKED_FILES.filter((f) => f.includes('/resources/')).map(
      (f) => `import ${from(path.relative(STRIPE_TYPES, f))};`,
    ),
    ...Object.entries(ENVELOPES).map(([name, type]) => `export type ${name} = ${type};`),
    '',
  ].join('\n'),
);

const config = {
  path: entry,
  tsconfig: path.join(ROOT, 'tsconfig.json'),
  expose: 'export',
  topRef: true,
  jsDoc: 'none',
  skipTypeCheck: true,
  additionalProperties: false,
  sortProps: true,
  strictTuples: false,
  encodeRefs: true,
  minify: false,
  discriminatorType: 'json-schema',
  functions: 'comment',
};

const program = createProgram(config);
const boundary = new StripeBoundaryParser(program.getTypeChecker());
const parser = createParser(program, config, (chain) => chain.addNodeParser(boundary));
const generator = new SchemaGenerator(program, parser, createFormatter(config), config);

const definitions = {};
try {
  for (const name of new Set([...Object.keys(OBJECTS), ...Object.keys(ENVELOPES)])) {
    const { definitions: found } = generator.createSchema(name);
    const object = OBJECTS[name];
    const ref = found[name]?.$ref;
    const schema = ref ? found[decodeURIComponent(ref.replace('#/definitions/', ''))] : found[name];
    // Several declaration files may export one name: this makes sure the type found is the one meant.
    if (object && schema?.properties?.object?.const !== object) {
      throw new Error(`${name}: expected a type whose \`object\` is "${object}"`);
    }
    Object.assign(definitions, found);
  }
} finally {
  rmSync(entryDir, { recursive: true, force: true });
}
// The SDK adds `OtherString` to every enum so that it keeps working when Stripe adds a value; the local Stripe sends
// only the values this SDK names, so an enum is checked as the list it is.
definitions.OtherString = { not: {}, description: 'a value this SDK does not name' };
// An event's `data.object` is checked by its own `object` field, `previous_attributes` as a part of that object.
for (const name of ['Event.Data.Object', 'Event.Data.PreviousAttributes']) {
  definitions[name] = { type: 'object', description: 'checked by its own `object` field' };
}
/** Event type → the name of the type its `data.object` has, read from the SDK's typed events (`InvoicePaidEvent`…). */
function eventObjects() {
  const file = path.join(STRIPE_TYPES, 'resources/Events.d.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const typeOf = new Map();
  const objectOf = new Map();
  for (const statement of source.statements) {
    if (ts.isInterfaceDeclaration(statement) && statement.name.text.endsWith('Event')) {
      const type = statement.members.find((m) => m.name?.getText(source) === 'type');
      if (type?.type && ts.isLiteralTypeNode(type.type)) {
        typeOf.set(statement.name.text, type.type.literal.text);
      }
    }
    if (ts.isModuleDeclaration(statement) && statement.body && ts.isModuleBlock(statement.body)) {
      const data = statement.body.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === 'Data');
      const object = data?.members.find((m) => m.name?.getText(source) === 'object');
      if (object?.type) {
        objectOf.set(statement.name.text, object.type.getText(source));
      }
    }
  }
  const table = {};
  for (const [name, type] of typeOf) {
    if (objectOf.has(name)) {
      table[type] = objectOf.get(name);
    }
  }
  if (Object.keys(table).length < 200) {
    throw new Error(`read only ${Object.keys(table).length} typed events from ${file}`);
  }
  return Object.fromEntries(Object.entries(table).sort(([a], [b]) => a.localeCompare(b)));
}

const sorted = Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b)));
const { version } = JSON.parse(readFileSync(path.join(STRIPE, 'package.json'), 'utf8'));
const apiVersion = /ApiVersion\s*=\s*["']([^"']+)["']/.exec(
  readFileSync(path.join(STRIPE_TYPES, 'apiVersion.d.ts'), 'utf8'),
)?.[1];
const out = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $comment: 'Generated by `npm run stripe:schemas` from the stripe package’s TypeScript declarations. Do not edit.',
  stripe: { version, apiVersion: apiVersion ?? null },
  objects: OBJECTS,
  envelopes: Object.keys(ENVELOPES),
  events: eventObjects(),
  unchecked: [...boundary.cut].sort(),
  definitions: sorted,
};
writeFileSync(OUT, `${JSON.stringify(out, null, 1)}\n`);
process.stdout.write(
  `${path.relative(ROOT, OUT)}: ${Object.keys(sorted).length} definitions from stripe ${version}` +
    ` (API ${apiVersion}); ${boundary.cut.size} types outside the checked files left unchecked\n`,
);
