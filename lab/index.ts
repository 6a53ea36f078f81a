/** The network-fault lab's public API (docs/lab.md). */
export { Lab, threeSites, type LabOptions, type LinkDef, type Topology } from './lab.js';
export { LabNode, type TcpSocket } from './node.js';
export { LabLink, type Direction, type LinkImpairment, type LinkStats } from './link.js';
export type { DirectionStats, Impairment } from './impair/daemon.js';
export { PingSession, tcpPingPong, udpCount, type PingOptions, type RoundTrips, type UdpCountOptions } from './measure.js';
export { cleanStaleLabs } from './namespaces.js';
export { labUnavailable } from './support.js';
