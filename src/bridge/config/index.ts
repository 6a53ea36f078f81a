export type {
  AddressFamily,
  BridgeConfig,
  HttpRemoteBinding,
  LocalBinding,
  LocalForward,
  LogLevel,
  RemoteBinding,
  RemoteForward,
  TcpLocalBinding,
  TcpRemoteBinding,
  UdpLocalBinding,
  UdpRemoteBinding,
  UnixLocalBinding,
  UnixRemoteBinding,
} from './model.js';
export { ADDRESS_FAMILIES, LOG_LEVELS } from './model.js';
export { BridgeConfigError } from './config-error.js';
export { loadBridgeConfig, readConfigFile, defaultMachineConfigPath, defaultUserConfigPath, CONNECTION_STRING_VARIABLE, type BridgeConfigInput } from './load-bridge-config.js';
export type { BridgeCommandLine } from './command-line-layer.js';
export { parseLocalForwardOption } from './local-forward-option.js';
export { parseRemoteForwardOption, parseLegacyRemoteForwardOption } from './remote-forward-option.js';
export { parseHttpForwardOption } from './http-forward-option.js';
export { readConfigText } from './yaml-layer.js';
export { readOptionOverrides } from './option-overrides.js';
export { mergeLayers } from './merge-layers.js';
export { forwardConnection } from './credentials.js';
export { effectiveBindAddress, isLocalAddress, type LocalAddressCheck } from './addresses.js';
export { validateRunnable } from './validate-runnable.js';
export { checkLogLevel } from './values.js';
export type { ConfigLayer, LocalForwardEntry } from './layer.js';
export type { BalanceMode, HealthCheckSettings, PoolPolicy, PoolSettings } from './pool-settings.js';
export { BALANCE_MODES, checkBalanceMode, describeHealthCheck, parseHealthCheckSpec } from './pool-settings.js';
export { groupPools, poolDefaults, resolvePoolPolicy, type PoolBinding, type PoolGroup } from './pool-policy.js';
