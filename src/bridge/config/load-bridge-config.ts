import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLocalAddress, type LocalAddressCheck } from './addresses.js';
import { at, BridgeConfigError } from './config-error.js';
import { commandLineLayer, type BridgeCommandLine } from './command-line-layer.js';
import { emptyLayer, type ConfigLayer } from './layer.js';
import { mergeLayers } from './merge-layers.js';
import type { BridgeConfig } from './model.js';
import { readOptionOverrides } from './option-overrides.js';
import { checkConnectionString } from './values.js';
import { readConfigText } from './yaml-layer.js';

export const CONNECTION_STRING_VARIABLE = 'AZURE_BRIDGE_CONNECTIONSTRING';
/** The variable every other hybridge command reads; below azbridge's own, which is more specific. */
export const HYBRIDGE_CONNECTION_STRING_VARIABLE = 'HYBRIDGE_CONNECTION_STRING';

export interface BridgeConfigInput extends BridgeCommandLine {
  /** Defaults to azbridge's machine file; null skips it (tests). */
  machineConfigPath?: string | null;
  /** Defaults to azbridge's user file under HOME (APPDATA on Windows); null skips it. -f replaces it. */
  userConfigPath?: string | null;
  /** Environment for HOME, APPDATA, ProgramData, HYBRIDGE_CONNECTION_STRING and AZURE_BRIDGE_CONNECTIONSTRING; defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Decides whether an IP literal is an address of this machine; defaults to the interface list. */
  isLocalAddress?: LocalAddressCheck;
  platform?: NodeJS.Platform;
}

/**
 * Builds the bridge configuration from, lowest precedence first:
 *   1. HYBRIDGE_CONNECTION_STRING, then AZURE_BRIDGE_CONNECTIONSTRING (a connection string only; any later one replaces it)
 *   2. the machine file (skipped when missing)
 *   3. the user file (skipped when missing), or the -f file instead (an error when missing)
 *   4. the -o overrides
 *   5. the command line's flags, then its -L, -R, -T, -H forwarders
 * Throws BridgeConfigError with a one-line message. Does not check that the result can run; see
 * validateRunnable.
 */
export function loadBridgeConfig(input: BridgeConfigInput): BridgeConfig {
  const env = input.env ?? process.env;
  const platform = input.platform ?? process.platform;
  const isLocal = input.isLocalAddress ?? isLocalAddress;
  const layers: ConfigLayer[] = [];

  for (const variable of [HYBRIDGE_CONNECTION_STRING_VARIABLE, CONNECTION_STRING_VARIABLE]) {
    const fromEnv = env[variable]?.trim();
    if (!fromEnv) continue;
    const layer = emptyLayer('environment');
    const where = `environment variable ${variable}`;
    layer.credentials.connectionString = { value: at(where, () => checkConnectionString(fromEnv)), where };
    layers.push(layer);
  }

  const machinePath = input.machineConfigPath === undefined ? defaultMachineConfigPath(platform, env) : input.machineConfigPath;
  const machine = machinePath ? readConfigFile(machinePath, false, isLocal) : undefined;
  if (machine) layers.push(machine);

  if (input.configFile !== undefined) {
    const file = readConfigFile(input.configFile, true, isLocal);
    if (file) layers.push(file);
  } else {
    const userPath = input.userConfigPath === undefined ? defaultUserConfigPath(platform, env) : input.userConfigPath;
    const user = userPath ? readConfigFile(userPath, false, isLocal) : undefined;
    if (user) layers.push(user);
  }

  if (input.options?.length) layers.push(readOptionOverrides(input.options, isLocal));
  layers.push(commandLineLayer(input, isLocal));
  return mergeLayers(layers);
}

/** `/etc/azbridge/azbridge_config.machine.yml`, or `%ProgramData%\azbridge\...` on Windows. */
export function defaultMachineConfigPath(platform: NodeJS.Platform, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (platform !== 'win32') return '/etc/azbridge/azbridge_config.machine.yml';
  return env.ProgramData ? join(env.ProgramData, 'azbridge', 'azbridge_config.machine.yml') : undefined;
}

/** `$HOME/.azbridge/azbridge_config.yml`, or `%APPDATA%\azbridge\...` on Windows; none without them. */
export function defaultUserConfigPath(platform: NodeJS.Platform, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (platform === 'win32') return env.APPDATA ? join(env.APPDATA, 'azbridge', 'azbridge_config.yml') : undefined;
  return env.HOME ? join(env.HOME, '.azbridge', 'azbridge_config.yml') : undefined;
}

/** Reads and checks one file. A missing file is skipped unless `required`. */
export function readConfigFile(path: string, required: boolean, isLocal: LocalAddressCheck = isLocalAddress): ConfigLayer | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      if (required) throw new BridgeConfigError(`The config file was not found: ${path}`);
      return undefined;
    }
    throw new BridgeConfigError(`The config file ${path} cannot be read (${code ?? (err as Error).message})`);
  }
  return readConfigText(text, path, isLocal);
}
