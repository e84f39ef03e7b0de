/**
 * A "VS Code executable" for @vscode/test-electron's runTests(): takes the arguments it passes to
 * VS Code (--extensionDevelopmentPath=, --extensionTestsPath=, --user-data-dir=, the folder to
 * open), starts code-server (a real workbench and Node extension host) and Chromium, runs the
 * extension tests in that extension host, prints their output and exits with their exit code.
 * On a machine with desktop VS Code, runTests() starts that instead (see runExtensionTests.ts).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { browser, startCodeServer, workbenchUrl } from './codeServer';

const TIMEOUT_MS = 240_000;

/** The extension host's console: into the runner's file (MA_EXTENSION_OUTPUT) where it gives one, else standard output. */
const print = (text: string) => (process.env.MA_EXTENSION_OUTPUT ? appendFileSync(process.env.MA_EXTENSION_OUTPUT, text) : process.stdout.write(text));

function flag(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

async function main(args: string[]): Promise<number> {
  const dev = flag(args, 'extensionDevelopmentPath');
  const tests = flag(args, 'extensionTestsPath');
  const folder = args.find((a) => !a.startsWith('--'));
  if (!dev || !tests || !folder) { process.stderr.write('usage: codeServerAsVscode FOLDER --extensionDevelopmentPath=P --extensionTestsPath=P [--user-data-dir=D]\n'); return 2; }
  // The runner's profile folder holds everything this run writes (code-server's data, Chromium's profile).
  const runDir = path.dirname(flag(args, 'user-data-dir') ?? path.join(folder, '.vscode-test', 'user-data'));
  mkdirSync(runDir, { recursive: true });
  const server = await startCodeServer(path.join(runDir, 'code-server'), { extensionsDir: flag(args, 'extensions-dir') });
  const ctx = await browser(path.join(runDir, 'chromium'));
  try {
    const page = await ctx.newPage();
    const exit = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
      void page.exposeFunction('codeAutomationLog', (_type: string, logged: unknown[]) => print(`${printf(logged)}\n`));
    });
    await page.goto(workbenchUrl(server, folder, [['extensionDevelopmentPath', dev], ['extensionTestsPath', tests], ['skipWelcome', 'true']]));
    // Unref'd: a pending timer must not hold the process open after the tests end.
    return await Promise.race([exit, new Promise<number>((r) => setTimeout(() => r(-1), TIMEOUT_MS).unref())]);
  } finally {
    await ctx.close();
    await server.stop();
  }
}

/** The extension host forwards console calls as (format, ...args): apply the format. */
export function printf(args: unknown[]): string {
  const [first, ...rest] = args;
  if (typeof first !== 'string') return args.map(String).join(' ');
  let i = 0;
  const text = first.replace(/%[sdifoOj]/g, () => (i < rest.length ? String(rest[i++]) : ''));
  return [text, ...rest.slice(i).map(String)].join(' ');
}

if (require.main === module) main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`${(e as Error)?.stack ?? e}\n`); process.exitCode = 1; });
