import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * A real VS Code for tests: code-server (workbench + Node extension host) on loopback, driven by
 * Debian's Chromium through playwright-core (design/VSCODE-TESTING.md).
 */
export const HOST_DIR = path.join(__dirname, 'host');
export const CODE_SERVER = path.join(HOST_DIR, 'node_modules', '.bin', 'code-server');
export const CHROMIUM = '/usr/bin/chromium';

export function hostInstalled(): boolean {
  return existsSync(CODE_SERVER) && existsSync(CHROMIUM);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

export interface Server { port: number; proc: ChildProcess; runDir: string; stop(): Promise<void> }

/** Installs a packaged extension (.vsix) into an extensions folder, as a user does. */
export function installVsix(vsix: string, extensionsDir: string, runDir: string): void {
  const r = spawnSync(CODE_SERVER, ['--extensions-dir', extensionsDir, '--user-data-dir', path.join(runDir, 'ud'), '--force', '--install-extension', vsix], {
    encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: path.join(runDir, 'config'), XDG_DATA_HOME: path.join(runDir, 'data'), EXTENSIONS_GALLERY: '{"serviceUrl":""}' },
  });
  if (r.status !== 0) throw new Error(`installing ${vsix} failed:\n${r.stderr}${r.stdout}`);
}

export async function startCodeServer(
  runDir: string, opts: { theme?: string; env?: Record<string, string>; extensionsDir?: string; settings?: Record<string, unknown> } = {},
): Promise<Server> {
  const port = await freePort();
  const ud = path.join(runDir, 'ud');
  mkdirSync(path.join(ud, 'User'), { recursive: true });
  writeFileSync(path.join(ud, 'User', 'settings.json'), JSON.stringify({
    'workbench.colorTheme': opts.theme ?? 'Default Dark Modern',
    'workbench.startupEditor': 'none',
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'workbench.tips.enabled': false,
    'extensions.autoCheckUpdates': false,
    'window.commandCenter': false,
    'chat.commandCenter.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    ...opts.settings,
  }));
  const proc = spawn(CODE_SERVER, [
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--user-data-dir', ud, '--extensions-dir', opts.extensionsDir ?? path.join(runDir, 'exts'),
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--ignore-last-opened',
  ], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env, XDG_CONFIG_HOME: path.join(runDir, 'config'), XDG_DATA_HOME: path.join(runDir, 'data'), EXTENSIONS_GALLERY: '{"serviceUrl":""}' },
  });
  let log = '';
  proc.stdout?.on('data', (d) => { log += d; });
  proc.stderr?.on('data', (d) => { log += d; });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`code-server did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    port, proc, runDir,
    stop: async () => {
      // Its file watcher is a child: kill the whole process group.
      try { process.kill(-proc.pid!, 'SIGTERM'); } catch { /* already gone */ }
      await new Promise((r) => setTimeout(r, 300));
      try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
    },
  };
}

export function workbenchUrl(s: Server, folder: string, payload: [string, string][]): string {
  const remote = (p: string) => `vscode-remote://127.0.0.1:${s.port}${p}`;
  const mapped = payload.map(([k, v]) => [k, k.endsWith('Path') ? remote(v) : v]);
  return `http://127.0.0.1:${s.port}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(mapped))}`;
}

export async function browser(profileDir: string, viewport = { width: 1600, height: 1000 }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export type { Page };
