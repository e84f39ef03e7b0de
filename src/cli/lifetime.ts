import { readlinkSync } from 'node:fs';
import { fileError } from '../engine/base/files';
import { terminalSafe } from '../engine/base/text';
import type { EngineClient } from '../worker/client';

/**
 * The engine belongs to the command that started it. ONNX Runtime cannot be interrupted inside a
 * run, so stopping means ending the engine process; left alone it would run on, re-parented, at
 * full use of every core until its pass ends (minutes on a 7B model). On SIGINT, SIGTERM and SIGHUP
 * the engine is killed before this process exits; if this process is killed outright (SIGKILL),
 * the engine's own watch of its parent ends it (worker/parentWatch.ts).
 */
const SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

export function bindEngine(client: EngineClient): void {
  const leave = (code: number, message?: string): never => {
    client.killNow();
    if (message) process.stderr.write(message);
    process.exit(code);
  };
  for (const [signal, code] of Object.entries(SIGNALS)) {
    process.once(signal, () => leave(code, signal === 'SIGINT' ? '\nmassive-activations: cancelled.\n' : `\nmassive-activations: stopped (${signal}).\n`));
  }
  // A reader that went away (`… | head -1`) is no error: leave quietly, as other tools do. Any other
  // failure to write the result (a full disk) is named with the file behind standard output.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') leave(0);
    leave(1, `massive-activations: ${terminalSafe(fileError(e, outputName(), 'output').message)}\n`);
  });
  process.stderr.on('error', () => leave(1));
}

/** Where standard output goes, for a message (Linux names it; elsewhere "standard output"). */
function outputName(): string {
  try {
    const target = readlinkSync('/proc/self/fd/1');
    return target.startsWith('/') ? `(standard output, ${target})` : '(standard output)';
  } catch {
    return '(standard output)';
  }
}
