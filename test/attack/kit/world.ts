/**
 * The setting of each attack file: a relay process, the legitimate pair on 'legit', and
 * optionally a public service on 'public' (anonymous senders allowed; it reads whatever it gets).
 */
import { HybridConnectionListener, type HybridConnectionStream } from '../../../src/client/index.js';
import { stopAll } from '../../helpers/processes.js';
import { LegitPair } from './legit-traffic.js';
import { AttackRelay, type AttackRelayOptions } from './relay-process.js';

export interface World {
  relay: AttackRelay;
  legit: LegitPair;
  close(): Promise<void>;
}

export async function startWorld(options: AttackRelayOptions & { publicService?: boolean }): Promise<World> {
  const hycos = [{ name: 'legit' }, ...(options.publicService ? [{ name: 'public', anonymous: true }] : []), ...options.hycos];
  const relay = await AttackRelay.start({ ...options, hycos });
  let legit: LegitPair | undefined;
  let service: HybridConnectionListener | undefined;
  const close = async () => {
    await legit?.close().catch(() => undefined);
    await service?.close().catch(() => undefined);
    await relay.stop();
    await stopAll();
  };
  try {
    legit = await LegitPair.start(relay);
    if (options.publicService) {
      service = new HybridConnectionListener({ connectionString: relay.connectionString('public') });
      service.on('connection', (s: HybridConnectionStream) => s.on('error', () => undefined).resume());
      service.on('error', () => undefined);
      await service.open();
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { relay, legit, close };
}
