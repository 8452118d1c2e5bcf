// The two clocks a load generator needs, behind one tiny interface so that
// schedule logic can run on fake timers in tests. `now()` is monotonic (it
// never jumps when NTP adjusts the wall clock) and drives the timer loop;
// `wallNow()` gives epoch milliseconds for timestamps in samples and reports.
// The system clock derives both from one source (performance.now anchored at
// performance.timeOrigin), so a latency computed as the difference of two
// wallNow() readings is as exact as the monotonic clock and keeps the
// sub-millisecond fraction that Date.now() would drop.

export interface Clock {
  /** Monotonic milliseconds (arbitrary origin, fractional). */
  now(): number;
  /** Epoch milliseconds (fractional), consistent with now(). */
  wallNow(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => performance.timeOrigin + performance.now(),
};
