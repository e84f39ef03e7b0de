import { existsSync, readdirSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openModel, sessionKey, type OpenModel, type SessionSettings } from '../engine/run/session';
import type { ProbeRequest } from '../engine/run/probes';

interface Entry { session: Promise<OpenModel>; bytes: number }

/**
 * Sessions by (path, size, mtime, probe request): a re-saved model file gets a new session, repeated
 * scans reuse one. Bounded by count and by weight bytes, because each session holds its own copy
 * of the model's weights (ONNX Runtime prepacks them per session): a billion-parameter model keeps
 * one session, and the old one is released before the next opens, so two never coexist.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();

  /** The default budget fits two sessions of a 1.1B fp32 model on a 24 GB machine, one on 16 GB. */
  constructor(private readonly capacity = 2, private readonly budgetBytes = os.totalmem() * 0.4) {}

  get(file: string, probes: ProbeRequest, settings: SessionSettings): Promise<OpenModel> {
    // The memory limit only gates loading; it does not make a different session.
    const key = sessionKey(file, probes, settings) + JSON.stringify({ threads: settings.threads });
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.session;
    }
    const bytes = weightBytes(file);
    const released: Promise<void>[] = [];
    let held = [...this.entries.values()].reduce((a, e) => a + e.bytes, 0);
    while (this.entries.size && (this.entries.size >= this.capacity || held + bytes > this.budgetBytes)) {
      const [oldKey, old] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldKey);
      held -= old.bytes;
      released.push(old.session.then((m) => m.session.release()).catch(() => {}));
    }
    const session = Promise.all(released).then(() => openModel(file, probes, settings));
    this.entries.set(key, { session, bytes });
    session.catch(() => { if (this.entries.get(key)?.session === session) this.entries.delete(key); });
    return session;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The model file plus its external weight files (`model.onnx_data`, `model.onnx.data`, …). */
export function weightBytes(file: string): number {
  if (!existsSync(file)) return 0;
  const dir = path.dirname(file);
  const base = path.basename(file);
  let total = statSync(file).size;
  for (const name of readdirSync(dir)) {
    if (name === base || !name.startsWith(base) || !/[._]data$/.test(name)) continue;
    // An estimate for the cache: a leftover link that leads nowhere is no weight of this model.
    try { total += statSync(path.join(dir, name)).size; } catch { /* not a file the model can read either */ }
  }
  return total;
}
