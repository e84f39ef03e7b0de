import { SegmentClock } from './clock';
import { SessionPool } from './pool';
import { StateCache } from './states';

/**
 * What segmented sessions share across models: the sessions pooled between sessions opened for other probes, the states
 * kept between runs and the clock of the segment running now. One per process (processSegments);
 * a test may open sessions over a store of its own.
 */
export class SegmentStore {
  readonly sessions = new SessionPool();
  readonly states = new StateCache();
  readonly clock = new SegmentClock();
}

/**
 * The engine process's store: every SegmentedSession opened without another uses it, so that
 * sessions of one model share sessions and states whoever opens them (session cache, experiments).
 */
export const processSegments = new SegmentStore();

/** See SegmentClock.remainingMs: the engine process answers a Cancel with it. */
export function segmentRemainingMs(now = performance.now()): number | null {
  return processSegments.clock.remainingMs(now);
}
