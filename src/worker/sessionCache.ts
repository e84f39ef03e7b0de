import { openModel, sessionKey, type OpenModel, type SessionSettings, type SessionVariant } from '../engine/session';

/**
 * Sessions by (path, size, mtime, variant): a re-saved model file gets a new session, repeated
 * scans reuse one. Bounded, because each session holds the model's weights.
 */
export class SessionCache {
  private readonly entries = new Map<string, Promise<OpenModel>>();

  constructor(private readonly capacity = 2) {}

  get(file: string, variant: SessionVariant, settings: SessionSettings): Promise<OpenModel> {
    const key = sessionKey(file, variant) + JSON.stringify(settings);
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const p = openModel(file, variant, settings);
    this.entries.set(key, p);
    p.catch(() => this.entries.delete(key));
    while (this.entries.size > this.capacity) {
      const [oldKey, old] = this.entries.entries().next().value as [string, Promise<OpenModel>];
      this.entries.delete(oldKey);
      old.then((m) => m.session.release()).catch(() => {});
    }
    return p;
  }

  get size(): number {
    return this.entries.size;
  }
}
