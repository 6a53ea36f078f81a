/** The pinned target connections of -H connection affinity stay bounded: oldest out beyond the cap, idle ones closed, busy ones kept. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HttpRemoteBinding } from '../../src/bridge/config/index.js';
import { AffinityAgents } from '../../src/bridge/remote/http-affinity.js';
import { delay, waitFor } from '../helpers/async.js';

const binding: HttpRemoteBinding = { kind: 'http', portName: 'http', scheme: 'http', host: '127.0.0.1', port: 1, path: '/', insecure: false, connectionAffinity: true };

describe('AffinityAgents', () => {
  test('at most `max` client connections are pinned; the least recently used goes first', () => {
    const agents = new AffinityAgents({ max: 2, idleMs: 60_000 });
    let chosen = 0;
    const choose = () => (chosen++, binding);
    const a = agents.agentFor('a', choose).agent;
    agents.agentFor('b', choose);
    assert.equal(agents.agentFor('a', choose).agent, a, 'the same connection gets the same agent');
    agents.agentFor('c', choose); // evicts b, the least recently used
    assert.equal(agents.size, 2);
    assert.equal(agents.agentFor('a', choose).agent, a);
    assert.equal(chosen, 3, 'a binding is chosen once per client connection');
    agents.closeAll();
    assert.equal(agents.size, 0);
  });

  test('an idle pinned connection is let go; one with a request in flight is kept', async () => {
    const agents = new AffinityAgents({ max: 10, idleMs: 150 });
    agents.agentFor('idle', () => binding);
    const busy = agents.agentFor('busy', () => binding).agent;
    // A socket in use, as the agent counts them.
    (busy.sockets as Record<string, unknown[]>)['127.0.0.1:1:'] = [{}];
    await waitFor(() => agents.size === 1, 3000, 'the idle one is closed');
    await delay(400);
    assert.equal(agents.size, 1, 'the busy one stays');
    delete (busy.sockets as Record<string, unknown[]>)['127.0.0.1:1:'];
    await waitFor(() => agents.size === 0, 3000, 'closed once idle');
  });
});
