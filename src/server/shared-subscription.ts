import { Kind, createSourceEventStream, execute, getOperationAST, visit } from 'graphql';
import type {
  DocumentNode,
  ExecutionArgs,
  ExecutionResult,
  FormattedExecutionResult,
  OperationDefinitionNode,
} from 'graphql';
import type { GraphQLContext } from '../resolvers/context';
import type { GraphQLRules } from '../resolvers/graphql-rules';
import { formatErrors, logUnexpectedErrors } from '../resolvers/graphql-rules';

/**
 * A subscription event's result, executed and formatted once per selection and shared by every subscriber of that
 * selection: never mutate it. Its JSON text is kept beside it (`sharedJson`), so a transport that can write it as is
 * (graphql-ws) serialises it once per event instead of once per subscriber.
 */
export type SharedResult = ExecutionResult & { readonly shared: true };

const jsonOf = new WeakMap<object, string>();

/** The JSON of a shared result (written once per event and selection), or undefined for any other result. */
export function sharedJson(result: unknown): string | undefined {
  return typeof result === 'object' && result !== null ? jsonOf.get(result) : undefined;
}

/**
 * What decides the payload of one event, beyond the event itself: the document (the prepared one, shared by
 * subscribers sending the same text), the operation, the variables the selection reads below the subscription field,
 * and what the caller may see. The subscription field's own arguments (`invoiceId`, `userId`, `after`) only choose
 * the events (the access filter is decided at subscribe time); its resolver maps an event without them, so
 * subscribers that differ only there still share one execution.
 */
class Selection {
  /** Results per event object: the hub hands the same object to every subscriber, so the first one executes. */
  private readonly results = new WeakMap<object, SharedResult | Promise<SharedResult>>();
  subscribers = 0;

  constructor(
    readonly key: string,
    private readonly rules: GraphQLRules,
  ) {}

  /** The event's result for this selection: executed by the first subscriber to ask, with its own context. */
  resultFor(event: unknown, args: ExecutionArgs): SharedResult | Promise<SharedResult> {
    if (typeof event !== 'object' || event === null) {
      return this.run(event, args);
    }
    let result = this.results.get(event);
    if (!result) {
      result = this.run(event, args);
      this.results.set(event, result);
      if (result instanceof Promise) {
        void result.then((settled) => this.results.set(event, settled));
      }
    }
    return result;
  }

  private run(event: unknown, args: ExecutionArgs): SharedResult | Promise<SharedResult> {
    // What graphql's subscribe does per event (mapSourceToResponse), once per selection here.
    const result = execute({ ...args, rootValue: event });
    return result instanceof Promise ? result.then((settled) => this.share(settled, args)) : this.share(result, args);
  }

  /** Errors formatted by the shared rules (and logged) once per event and selection, as over HTTP. */
  private share(result: ExecutionResult, args: ExecutionArgs): SharedResult {
    let sent: ExecutionResult | FormattedExecutionResult = result;
    if (result.errors) {
      logUnexpectedErrors((args.contextValue as GraphQLContext | undefined)?.log, result.errors);
      sent = { ...result, errors: formatErrors(this.rules, result.errors) };
    }
    const shared = sent as SharedResult;
    jsonOf.set(shared, JSON.stringify(shared));
    return shared;
  }
}

/** A source stream that can deliver by callback instead of by `next` (see `StatusFeed.attach`). */
interface PushingSource {
  attach(sink: (event: unknown) => void): void;
}

/** One subscriber's stream of shared results: its own source (its access filter), the selection's results. */
export class SharedStream implements AsyncIterableIterator<SharedResult> {
  private ended = false;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly selection: Selection,
    private readonly args: ExecutionArgs,
    private readonly release: (selection: Selection) => void,
  ) {}

  async next(): Promise<IteratorResult<SharedResult>> {
    try {
      const step = this.ended ? ({ done: true, value: undefined } as const) : await this.source.next();
      if (step.done || this.ended) {
        this.end();
        return { done: true, value: undefined };
      }
      return { done: false, value: await this.selection.resultFor(step.value, this.args) };
    } catch (error) {
      // A transport that sees this throw does not call return: the selection is released here.
      this.end();
      throw error;
    }
  }

  /**
   * Hands each shared result to `sink` as its event arrives, and resolves when the stream ends. A source that can
   * push (the status feed's `attach`) calls back synchronously within the hub's slice: no promise per subscriber and
   * event. Results stay in event order even when an execution is asynchronous.
   */
  async forEach(sink: (result: SharedResult) => void): Promise<void> {
    const pushing = this.source as Partial<PushingSource>;
    if (typeof pushing.attach !== 'function') {
      for (let step = await this.next(); !step.done; step = await this.next()) {
        sink(step.value);
      }
      return;
    }
    let tail: Promise<void> | undefined;
    pushing.attach((event) => {
      if (this.ended) {
        return;
      }
      try {
        const result = this.selection.resultFor(event, this.args);
        if (tail || result instanceof Promise) {
          tail = (tail ?? Promise.resolve()).then(async () => {
            const settled = await result;
            if (!this.ended) {
              sink(settled);
            }
          });
        } else {
          sink(result);
        }
      } catch (error) {
        // Called from the hub's fan-out loop: a failure ends this subscription, never the other subscribers' turn.
        (this.args.contextValue as GraphQLContext | undefined)?.log.error({ err: error }, 'subscription event failed');
        void this.return();
      }
    });
    // Attached, the source's next resolves only when it ends.
    for (let step = await this.next(); !step.done; step = await this.next()) {
      sink(step.value);
    }
    await tail;
  }

  async return(): Promise<IteratorResult<SharedResult>> {
    this.end();
    await this.source.return?.();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<SharedResult>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): SharedStream {
    return this;
  }

  private end(): void {
    if (!this.ended) {
      this.ended = true;
      this.release(this.selection);
    }
  }
}

