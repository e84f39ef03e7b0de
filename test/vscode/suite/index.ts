import { appendFileSync } from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

/** Loaded by the extension host (extensionTestsPath): runs the extension tests with mocha. */
export function run(): Promise<void> {
  // MA_SUITE_GREP narrows a local run to some tests (CI runs them all).
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: process.env.MA_SUITE_GREP ? 'tap' : 'spec', ...(process.env.MA_SUITE_GREP ? { grep: process.env.MA_SUITE_GREP } : {}) });
  mocha.addFile(path.join(__dirname, 'extension.test.js'));
  mocha.addFile(path.join(__dirname, 'palette.test.js'));
  mocha.addFile(path.join(__dirname, 'hub.test.js'));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      // The count the runner checks, whichever VS Code ran the suite (its console may not reach the runner).
      if (process.env.MA_EXTENSION_OUTPUT) appendFileSync(process.env.MA_EXTENSION_OUTPUT, `\nsuite: ${runner.stats?.passes ?? 0} passing, ${failures} failing\n`);
      if (failures) reject(new Error(`${failures} extension tests failed`));
      else resolve();
    });
  });
}
