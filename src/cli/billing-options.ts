import type { OptionTable } from './args';

/**
 * The options each command reads (besides `COMMON_OPTIONS`); the parser refuses anything else, so a mistyped
 * --dry-run never applies changes. The help of each command lists them from here.
 */
export const COMMAND_OPTIONS: Record<string, OptionTable> = {
  run: {
    period: { type: 'string', value: 'YYYY-MM', description: 'an ended month (UTC)' },
    concurrency: {
      type: 'string',
      value: 'N',
      description: 'customers invoiced at once (default 4; Stripe pacing is the client rate limiter)',
    },
    'max-attempts': {
      type: 'string',
      value: 'N',
      description: 'attempts per customer in this run before it counts as failed (default 3)',
    },
    'lease-seconds': {
      type: 'string',
      value: 'N',
      description: 'how long a claimed customer belongs to this process (default 120)',
    },
  },
  reconcile: {
    period: { type: 'string', value: 'YYYY-MM', description: 'the month whose invoices are compared' },
    'dry-run': { type: 'boolean', description: 'report what would change, change nothing' },
    'processing-timeout-minutes': {
      type: 'string',
      value: 'N',
      description: 'how long a payment may stay without an outcome before it is checked in Stripe (default 15)',
    },
  },
  'config check': {},
  token: {
    sub: { type: 'string', value: '<user id>', description: 'the AgentHub user id (JWT sub)' },
    role: { type: 'string', value: 'user|admin|service', description: 'default user' },
    expires: {
      type: 'string',
      value: '12h',
      description: "a positive duration: 30m, 12h, 7d (default 12h), within the role's JWT_MAX_LIFETIME_*_SECONDS",
    },
  },
  'seed-demo': { period: { type: 'string', value: 'YYYY-MM', description: 'default: last month' } },
  'webhooks replay': {
    id: { type: 'string', value: '<evt_…>', description: 'one stored event' },
    failed: { type: 'boolean', description: 'every event that ended failed' },
    since: { type: 'string', value: '<ISO time>', description: 'events received since then' },
  },
  'partitions list': {},
  'partitions ensure': {
    'months-ahead': {
      type: 'string',
      value: 'N',
      description: 'months ahead of the current one (default USAGE_PARTITIONS_AHEAD)',
    },
  },
  'partitions drop': {
    'retention-months': {
      type: 'string',
      value: 'N',
      description: 'months kept besides the current one (default USAGE_RETENTION_MONTHS)',
    },
    keep: {
      type: 'boolean',
      description: 'detach the partitions and keep them as plain tables instead of dropping them',
    },
  },
  'webhook-endpoints list': {},
  'webhook-endpoints create': {
    url: { type: 'string', value: '<url>', description: 'where to POST (http or https)' },
    events: { type: 'string', value: '<type,type…>', description: 'event types, comma-separated' },
    description: { type: 'string', value: '<text>', description: 'a note for admins' },
    rate: { type: 'string', value: 'N', description: 'deliveries per second to it, across instances (default 10)' },
  },
  'webhook-endpoints update': {
    id: { type: 'string', value: '<endpoint id>', description: 'the endpoint' },
    url: { type: 'string', value: '<url>', description: 'a new URL' },
    events: { type: 'string', value: '<type,type…>', description: 'new event types, comma-separated' },
    description: { type: 'string', value: '<text>', description: 'a new note' },
    rate: { type: 'string', value: 'N', description: 'a new rate per second' },
  },
  'webhook-endpoints disable': {
    id: { type: 'string', value: '<endpoint id>', description: 'the endpoint' },
    reason: { type: 'string', value: '<text>', description: 'why (shown with the endpoint)' },
  },
  'webhook-endpoints enable': { id: { type: 'string', value: '<endpoint id>', description: 'the endpoint' } },
  'webhook-endpoints rotate-secret': {
    id: { type: 'string', value: '<endpoint id>', description: 'the endpoint' },
    'overlap-hours': {
      type: 'string',
      value: 'N',
      description: 'how long the current secrets keep signing (default 24, 0: end now)',
    },
  },
  'webhook-endpoints deliveries': {
    id: { type: 'string', value: '<endpoint id>', description: 'the endpoint' },
    status: { type: 'string', value: 'pending|delivering|delivered|failed', description: 'only these' },
    limit: { type: 'string', value: 'N', description: 'how many, newest first (1-500, default 50)' },
  },
  'webhook-endpoints replay': {
    delivery: { type: 'string', value: '<delivery id>', description: 'one delivery' },
    id: { type: 'string', value: '<endpoint id>', description: 'the endpoint whose events of a range are sent again' },
    since: { type: 'string', value: '<ISO time>', description: 'events that occurred from then' },
    until: { type: 'string', value: '<ISO time>', description: '… until then (default now)' },
  },
  'webhook-endpoints reencrypt': {},
  'webhooks recover': {
    since: { type: 'string', value: '<ISO time>', description: 'Stripe keeps events for 30 days' },
  },
};
