import { execFile } from 'node:child_process';
import path from 'node:path';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { operator } from '../helpers/fixtures';
import type { RestServer } from './rest-harness';
import { documentedSchema, schemaProblems, startRestServer } from './rest-harness';

const SCRIPT = path.join(__dirname, 'guide-examples.py');

interface Ran {
  code: number | string | null;
  stdout: string;
  stderr: string;
}

/** Runs the guide's Python examples; never skips: a machine without python3 or requests fails with what to install. */
function runGuideExamples(env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      [SCRIPT],
      // The server is on loopback: a proxy configured for the machine must not carry the examples' requests.
      {
        env: { ...process.env, ...env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
        timeout: 20_000,
      },
      (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
          reject(
            new Error(
              'python3 is not on PATH: the payment guide examples are Python. Install python3 and python3-requests ' +
                '(Debian: apt-get install python3 python3-requests; .ci/run does this in CI).',
            ),
          );
          return;
        }
        if (/No module named ['"]?requests/.test(stderr)) {
          reject(
            new Error(
              "The python3 on PATH cannot import requests, which the guide's examples use. Install it " +
                '(Debian: apt-get install python3-requests; .ci/run does this in CI), or pip install requests.',
            ),
          );
          return;
        }
        resolve({ code: error ? ((error as { code?: number | string }).code ?? null) : 0, stdout, stderr });
      },
    );
  });
}

describe("the payment guide's Python examples, run unchanged (with a bearer token) against a real server", () => {
  let s: RestServer;

  beforeAll(async () => {
    s = await startRestServer();
    await seedDefaultCatalogue(s.t.database.db.orm.em.fork());
  });
  afterAll(() => s.close());

  it('create the 2024-01 invoice of user 123, pay it with pm_card_visa ("user_id": 123, a number), read its status', async () => {
    // Usage first, as the platform records it: 12,750,000 input tokens at $0.000002 = $25.50, the guide's amount.
    const op = await operator(s.t);
    const recorded = await op.record([
      { userId: '123', metric: 'llm_input_tokens', quantity: '12750000', occurredAt: '2024-01-15T10:00:00Z' },
    ]);
    expect(recorded).toMatchObject({ accepted: 1, rejected: [] });

    const ran = await runGuideExamples({ BASE: s.url, TOKEN: await s.t.token('123') });
    const steps = ran.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { step: string; status: number; body: Record<string, unknown> });
    const output = `stdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`;
    expect({ code: ran.code, steps: steps.map((step) => [step.step, step.status]), output }).toEqual({
      code: 0,
      steps: [
        ['create', 200],
        ['pay', 200],
        ['status', 200],
      ],
      output: expect.any(String),
    });

    const [created, paid, status] = steps.map((step) => step.body);
    expect(created).toMatchObject({ success: true, user_id: '123', month: '2024-01', status: 'sent', amount: 25.5 });
    expect(paid).toMatchObject({
      success: true,
      invoice_id: created.invoice_id,
      status: 'paid',
      is_paid: true,
      amount_paid: 25.5,
    });
    expect(status).toMatchObject({ success: true, invoice_id: created.invoice_id, status: 'paid', is_paid: true });
    expect(schemaProblems(documentedSchema('/api/v1/billing/invoice/{invoice_id}/pay', 'post', 200), paid)).toEqual([]);
    // Stripe charged exactly our total, once.
    const stripeInvoices = await s.t.stripe.invoices.list({ limit: 10 });
    expect(stripeInvoices.data.map((i) => [i.status, i.amount_paid])).toEqual([['paid', 2550]]);
  });
});
