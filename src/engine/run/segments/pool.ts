import type * as ort from 'onnxruntime-node';

export type CreateSession = (bytes: Uint8Array) => Promise<ort.InferenceSession>;

/**
 * Sessions by the bytes of their segment's graph (and the model file and session options): two
 * sessions of one model opened for different probes (a scan's and an intervention's) share every
 * segment whose graph is the same, so the weights of those blocks are loaded once, not per session.
 */
export class SessionPool {
  private readonly shared = new Map<string, { session: Promise<ort.InferenceSession>; refs: number }>();

  acquire(key: string, bytes: Uint8Array, create: CreateSession): Promise<ort.InferenceSession> {
    let e = this.shared.get(key);
    if (!e) {
      const session = create(bytes);
      e = { session, refs: 0 };
      this.shared.set(key, e);
      session.catch(() => { if (this.shared.get(key)?.session === session) this.shared.delete(key); });
    }
    e.refs++;
    return e.session;
  }

  async release(key: string): Promise<void> {
    const e = this.shared.get(key);
    if (!e || --e.refs > 0) return;
    this.shared.delete(key);
    await (await e.session.catch(() => undefined))?.release();
  }
}
