import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Emulator, EventRequest } from './context';
import { API_VERSION } from './context';
import { apiHeaders, authenticate } from './auth';
import { StripeApiError, apiError, authError, lockTimeoutError, rateLimitError, unrecognizedUrl } from './errors';
import { canonical, parseForm, type FormObject } from './form';
import { Idempotency } from './idempotency';
import { objectsOf } from './locks';
import { checkApiVersion } from './limits';
import { expandList } from './params';
import { newId } from './util';
import { fidelity, recordViolation } from './fidelity/guard';

export interface ApiContext {
  emu: Emulator;
  params: FormObject;
  /** Path parameters (`:id`). */
  path: Record<string, string>;
  expand: string[];
  requestId: string;
  /** Event `request` field for changes made by this call. */
  request: EventRequest;
  /** Called with a publishable key (`pk_test_…`, as Stripe.js): only routes marked `publishable` accept one. */
  publishable: boolean;
}

export type Handler = (ctx: ApiContext) => unknown;

interface Route {
  method: string;
  regex: RegExp;
  keys: string[];
  handler: Handler;
  publishable: boolean;
}

export interface RouteOptions {
  /** A publishable key may call it (Stripe.js's calls, with a `client_secret`). */
  publishable?: boolean;
}

/** The /v1 API: auth, faults, rate limit, form parsing, idempotency, then one handler per route. */
export class ApiRouter {
  /** Routes by method and resource (`GET customers`), in the order they were added: a request tries only its own. */
  private routes = new Map<string, Route[]>();
  private readonly idempotency: Idempotency;
  /** Requests held open by a `hang` fault, released on stop. */
  readonly hanging = new Set<ServerResponse>();

  constructor(private readonly emu: Emulator) {
    this.idempotency = new Idempotency(emu);
  }

  get(pattern: string, handler: Handler, options: RouteOptions = {}): void {
    this.add('GET', pattern, handler, options);
  }
  post(pattern: string, handler: Handler, options: RouteOptions = {}): void {
    this.add('POST', pattern, handler, options);
  }
  del(pattern: string, handler: Handler): void {
    this.add('DELETE', pattern, handler);
  }

  private add(method: string, pattern: string, handler: Handler, options: RouteOptions = {}): void {
    const keys: string[] = [];
    const source = pattern.replace(/:(\w+)/g, (_, k: string) => {
      keys.push(k);
      return '([^/]+)';
    });
    const resource = pattern.split('/')[2] ?? '';
    if (!pattern.startsWith('/v1/') || resource.startsWith(':')) {
      throw new Error(`route ${pattern}: must start with /v1/<resource>`);
    }
    const bucket = `${method} ${resource}`;
    const routes = this.routes.get(bucket) ?? [];
    routes.push({
      method,
      regex: new RegExp(`^${source}/?$`),
      keys,
      handler,
      publishable: options.publishable === true,
    });
    this.routes.set(bucket, routes);
  }

