import assert from 'node:assert/strict';
import { BridgeConfigError } from '../../../src/bridge/config/config-error.js';
import { mergeLayers } from '../../../src/bridge/config/merge-layers.js';
import type { BridgeConfig } from '../../../src/bridge/config/model.js';
import { readConfigText } from '../../../src/bridge/config/yaml-layer.js';

/** Stands in for the network-interface check: loopback addresses are this machine's. */
export const isLocal = (ip: string): boolean => ip.startsWith('127.') || ip === '::1';

/** One YAML text loaded as the only configuration layer. */
export const loadYaml = (text: string, local = isLocal): BridgeConfig => mergeLayers([readConfigText(text, 'test.yml', local)]);

/** Asserts that `load` fails with a one-line BridgeConfigError matching `pattern`; returns the message. */
export function expectConfigError(load: () => unknown, pattern: RegExp): string {
  let message = '';
  assert.throws(load, (err: Error) => {
    assert.ok(err instanceof BridgeConfigError, `${err.name}: ${err.message}`);
    assert.doesNotMatch(err.message, /\n/);
    assert.match(err.message, pattern);
    message = err.message;
    return true;
  });
  return message;
}
