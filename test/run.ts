/**
 * Runs every test file (test/<area>/<name>.test.ts) with Node's test runner, without relying on
 * the shell to expand a glob (Windows' does not). Suites that cannot run here skip with a reason.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

const root = __dirname;
const files = readdirSync(root).filter((d) => statSync(path.join(root, d)).isDirectory())
  .flatMap((d) => readdirSync(path.join(root, d)).filter((f) => f.endsWith('.test.ts')).map((f) => path.join('test', d, f)))
  .sort();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...files, ...process.argv.slice(2)], { stdio: 'inherit', cwd: path.dirname(root) });
process.exitCode = r.status ?? 1;
