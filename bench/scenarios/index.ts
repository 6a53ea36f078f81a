/** The scenarios in run order. */
import { singleStream } from './s1-single-stream.js';
import { parallelStreams } from './s2-parallel.js';
import { connectionSetup } from './s3-setup.js';
import { concurrency } from './s4-concurrency.js';
import { rdpLike } from './s5-rdp.js';
import { httpScenario } from './s6-http.js';
import { udpScenario } from './s7-udp.js';
import { metricsSetup, metricsThroughput } from './s8-metrics.js';
import { muxThroughput } from './s10-mux.js';
import type { Scenario } from './types.js';
import { wanSetup } from './w1-wan-setup.js';
import { wanBurst } from './w2-wan-burst.js';
import { wanThroughput } from './w3-wan-throughput.js';

export const SCENARIOS: Scenario[] = [singleStream, parallelStreams, connectionSetup, concurrency, rdpLike, httpScenario, udpScenario, metricsThroughput, metricsSetup, muxThroughput, wanSetup, wanBurst, wanThroughput];

/** Names `--only` accepts for a group of scenarios. */
export const SCENARIO_GROUPS: Record<string, string[]> = { wan: ['w1', 'w2', 'w3'] };
