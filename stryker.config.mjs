// @ts-check
/**
 * `npm run test:mutation`: mutation testing (StrykerJS) of the pricing engine, the decimal helper and the invoice
 * status transitions against their pure unit tests only (jest.mutation.config.js: no database, no server), so a
 * run takes minutes. Not part of CI; the latest score is in README.md ("Test strength").
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
const config = {
  packageManager: 'npm',
  mutate: [
    'src/services/usage/pricing.ts',
    'src/services/shared/decimal.ts',
    'src/services/invoicing/invoice-status.ts',
  ],
  testRunner: 'jest',
  jest: {
    projectType: 'custom',
    // Its own jest config, independent of jest.config.js (whose layout other work changes).
    configFile: 'jest.mutation.config.js',
    // The configured files are already the relevant ones; perTest coverage picks the tests per mutant.
    enableFindRelatedTests: false,
  },
  coverageAnalysis: 'perTest',
  // Mutants that do not type-check are discarded instead of being counted as killed by a compile error.
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.mutation.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
};

export default config;