/** Per document, the variables its subscription fields' selections read (not their own arguments). */
const selectionVariables = new WeakMap<DocumentNode, Map<string | null, string[]>>();

function variablesReadBelowRoot(document: DocumentNode, operation: OperationDefinitionNode): string[] {
  let perOperation = selectionVariables.get(document);
  if (!perOperation) {
    perOperation = new Map();
    selectionVariables.set(document, perOperation);
  }
  const name = operation.name?.value ?? null;
  let names = perOperation.get(name);
  if (!names) {
    const found = new Set<string>();
    const collect = (node: Parameters<typeof visit>[0]): void => {
      visit(node, { Variable: (variable) => void found.add(variable.name.value) });
    };
    for (const selection of operation.selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        // The root field's arguments choose the events; its directives and selection shape the payload.
        selection.directives?.forEach(collect);
        if (selection.selectionSet) {
          collect(selection.selectionSet);
        }
      } else {
        collect(selection);
      }
    }
    // Fragments may read variables too: any fragment of the document counts (a superset is safe).
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        collect(definition);
      }
    }
    names = [...found].sort();
    perOperation.set(name, names);
  }
  return names;
}

/**
 * Subscriptions whose events are executed once per distinct selection, whatever the number of subscribers: the
 * `subscribe` of graphql-ws and graphql-sse. Each subscriber still gets its own source stream, so the access filter
 * decided at subscribe time applies per subscriber; only the result of an event it may see is shared, and that
 * result is the same for every subscriber of the selection (the key includes what the caller may see: its role).
 * Setup failures (NOT_FOUND, FORBIDDEN, bad variables) come back as one result, exactly as from graphql's subscribe.
 */
export class SharedSubscriptions {
  private readonly selections = new Map<string, Selection>();
  private readonly documentIds = new WeakMap<DocumentNode, number>();
  private nextDocumentId = 1;

  constructor(private readonly rules: GraphQLRules) {}

  /** Distinct selections open now (for tests and metrics). */
  get size(): number {
    return this.selections.size;
  }

  readonly subscribe = async (args: ExecutionArgs): Promise<SharedStream | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in Object(source))) {
      return source as ExecutionResult;
    }
    const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    const selection = this.selectionOf(args);
    selection.subscribers += 1;
    return new SharedStream(iterator, selection, args, (done) => this.release(done));
  };

  private selectionOf(args: ExecutionArgs): Selection {
    const operation = getOperationAST(args.document, args.operationName) as OperationDefinitionNode;
    let documentId = this.documentIds.get(args.document);
    if (documentId === undefined) {
      documentId = this.nextDocumentId++;
      this.documentIds.set(args.document, documentId);
    }
    const variables = args.variableValues ?? {};
    // An absent variable (its default applies) and an explicit null differ: [name] and [name, null].
    const read = variablesReadBelowRoot(args.document, operation).map((name) =>
      name in variables ? [name, variables[name]] : [name],
    );
    const caller = (args.contextValue as GraphQLContext | undefined)?.caller;
    const key = JSON.stringify([documentId, operation.name?.value ?? null, read, caller?.role ?? null]);
    let selection = this.selections.get(key);
    if (!selection) {
      selection = new Selection(key, this.rules);
      this.selections.set(key, selection);
    }
    return selection;
  }

  private release(selection: Selection): void {
    selection.subscribers -= 1;
    if (selection.subscribers === 0 && this.selections.get(selection.key) === selection) {
      this.selections.delete(selection.key);
    }
  }
}
