import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Shared test helpers: where shared/ is, a temp folder per test process, folder fingerprints. */
export const SHARED = path.resolve(__dirname, '..', '..', 'shared');
export const SHARED_MODELS = path.join(SHARED, 'models');
export const REAL_EXPORTS = path.join(SHARED_MODELS, 'real-exports');
export const STORIES_BIN = path.join(SHARED_MODELS, 'stories260K.bin');
export const HAVE_SHARED = existsSync(REAL_EXPORTS) && existsSync(STORIES_BIN);
export const SKIP_SHARED = HAVE_SHARED ? false : `../shared/models is absent (looked in ${SHARED_MODELS}); tests on real model files skipped`;
if (!HAVE_SHARED) process.stderr.write(`NOTE: ${SKIP_SHARED}\n`);

export const REPO = path.resolve(__dirname, '..');
export const CLI = path.join(REPO, 'dist', 'cli.js');
export const WORKER = path.join(REPO, 'dist', 'worker.js');

/**
 * A temp folder for one test process, removed when the process exits (the fuzz harness alone
 * writes gigabytes of mutated models per run). KEEP_TEST_FILES=1 keeps them for a post-mortem.
 */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ma-${tag}-`));
  if (!process.env.KEEP_TEST_FILES) process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** sha256 of every file under dir (names, sizes, contents): to prove nothing was modified. */
export function fingerprint(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        // A link that dangles or loops: what it points to is all there is to compare.
        h.update(`${path.relative(dir, p)}\0->${readlinkSync(p)}\0`);
        continue;
      }
      // A linked folder is not walked: it may be this very folder (a link to ".").
      if (st.isDirectory() && lstatSync(p).isSymbolicLink()) h.update(`${path.relative(dir, p)}\0->${readlinkSync(p)}\0`);
      else if (st.isDirectory()) walk(p);
      else { h.update(`${path.relative(dir, p)}\0${st.size}\0${st.mtimeMs}\0`); h.update(readFileSync(p)); }
    }
  };
  walk(dir);
  return h.digest('hex');
}

export const PAPER_PROMPT = 'Summer is warm. Winter is cold.';
