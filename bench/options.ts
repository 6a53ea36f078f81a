/** Command-line options of `npm run bench -- ...`. */
import type { Profile } from './config.js';

export interface BenchOptions {
  profile: Profile['name'];
  only?: string[];
  paths?: string[];
  tls: boolean;
  out?: string;
  /** Another checkout whose built hybridge (DIR/dist/src/cli/main.js) the paths run instead of this one's. */
  hybridge?: string;
  cpuProfile: boolean;
  sha256: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick            smaller sizes and shorter runs; TLS only for s1 and the WAN scenarios
  --tiny             a seconds-long smoke run (used by test/bench)
  --only s1,s3       run only these scenarios (s1..s10 on loopback, s8/s9: the cost of metrics, off and on
                     in alternating rounds; s10: --mux against no mux; w1..w3 across an emulated WAN in network namespaces, root
                     only; "wan" = w1,w2,w3)
  --paths a,b        run only these paths (direct, socat, ssh, node-chain, node-chain-tls, bridge-ws, bridge-tls, bridge-ws-prewarm,
                     tunnel-ws, tunnel-tls, tunnel-ws-prewarm, bridge-ws-mux, tunnel-ws-mux, hyco-ws-ws, hyco-ws-tls, bridge-ws-cluster, bridge-ws-nopreconnect, ...)
  --skip-tls         no TLS paths
  --out DIR          write latest.{json,md,svg} there (default bench/results)
  --hybridge DIR     run the hybridge processes of another checkout (DIR/dist/src/cli/main.js, built)
                     with this bench's drivers, targets and baselines; see also bench/compare (--help)
  --sha256           bulk receivers check each stream by SHA-256 instead of byte for byte
                     (costs ~1 s of CPU per GiB on the receiving side, which caps the figures)
  --cpu-prof         run hybridge processes with --cpu-prof; profiles go to OUT/profiles/<scenario>-<path>/
`;

function list(value: string | undefined, flag: string): string[] {
  if (!value) throw new Error(`${flag} needs a value`);
  return value.split(',').map((v) => v.trim()).filter(Boolean);
}

export function parseOptions(argv: string[]): BenchOptions {
  const o: BenchOptions = { profile: 'full', tls: true, cpuProfile: false, sha256: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--quick':
        o.profile = 'quick';
        break;
      case '--tiny':
        o.profile = 'tiny';
        break;
      case '--only':
        o.only = [...(o.only ?? []), ...list(value(), flag)];
        break;
      case '--paths':
        o.paths = [...(o.paths ?? []), ...list(value(), flag)];
        break;
      case '--skip-tls':
        o.tls = false;
        break;
      case '--out':
        o.out = value();
        if (!o.out) throw new Error('--out needs a directory');
        break;
      case '--hybridge':
        o.hybridge = value();
        if (!o.hybridge) throw new Error('--hybridge needs a directory');
        break;
      case '--sha256':
        o.sha256 = true;
        break;
      case '--cpu-prof':
        o.cpuProfile = true;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  return o;
}
