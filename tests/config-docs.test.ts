import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { loadConfig } from '../src/config/config';
import {
  CONFIGURATION_PAGE,
  ENV_EXAMPLE_FILE,
  renderConfigurationPage,
  renderEnvExample,
  renderGroupTable,
} from '../src/config/config-docs';
import { CONFIG_GROUPS, CONFIG_VARIABLES } from '../src/config/config-schema';
import { describeConfig } from '../src/config/describe-config';

const root = path.resolve(__dirname, '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

describe('the configuration schema and what is derived from it', () => {
  it('.env.example is what the schema renders (run `npm run docs:config` after changing a variable)', () => {
    expect(read(ENV_EXAMPLE_FILE)).toBe(renderEnvExample());
  });

  it('the tables of docs/configuration.md are what the schema renders (run `npm run docs:config`)', () => {
    const page = read(CONFIGURATION_PAGE);
    expect(page).toBe(renderConfigurationPage(page));
    for (const variable of CONFIG_VARIABLES) {
      expect(page).toContain(`| \`${variable.name}\` `);
    }
  });

  it('renders every group once, keeps the prose around the tables, and refuses a page without a group', () => {
    const page = read(CONFIGURATION_PAGE);
    const stale = page.replace(/\| `PORT` .*\n/, '');
    expect(renderConfigurationPage(stale)).toBe(page);
    const withoutStripe = page.replace('<!-- config-table:start stripe -->', '<!-- config-table:start nothing -->');
    expect(() => renderConfigurationPage(withoutStripe)).toThrow(/no configuration group "nothing"/);
    const stripeTable = /<!-- config-table:start stripe -->[\s\S]*?<!-- config-table:end -->/.exec(page)![0];
    expect(() => renderConfigurationPage(page.replace(stripeTable, ''))).toThrow(/"stripe" appears 0 times/);
    expect(renderGroupTable('stripe')).toMatch(/\| `STRIPE_EMULATOR_PORT` +\| `12111`/);
  });

  it('names each variable once, in a known group, and every group has variables', () => {
    const names = CONFIG_VARIABLES.map((variable) => variable.name);
    expect(new Set(names).size).toBe(names.length);
    for (const group of Object.keys(CONFIG_GROUPS)) {
      expect(CONFIG_VARIABLES.some((variable) => variable.group === group)).toBe(true);
    }
  });

  it('accepts its own defaults and the examples .env.example shows', () => {
    for (const variable of CONFIG_VARIABLES) {
      for (const value of [variable.default, variable.defaultInTest, variable.example]) {
        // Secret examples are placeholders (sk_test_...), refused until a real value is filled in.
        if (value && !(variable.secret === 'value' && value === variable.example)) {
          expect([variable.name, variable.schema.safeParse(value).success]).toEqual([variable.name, true]);
        }
      }
    }
  });

  it('.env.example sets nothing as copied, and works once uncommented', () => {
    const example = read(ENV_EXAMPLE_FILE);
    expect(parseDotenv(example)).toEqual({});
    const uncommented = parseDotenv(example.replace(/^# ([A-Z_]+=)/gm, '$1'));
    expect(Object.keys(uncommented).sort()).toEqual(CONFIG_VARIABLES.map((variable) => variable.name).sort());
    const placeholders = [
      'STRIPE_SECRET_KEY',
      'STRIPE_PUBLISHABLE_KEY',
      'STRIPE_WEBHOOK_SECRET',
      'SECRETS_ENCRYPTION_KEYS',
    ];
    const env = Object.fromEntries(Object.entries(uncommented).filter(([name]) => !placeholders.includes(name)));
    expect(loadConfig(env)).toMatchObject({
      port: 8000,
      stripe: { mode: 'emulator', emulatorPort: 12111 },
      auth: { jwksUrl: 'https://id.example.com/.well-known/jwks.json' },
    });
  });

  it('config:check prints one row per variable, secrets masked', () => {
    const rows = describeConfig(loadConfig({}));
    const printed = rows.map(([name]) => name);
    expect(printed.filter((name) => name !== 'Stripe mode')).toEqual(CONFIG_VARIABLES.map((variable) => variable.name));
    expect(Object.fromEntries(rows)).toMatchObject({
      'Stripe mode': 'emulator',
      STRIPE_SECRET_KEY: '(local emulator)',
      STRIPE_API_BASE: '(api.stripe.com or the local emulator)',
      COMPANY_ADDRESS: '(not set)',
      TRUST_PROXY: 'false (client address = socket peer)',
    });
  });
});
