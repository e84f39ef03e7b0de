/** Live re-scan: how long the prompt must rest before the panel scans it (the benchmark uses the same pause). */
export const LIVE_PAUSE_MS = 350;
