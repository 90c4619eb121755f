/**
 * The layers' rules (checked in CI by `npm run lint:deps`): dependencies point one way, down
 * resolvers/http/webhooks/cli → services → entities/stripe/config/lib, and nothing loops.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No import circles: a module must be understandable without the modules that use it.',
      // Entities are the exception: an ORM relation names both ends (Invoice ↔ InvoiceLine), lazily.
      from: { path: '^(src|emulator)/', pathNot: '^src/entities/' },
      to: { circular: true },
    },
    {
      name: 'services-stay-below-the-edges',
      severity: 'error',
      comment: 'Use cases know nothing of their transports (GraphQL, REST, webhooks, CLI).',
      from: { path: '^src/services/' },
      to: { path: '^src/(http|resolvers|webhooks|cli|server/|main\\.ts)' },
    },
    {
      name: 'shared-is-the-floor-of-the-services',
      severity: 'error',
      comment: 'src/services/shared holds what every domain folder uses; it uses none of them.',
      from: { path: '^src/services/shared/' },
      to: { path: '^src/services/(?!shared/)' },
    },
    {
      name: 'only-the-gateway-talks-to-stripe',
      severity: 'error',
      comment: 'src/stripe is the one place that imports the stripe SDK; everything else uses its snapshot types.',
      from: { path: '^src/', pathNot: '^src/stripe/' },
      to: { path: '^node_modules/stripe/' },
    },
    {
      name: 'only-the-queue-talks-to-nats',
      severity: 'error',
      comment:
        'src/queue is the one place that imports the NATS clients; the usage services see only their interfaces.',
      from: { path: '^src/', pathNot: '^src/queue/' },
      to: { path: '^node_modules/@nats-io/' },
    },
    {
      name: 'queue-stays-below-the-edges',
      severity: 'error',
      comment: 'The queue adapter is infrastructure under the services: no transport, no server assembly.',
      from: { path: '^src/queue/' },
      to: { path: '^src/(http|resolvers|webhooks|cli|server/|main\\.ts)' },
    },
    {
      name: 'lib-is-infrastructure',
      severity: 'error',
      comment:
        'src/lib holds infrastructure every layer may use (the token bucket, the backoff): it knows only the clock.',
      from: { path: '^src/lib/' },
      to: { path: '^src/(?!lib/|config/clock\\.ts$)' },
    },
    {
      name: 'entities-are-the-floor',
      severity: 'error',
      comment: 'Entities depend on nothing of ours above them.',
      from: { path: '^src/entities/' },
      to: { path: '^src/(services|http|resolvers|webhooks|cli|stripe|schema)/' },
    },
    {
      name: 'the-dashboard-speaks-only-the-public-api',
      severity: 'error',
      comment:
        'dashboard/ is a browser app: it reaches the server only over GraphQL (its types come from codegen), never ' +
        'by importing server or emulator code.',
      from: { path: '^dashboard/' },
      to: { path: '^(src|emulator|tests)/' },
    },
    {
      name: 'the-emulator-is-a-separate-program',
      severity: 'error',
      comment:
        'The local Stripe reaches the app only over HTTP; it imports nothing from src/ but the currency table, so ' +
        'the server and the local Stripe agree on every currency, its minor unit, its charge limits and its writing.',
      from: { path: '^emulator/' },
      to: { path: '^src/', pathNot: '^src/config/currencies\\.ts$' },
    },
    {
      name: 'the-currency-table-stands-alone',
      severity: 'error',
      comment:
        'src/config/currencies.ts is shared with the local Stripe: it imports nothing of ours, server or emulator.',
      from: { path: '^src/config/currencies\\.ts$' },
      to: { path: '^(src|emulator|dashboard)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(tests|dist|\\.test-build)/' },
  },
};
