import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ROOT } from './build';

/** Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it when missing). Playwright downloads nothing. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots of each view, kept after the run for a human to look at (gitignored). */
export const ARTEFACTS_DIR = path.join(ROOT, 'test-artifacts', 'browser');

/**
 * Headless Chromium as root on a closed network: no sandbox (root), and no background networking, component updates
 * or sync, whose connection attempts this machine refuses by the dozen.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTEFACTS_DIR, { recursive: true });
  const file = path.join(ARTEFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Cuts the context off from everything but `origin`, as a machine without a network: any other request is aborted
 * and recorded, so a test can assert that none was even attempted.
 */
export async function offlineBut(context: BrowserContext, origin: string): Promise<string[]> {
  const blocked: string[] = [];
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith('data:') || url.startsWith('blob:')) {
      await route.continue();
    } else {
      blocked.push(url);
      await route.abort('internetdisconnected');
    }
  });
  return blocked;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; html: string }>;
}

/**
 * A violation accepted on one node of a third-party widget that our page cannot change: the rule, a CSS selector the
 * node must match, and why (said in the test that passes it).
 */
export interface AcceptedViolation {
  rule: string;
  selector: string;
}

/**
 * Runs axe-core in the page; answers the serious and critical violations (WCAG A and AA rules), less the `accepted`
 * ones: a node is dropped from a rule's violation only when it matches that rule's selector, so any other node, or
 * any other rule on the same node, still fails.
 */
export async function seriousAccessibilityViolations(
  page: Page,
  accepted: AcceptedViolation[] = [],
): Promise<AxeViolation[]> {
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.addScriptTag({ content: source });
  // A string, evaluated in the page (this project's TypeScript has no DOM types).
  const violations = (await page.evaluate(`(async () => {
    const accepted = ${JSON.stringify(accepted)};
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    const isAccepted = (rule, node) => {
      const element = node.target.length === 1 ? document.querySelector(node.target[0]) : null;
      return accepted.some((a) => a.rule === rule && element !== null && element.matches(a.selector));
    };
    return result.violations
      .map(({ id, impact, help, nodes }) => ({
        id, impact, help,
        nodes: nodes.filter((node) => !isAccepted(id, node)).map((node) => ({ target: node.target, html: node.html })),
      }))
      .filter((violation) => violation.nodes.length > 0);
  })()`)) as AxeViolation[];
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}
