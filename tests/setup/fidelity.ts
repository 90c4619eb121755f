import path from 'node:path';
import { fidelity, formatViolation } from '../../emulator/fidelity/guard';
import { deliveryCounts } from '../../emulator/webhook-delivery';
import { addStats } from '../helpers/fidelity';

/**
 * The fidelity guard, on in every test file unless `STRIPE_FIDELITY_GUARD=0`: each local Stripe started here checks
 * every response and event against the `stripe` package's schemas (emulator/fidelity/guard.ts). A violation fails
 * the test during which it happened, named in the message; one that comes after the file's last test (a late
 * webhook) fails the file.
 */
process.env.STRIPE_FIDELITY_GUARD ??= '1';
fidelity.testName = () => expect.getState().currentTestName;

let violations = 0;

function assertNone(when: string): void {
  const found = fidelity.take();
  violations += found.length;
  if (found.length > 0) {
    throw new Error(
      `The local Stripe broke the stripe SDK's schemas ${when} (${found.length} violation(s)); fix the emulator:\n  ` +
        found.map(formatViolation).join('\n  '),
    );
  }
}

afterEach(() => assertNone('during this test'));

afterAll(() => {
  addStats({
    file: path.relative(process.cwd(), expect.getState().testPath ?? ''),
    responses: fidelity.responses,
    events: fidelity.events,
    violations,
    webhooks: { ...deliveryCounts },
  });
  assertNone('after the last test of this file');
});
