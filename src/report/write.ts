import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError, word } from '../engine/base/errors';
import { checkOutputs, writeFileAtomic, type Protected } from '../engine/base/outputs';
import { printable, terminalSafe } from '../engine/base/text';
import { cliWording } from '../shared/cliWording';
import type { ReportFile } from './report';

/** A report goes into a new or empty folder: said before anything runs, and again as it is written. */
export function checkReportFolder(dir: string): void {
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length)) {
    throw new EngineError('unsafe-output', `${printable(dir)} is ${statSync(dir).isDirectory() ? 'a folder that is not empty' : 'a file'}: give a new or empty folder for the report (it never replaces a file).`);
  }
}

/**
 * Writes a report's files into `dir`, which must be new or empty (a report never replaces a file)
 * and holds none of the files its runs read; all are checked before the first is written.
 * report.md's option names are the command line's (it cites command lines), its model-controlled
 * text (token strings) without control characters.
 */
export function writeReport(dir: string, files: ReportFile[], inputs: Protected[] = []): string[] {
  checkReportFolder(dir);
  const targets = files.map((f) => path.join(dir, ...f.path.split('/')));
  checkOutputs(targets.map((t) => ['A report file', t] as [string, string]), inputs);
  mkdirSync(dir, { recursive: true });
  files.forEach((f, k) => {
    mkdirSync(path.dirname(targets[k]), { recursive: true });
    writeFileAtomic(targets[k], f.path.endsWith('.md') ? terminalSafe(word(f.content, cliWording)).replace(/\r/g, '') : f.content, 'report file');
  });
  return targets;
}
