/**
 * npm test's set-up step for the VS Code tests: on Debian-like Linux, installs Chromium, ripgrep
 * and code-server (install-host.sh); elsewhere (macOS, Windows, no apt) it says what will be
 * skipped and why, and npm test runs everything else. With MA_REQUIRE_UI_TESTS=1 (CI) a failed
 * install fails the run instead: CI must not go green by skipping the UI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { hostInstalled } from './codeServer';

const required = process.env.MA_REQUIRE_UI_TESTS === '1';
const note = (why: string) => process.stderr.write(`\nnote: the VS Code extension and UI tests will be skipped: ${why}\n      Everything else runs. On Debian or Ubuntu, npm test installs what they need (Chromium, ripgrep, code-server).\n\n`);

function main(): number {
  if (hostInstalled()) return 0;
  if (process.platform !== 'linux') { note(`they drive code-server with Debian's Chromium, set up by apt; this is ${process.platform}.`); return required ? 1 : 0; }
  const hasApt = ['/usr/bin/apt-get', '/bin/apt-get'].some((f) => existsSync(f));
  if (!hasApt) { note('this Linux has no apt-get to install Chromium and ripgrep with.'); return required ? 1 : 0; }
  const r = spawnSync('bash', [path.join(__dirname, 'install-host.sh')], { stdio: 'inherit' });
  if (r.status === 0) return 0;
  note(`installing them failed (exit ${r.status ?? r.signal}); see the output above.`);
  return required ? 1 : 0;
}

process.exitCode = main();
