#!/usr/bin/env node
// The suite on a busy machine: runs `npm test` several times in a row (5 by default, STRESS_RUNS) while busy loops
// hold the CPU (2 by default, STRESS_BUSY_LOOPS), and prints how many runs and tests passed. Arguments go to jest,
// e.g. `npm run test:stress -- --selectProjects unit`. Exit code 0 only when every run passed every test.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const runs = Number(process.env.STRESS_RUNS ?? 5);
const loops = Number(process.env.STRESS_BUSY_LOOPS ?? 2);
const jestArgs = process.argv.slice(2);
const dir = mkdtempSync(path.join(tmpdir(), 'billing-stress-'));

const busy = Array.from({ length: loops }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
const stopBusy = () => busy.forEach((child) => child.kill('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopBusy();
    process.exit(130);
  });
}

function runOnce(index) {
  const outputFile = path.join(dir, `run-${index}.json`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('npm', ['test', '--', '--ci', '--json', `--outputFile=${outputFile}`, ...jestArgs], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('exit', (code) => {
      const seconds = (Date.now() - started) / 1000;
      let result = null;
      try {
        result = JSON.parse(readFileSync(outputFile, 'utf8'));
      } catch {
        // No report: jest itself failed (a compile error in global setup…); counted as a failed run.
      }
      resolve({ code, seconds, result });
    });
  });
}

const summaries = [];
try {
  console.log(`test:stress: ${runs} runs of npm test with ${loops} busy loops holding the CPU`);
  for (let i = 1; i <= runs; i += 1) {
    const { code, seconds, result } = await runOnce(i);
    const failed = result
      ? result.testResults.flatMap((file) =>
          file.assertionResults
            .filter((a) => a.status === 'failed')
            .map((a) => `${path.relative(process.cwd(), file.name)} › ${a.fullName}`),
        )
      : ['(no jest report)'];
    const passed = result?.numPassedTests ?? 0;
    const total = result?.numTotalTests ?? 0;
    const skipped = (result?.numPendingTests ?? 0) + (result?.numTodoTests ?? 0);
    const ok = code === 0 && failed.length === 0;
    summaries.push({ ok, passed, total, skipped });
    console.log(
      `run ${i}: ${ok ? 'passed' : 'FAILED'}, ${passed} of ${total} tests passed` +
        `${skipped ? ` (${skipped} skipped)` : ''}, ${seconds.toFixed(0)} s`,
    );
    failed.forEach((name) => console.log(`  failed: ${name}`));
  }
} finally {
  stopBusy();
  rmSync(dir, { recursive: true, force: true });
}
const runsPassed = summaries.filter((s) => s.ok).length;
const testsPassed = summaries.reduce((sum, s) => sum + s.passed, 0);
const testsRun = summaries.reduce((sum, s) => sum + s.total - s.skipped, 0);
console.log(`test:stress: ${runsPassed} of ${runs} runs passed; ${testsPassed} of ${testsRun} tests passed in all`);
process.exit(runsPassed === runs ? 0 : 1);
