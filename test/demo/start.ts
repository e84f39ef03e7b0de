/**
 * npm start: the real thing, locally. Writes the demo models into demo/, installs the packaged
 * extension (.vsix) into a private code-server (VS Code in the browser, on 127.0.0.1 only) and
 * prints the address to open. Ctrl-C stops it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { buildGpt2, buildVit } from '../models/build';
import { CODE_SERVER, hostInstalled } from '../vscode/codeServer';

if (!hostInstalled()) {
  process.stderr.write('npm start runs the extension in code-server with Chromium, which are not installed here (see the note above). Install the .vsix into your own VS Code instead: code --install-extension massive-activations.vsix\n');
  process.exit(1);
}
const repo = path.resolve(__dirname, '..', '..');
const demo = path.join(repo, 'demo');
const runDir = path.join(repo, '.vscode-run');
const port = Number(process.env.PORT ?? 8080);
mkdirSync(demo, { recursive: true });
buildGpt2(demo);
buildVit(demo);
const common = ['--user-data-dir', path.join(runDir, 'ud'), '--extensions-dir', path.join(runDir, 'exts')];
const env = { ...process.env, XDG_CONFIG_HOME: path.join(runDir, 'config'), XDG_DATA_HOME: path.join(runDir, 'data'), EXTENSIONS_GALLERY: '{"serviceUrl":""}' };
const install = spawnSync(CODE_SERVER, [...common, '--force', '--install-extension', path.join(repo, 'massive-activations.vsix')], { env, encoding: 'utf8' });
if (install.status !== 0) {
  process.stderr.write(`Installing the extension into code-server failed:\n${install.stderr}${install.stdout}`);
  process.exit(1);
}
const server = spawn(CODE_SERVER, [...common, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', demo], { env, stdio: ['ignore', 'ignore', 'inherit'] });
const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(demo)}`;
const wait = async () => {
  for (let i = 0; i < 120; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break; } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  process.stdout.write(`\nMassive Activations is running in VS Code (code-server) with the demo models:\n\n  ${url}\n\nOpen it in a browser, right-click demo/gpt2-planted/model.onnx → Inspect Model, then Run. Ctrl-C stops the server.\n`);
};
void wait();
process.on('SIGINT', () => { server.kill('SIGTERM'); process.exit(0); });
server.on('exit', (code) => process.exit(code ?? 0));
