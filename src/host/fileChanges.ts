import { statSync, watch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import { realpathSync } from 'node:fs';

/** What identifies a file's content on disk without reading it: size, modification time, inode. */
function signature(file: string): string {
  try {
    const s = statSync(file);
    return `${s.size}:${s.mtimeMs}:${s.ino}`;
  } catch {
    return 'missing';
  }
}

/**
 * Calls `onChange` when any of `files` changes on disk (rewritten, replaced, deleted, re-linked).
 * Watches folders, not files: exporters and the Hugging Face cache replace files by renaming a new
 * one over them, which a watch on the old file never sees; a symlinked file is watched both where the
 * link is and where its target is. A change is reported once the files' signatures differ from what
 * they were when watching began (or last reported), so touching a folder's other files does nothing.
 */
export class FileChanges {
  private readonly watchers: FSWatcher[] = [];
  private signatures: Map<string, string>;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly files: string[], private readonly onChange: (changed: string[]) => void, private readonly settleMs = 200) {
    this.signatures = new Map(files.map((f) => [f, signature(f)]));
    const folders = new Set<string>();
    for (const f of files) {
      folders.add(path.dirname(f));
      try { folders.add(path.dirname(realpathSync(f))); } catch { /* a missing file: its folder is watched */ }
    }
    for (const dir of folders) {
      try {
        const w = watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // A folder that cannot be watched (gone, or no permission) leaves results unmarked, not an error.
      }
    }
  }

  /** Events come in bursts while a file is written: look once the burst has settled. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), this.settleMs);
  }

  private check(): void {
    const changed = this.files.filter((f) => signature(f) !== this.signatures.get(f));
    if (!changed.length) return;
    for (const f of changed) this.signatures.set(f, signature(f));
    this.onChange(changed);
  }

  /** The files are as they are now: later changes are measured from here (after a re-run). */
  accept(): void {
    this.signatures = new Map(this.files.map((f) => [f, signature(f)]));
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
  }
}
