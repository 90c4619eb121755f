/**
 * The pure unit tests that exercise the code under mutation (stryker.config.json), and nothing else: no database,
 * no server, no local Stripe, so each of the thousands of mutant runs takes milliseconds. Kept apart from
 * jest.config.js on purpose, so the mutation run does not change when the main suite's layout does.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/tests'],
  testMatch: [
    '<rootDir>/tests/decimal.test.ts',
    '<rootDir>/tests/money.test.ts',
    '<rootDir>/tests/pricing.test.ts',
    '<rootDir>/tests/invoice-status.test.ts',
  ],
  transform: {
    // isolatedModules (tsconfig.json): transpile only; `npm run typecheck` is the type check.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  setupFiles: ['reflect-metadata'],
};
