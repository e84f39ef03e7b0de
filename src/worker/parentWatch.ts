import { Worker } from 'node:worker_threads';

/**
 * Ends this process when the process that started it is gone (killed, crashed, closed).
 *
 * The IPC channel's 'disconnect' event is not enough: ONNX Runtime's run is one synchronous native
 * call on the main thread, and a disconnect is only seen after it returns — 10 s for a 2,048-token
 * pass of a 110M model, minutes on a 7B. A small thread of its own keeps watching while the main
 * thread is busy: when this process is re-parented (its parent died), it kills the process at once.
 * Linux's PR_SET_PDEATHSIG would do the same, but Node offers no way to set it.
 */
export function exitWithParent(everyMs = 100): void {
  const parent = process.ppid;
  if (parent <= 1) return;
  const watcher = new Worker(
    // Re-parented (POSIX), or the parent's pid no longer exists (Windows, where nothing re-parents).
    `const { workerData: w } = require('node:worker_threads');
     const gone = () => { if (process.ppid !== w.parent) return true; try { process.kill(w.parent, 0); return false; } catch (e) { return e.code === 'ESRCH'; } };
     setInterval(() => { if (gone()) process.kill(w.self, 'SIGKILL'); }, w.everyMs);`,
    { eval: true, workerData: { parent, self: process.pid, everyMs }, stdout: false, stderr: false },
  );
  // The watcher never keeps the process alive by itself.
  watcher.unref();
}
