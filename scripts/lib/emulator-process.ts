import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { undoOnSignal } from './bench-util';

/**
 * Starts the local Stripe (dist/emulator/main.js) in a child process, so it has a core of its own; resolves with its
 * URL once it listens. `args` are its command-line options (e.g. `--rate-limit 25`); `main`, another build of it (e.g.
 * main's, to measure both in one run). Stopped with the script when a signal stops it (undoOnSignal): it does not end
 * when its parent does, and would go on holding its port and a core.
 */
export async function spawnEmulator(
  args: string[] = [],
  main = path.join(__dirname, '..', '..', 'emulator', 'main.js'),
): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(main, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  child.once(
    'exit',
    undoOnSignal(() => child.kill()),
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return { url, child };
}
