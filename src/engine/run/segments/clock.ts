/**
 * The segment ONNX Runtime is running now, if any: one native run cannot be interrupted, so a
 * cancelled call ends when it returns. The engine process tells its client how long that should be.
 */
export class SegmentClock {
  private startedAt: number | null = null;
  private lastMs: number | null = null;

  runStarts(): void {
    this.lastMs = null;
  }

  segmentStarts(now = performance.now()): void {
    this.startedAt = now;
  }

  segmentEnds(now = performance.now()): void {
    if (this.startedAt !== null) this.lastMs = now - this.startedAt;
    this.startedAt = null;
  }

  /**
   * About how long until the running segment returns: 0 when none runs, null when no segment of this
   * run has finished yet to judge by (the first one also loads lazily created sessions).
   */
  remainingMs(now = performance.now()): number | null {
    if (this.startedAt === null) return 0;
    return this.lastMs === null ? null : Math.max(0, this.lastMs - (now - this.startedAt));
  }
}
