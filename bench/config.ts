/** Sizes and durations of each scenario for the full run, --quick and --tiny (the self-test). */

export interface Profile {
  name: 'full' | 'quick' | 'tiny';
  bulkBytes: number;
  parallel: { streams: number; bytesPerStream: number };
  setupCount: number;
  concurrency: { connections: number; durationMs: number; batch: number; messageBytes: number };
  rdp: { sessions: number; durationMs: number; burstBytes: number; intervalMs: number };
  http: { clients: number; durationMs: number; largeCount: number };
  udp: { durationMs: number; window: number; size: number };
  /** Scenarios that also run over TLS (all of them unless listed). */
  tlsScenarios: 'all' | string[];
  prewarm: number;
  /** How bulk receivers check the stream (--sha256 switches to SHA-256 of the whole stream). */
  bulkCheck: 'compare' | 'sha256';
  /**
   * Before each path's measurement, wait up to `perPathMs` for other programs to leave the CPU idle,
   * at most `totalMs` over the whole run (the run must stay within its time budget).
   */
  quietWait: { perPathMs: number; totalMs: number };
  /** The WAN scenarios (w1-w3): client, relay and service in a network-fault lab. */
  wan: WanProfile;
}

export interface WanProfile {
  /** One-way delay of each of the two links (client<->relay, relay<->service). */
  delayMs: number;
  /** Loss of each link, each direction, in w3's lossy run. */
  lossPercent: number;
  /** TCP ping-pong round trips that measure the path RTT at the start of each WAN scenario. */
  pings: number;
  /** w1: sequential connections per path. */
  setupCount: number;
  /** w2: connections opened at once. */
  burst: number;
  /** w3: bytes per direction without loss, and with loss. */
  bulkBytes: number;
  lossyBytes: number;
  /** w1, w2: sessions of the multiplexed paths (--mux N); w3 puts all its streams on one. */
  mux: number;
  /** w3's head-of-line case: this many streams at once, each moving these bytes per direction (without loss, with loss). */
  hol: { streams: number; bytesPerStream: number; lossyBytesPerStream: number };
}

const MiB = 1024 * 1024;

export const PROFILES: Record<Profile['name'], Profile> = {
  full: {
    name: 'full',
    bulkBytes: 1024 * MiB,
    parallel: { streams: 8, bytesPerStream: 32 * MiB },
    setupCount: 1000,
    concurrency: { connections: 5000, durationMs: 30_000, batch: 250, messageBytes: 1024 },
    rdp: { sessions: 500, durationMs: 30_000, burstBytes: 15_000, intervalMs: 250 },
    http: { clients: 32, durationMs: 10_000, largeCount: 50 },
    udp: { durationMs: 4_000, window: 32, size: 1200 },
    tlsScenarios: 'all',
    prewarm: 4,
    bulkCheck: 'compare',
    quietWait: { perPathMs: 3_000, totalMs: 30_000 },
    wan: { delayMs: 40, lossPercent: 1, pings: 20, setupCount: 100, burst: 500, bulkBytes: 64 * MiB, lossyBytes: 1 * MiB, mux: 2, hol: { streams: 8, bytesPerStream: 4 * MiB, lossyBytesPerStream: 512 * 1024 } },
  },
  quick: {
    name: 'quick',
    bulkBytes: 256 * MiB,
    parallel: { streams: 8, bytesPerStream: 16 * MiB },
    setupCount: 200,
    concurrency: { connections: 1000, durationMs: 10_000, batch: 250, messageBytes: 1024 },
    rdp: { sessions: 500, durationMs: 10_000, burstBytes: 15_000, intervalMs: 250 },
    http: { clients: 32, durationMs: 3_000, largeCount: 20 },
    udp: { durationMs: 2_000, window: 32, size: 1200 },
    tlsScenarios: ['s1', 'w1', 'w2', 'w3'],
    prewarm: 4,
    bulkCheck: 'compare',
    quietWait: { perPathMs: 0, totalMs: 0 },
    wan: { delayMs: 40, lossPercent: 1, pings: 10, setupCount: 20, burst: 500, bulkBytes: 16 * MiB, lossyBytes: 256 * 1024, mux: 2, hol: { streams: 8, bytesPerStream: 2 * MiB, lossyBytesPerStream: 128 * 1024 } },
  },
  tiny: {
    name: 'tiny',
    bulkBytes: 4 * MiB,
    parallel: { streams: 8, bytesPerStream: 1 * MiB },
    setupCount: 20,
    concurrency: { connections: 20, durationMs: 2_000, batch: 10, messageBytes: 1024 },
    rdp: { sessions: 20, durationMs: 1_000, burstBytes: 15_000, intervalMs: 250 },
    http: { clients: 4, durationMs: 1_000, largeCount: 3 },
    udp: { durationMs: 1_000, window: 8, size: 1200 },
    tlsScenarios: ['s1', 'w1'],
    prewarm: 2,
    bulkCheck: 'compare',
    quietWait: { perPathMs: 0, totalMs: 0 },
    wan: { delayMs: 10, lossPercent: 1, pings: 5, setupCount: 3, burst: 20, bulkBytes: 1 * MiB, lossyBytes: 64 * 1024, mux: 2, hol: { streams: 3, bytesPerStream: 256 * 1024, lossyBytesPerStream: 32 * 1024 } },
  },
};
