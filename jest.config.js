/**
 * Three layers, each runnable alone (`npx jest --selectProjects unit`):
 * - unit: pure code (pricing, decimals, transitions, configuration, Stripe error mapping…), seconds, no database;
 * - integration: a real database (PostgreSQL with TEST_DATABASE_URL, else embedded PGlite) and the local Stripe,
 *   in process; every file copies a database migrated once per run (tests/setup/global-setup.ts);
 * - e2e: what crosses a process or a socket as a user sees it: the compiled server and CLI (built once per run
 *   into .test-build/), the payment guide's Python examples, GraphQL over WebSocket.
 * A test file belongs to `integration` unless it is listed under `unit` or `e2e`.
 */
const UNIT = [
  'bench-runner',
  'emulator/collection',
  'config',
  'config-docs',
  'decimal',
  'invoice-items-plan',
  'invoice-status',
  'lib/backoff',
  'lib/json-depth',
  'lib/token-bucket',
  'money',
  'pricing',
  'schema',
  'sql-status-literals',
  'billing/cli-flags',
  'token-policy',
  'text-limits',
  'rest/billing-responses',
  'stripe/idempotency-keys',
  'stripe/rate-limiter',
  'stripe/stripe-client',
  'stripe/stripe-errors',
];
const E2E = [
  'startup',
  'bench-scripts',
  'tracing',
  'billing/cli',
  'rest/guide-examples',
  'api-hygiene',
  'auth',
  'abuse',
  'invoices',
  'invoice-queries',
  'status-feed',
  'unstorable-text',
  'graphql-streams',
  'browser/dashboard',
  'browser/explorer',
  'browser/admin-views',
  'browser/payment-outcomes',
  'browser/embed',
];
const files = (names) => names.map((name) => `<rootDir>/tests/${name}.test.ts`);

/** @type {import('jest').Config} */
const base = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  transform: {
    // isolatedModules: transpile only (fast); `npm run typecheck` is the type check.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  setupFiles: ['reflect-metadata'],
  // The fidelity guard: every response and event of a local Stripe checked against the SDK's schemas.
  setupFilesAfterEnv: ['<rootDir>/tests/setup/fidelity.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  maxWorkers: 2,
  // Only a guard against a hang (a run-wide option: projects do not take it): tests wait for events, not durations.
  testTimeout: 120_000,
  // With --coverage (CI's PostgreSQL run): the summary is printed, and the run fails below the floor.
  collectCoverageFrom: ['src/**/*.ts', '!src/entities/migrations/**'],
  coverageReporters: ['text-summary', 'json-summary'],
  coverageThreshold: {
    './src/services/': { lines: 90 },
    './src/webhooks/': { lines: 90 },
  },
  projects: [
    { ...base, displayName: 'unit', testMatch: files(UNIT) },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...[...UNIT, ...E2E].map((name) => `/tests/${name}\\.test\\.ts$`)],
      globalSetup: '<rootDir>/tests/setup/integration-setup.ts',
      globalTeardown: '<rootDir>/tests/setup/teardown.ts',
    },
    {
      ...base,
      displayName: 'e2e',
      testMatch: files(E2E),
      // Its local Stripes deliver webhooks as Stripe does (late, some twice, in any order): tests/helpers/delivery.ts.
      globals: { STRIPE_DELIVERY_DEFAULT: 'realistic' },
      globalSetup: '<rootDir>/tests/setup/e2e-setup.ts',
      globalTeardown: '<rootDir>/tests/setup/teardown.ts',
    },
  ],
};