  /** Node request listener for everything under /v1. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newId('req');
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    const given = apiHeaders(req);
    // The answer's headers as one flat list (name, value, …) handed to `writeHead` once: node's fast path, instead of
    // a `setHeader` (validation, a lowercased copy, a map entry) per header.
    const headers: Headers = [
      'Request-Id',
      requestId,
      'Stripe-Version',
      given.stripeVersion ?? API_VERSION,
      'Access-Control-Allow-Origin',
      '*',
    ];
    const rateLimit = this.emu.chaos.rateLimit;
    if (rateLimit !== null) {
      // The limit this local Stripe enforces, announced on every answer (IETF `RateLimit-Policy`: quota; window in
      // seconds), so the client's pacing (src/stripe/rate-limiter.ts) follows it instead of finding it by 429s.
      headers.push('RateLimit-Policy', `${rateLimit};w=1`);
    }
    const fail = (err: StripeApiError): void => this.sendError(res, headers, requestId, err);

    const fault = this.emu.chaos.match(method, pathname, ['reset', 'hang', '500', '429']);
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      if (fault.delayMs !== null) {
        void this.emu.clock.sleep(fault.delayMs, { unref: true }).then(() => req.socket.destroy());
      }
      return;
    }
    if (fault?.kind === '429') {
      // Stripe's two 429s: the rate limit's below (not retried by the SDK), or with `shouldRetry: true` the lock
      // timeout's, the one Stripe asks to be repeated.
      return fail(fault.shouldRetry === true ? lockTimeoutError() : rateLimitError(fault.shouldRetry));
    }
    if (fault?.kind === '500') {
      if (fault.shouldRetry !== null) {
        headers.push('Stripe-Should-Retry', String(fault.shouldRetry));
      }
      return fail(apiError());
    }
    // The test-mode limit (25/s, `--rate-limit`, `POST /_emulator/rate-limit`): a sliding second of the emulator's clock.
    if (!this.emu.chaos.takeRateToken(this.emu.clock.now())) {
      return fail(rateLimitError());
    }

    const apiKey = authenticate(given.authorization);
    if (apiKey instanceof StripeApiError) {
      headers.push('WWW-Authenticate', 'Bearer realm="Stripe"');
      return fail(apiKey);
    }

    try {
      checkApiVersion(given.stripeVersion);
    } catch (e) {
      return fail(e as StripeApiError);
    }

    const route = this.find(method, pathname);
    const raw = method === 'GET' || method === 'DELETE' ? (q === -1 ? '' : url.slice(q + 1)) : await readBody(req);
    if (!route) {
      return fail(unrecognizedUrl(method, pathname));
    }
    const publishable = apiKey.startsWith('pk_');
    if (publishable && !route.route.publishable) {
      return fail(authError('This API call cannot be made with a publishable API key. Please use a secret API key.'));
    }
    const params = parseForm(raw);
    const idemKey = method === 'POST' ? (given.idempotencyKey ?? null) : null;
    if (idemKey) {
      headers.push('Idempotency-Key', idemKey);
      if (idemKey.length > 255) {
        return fail(
          new StripeApiError(400, {
            type: 'invalid_request_error',
            message: `Invalid Idempotency-Key: must be at most 255 characters (got ${idemKey.length}).`,
          }),
        );
      }
    }

    const lost = this.emu.chaos.match(method, pathname, ['lost-response']);
    const answer = (status: number, body: string): void =>
      lost ? void req.socket.destroy() : this.send(res, headers, status, body);
    const storeKey = idemKey ? `${apiKey}:${idemKey}` : null;
    // Only a request with a key is compared with an earlier one.
    const paramsText = storeKey ? canonical(params) : '';
    if (storeKey && idemKey) {
      const decision = this.idempotency.check(storeKey, idemKey, method, pathname, paramsText);
      if (decision.kind === 'error') {
        return fail(decision.error);
      }
      if (decision.kind === 'replay') {
        headers.push('Idempotent-Replayed', 'true', 'Original-Request', decision.requestId);
        return answer(decision.status, decision.body);
      }
      this.idempotency.begin(storeKey);
    }
    let unlock: (() => void) | null = null;
    try {
      // Stripe is slow to act on this request: for a while (`latency`), or until the test releases it (`hold`).
      const slow = this.emu.chaos.match(method, pathname, ['latency', 'hold']);
      if (slow?.kind === 'hold') {
        await this.emu.chaos.hold(slow);
      } else if (slow?.delayMs) {
        await this.emu.clock.sleep(slow.delayMs);
      }
      if (method !== 'GET') {
        // A write holds the locks of the objects it changes while Stripe works on it (`locks.ts`).
        const lock = this.emu.locks.acquire(objectsOf(pathname, params));
        if ('busy' in lock) {
          return fail(lockTimeoutError());
        }
        unlock = lock.release;
        await this.emu.locks.processing();
      }
      const { status, body, persist } = this.run(route.route, route.path, params, requestId, idemKey, publishable);
      if (storeKey && persist) {
        this.idempotency.store(storeKey, { method, path: pathname, params: paramsText, status, body, requestId });
      }
      answer(status, body);
    } finally {
      unlock?.();
      if (storeKey) {
        this.idempotency.end(storeKey);
      }
    }
  }

  private run(
    route: Route,
    path: Record<string, string>,
    params: FormObject,
    requestId: string,
    idemKey: string | null,
    publishable: boolean,
  ) {
    try {
      const ctx: ApiContext = {
        emu: this.emu,
        params,
        path,
        expand: expandList(params),
        requestId,
        request: { id: requestId, idempotency_key: idemKey },
        publishable,
      };
      const result = route.handler(ctx);
      // Compact: Stripe indents its answers, but no client reads the whitespace, and indenting cost ~9 % of the
      // emulator's CPU per request.
      return { status: 200, body: JSON.stringify(result), persist: true };
    } catch (e) {
      const err = e instanceof StripeApiError ? e : apiError();
      if (!(e instanceof StripeApiError)) {
        process.stderr.write(`[stripe-emulator] handler error: ${e instanceof Error ? e.stack : String(e)}\n`);
      }
      return { status: err.status, body: errorJson(err, requestId), persist: !err.beforeExecution };
    }
  }

  private find(method: string, pathname: string): { route: Route; path: Record<string, string> } | null {
    const slash = pathname.indexOf('/', 4);
    const resource = slash === -1 ? pathname.slice(4) : pathname.slice(4, slash);
    for (const route of this.routes.get(`${method} ${resource}`) ?? []) {
      const m = route.regex.exec(pathname);
      if (!m) {
        continue;
      }
      const path: Record<string, string> = {};
      route.keys.forEach((k, i) => (path[k] = decodeURIComponent(m[i + 1])));
      return { route, path };
    }
    return null;
  }

  private send(res: ServerResponse, headers: Headers, given: number, answer: string): void {
    let status = given;
    let body = answer;
    const guard = this.emu.guard;
    if (guard) {
      fidelity.responses++;
      const faults = guard.checkResponse(status, body);
      if (faults.length > 0) {
        const where = `${res.req.method ?? 'GET'} ${(res.req.url ?? '').split('?')[0]} → ${status}`;
        recordViolation(where, faults);
        status = 500;
        body = errorJson(
          apiError(`Fidelity guard: ${where} breaks the stripe SDK's schemas: ${faults.join('; ')}`),
          '',
        );
      }
    }
    headers.push('Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body)));
    res.writeHead(status, headers).end(body);
  }

  private sendError(res: ServerResponse, headers: Headers, requestId: string, err: StripeApiError): void {
    for (const [k, v] of Object.entries(err.headers)) {
      headers.push(k, v);
    }
    this.send(res, headers, err.status, errorJson(err, requestId));
  }

  releaseHanging(): void {
    for (const res of this.hanging) {
      res.socket?.destroy();
    }
    this.hanging.clear();
  }
}

/** Stripe's error body, with the dashboard log link Stripe adds. */
function errorJson(err: StripeApiError, requestId: string): string {
  const body = requestId
    ? { ...err.body, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` }
    : err.body;
  return JSON.stringify({ error: body });
}

/** Response headers as node's `writeHead` takes them flat: name, value, name, value… */
type Headers = string[];

const MAX_BODY_BYTES = 2 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        reject(new Error('request body too large'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8')));
    req.on('error', reject);
  });
}
