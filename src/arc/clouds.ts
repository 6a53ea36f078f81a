/**
 * Azure clouds: where ARM is and where Microsoft Entra ID signs in. `--cloud` picks a row (the
 * names `az cloud list` uses); `--arm-endpoint` replaces only the ARM address (a proxy, or a
 * stand-in in tests), keeping the cloud's token audience.
 */
export interface CloudSettings {
  name: CloudName;
  /** https://management.azure.com, without a trailing slash. */
  armEndpoint: string;
  /** The Entra ID scope of ARM tokens. */
  armScope: string;
  /** The Entra ID authority DefaultAzureCredential signs in at. */
  authorityHost: string;
}

export const CLOUD_NAMES = ['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud'] as const;
export type CloudName = (typeof CLOUD_NAMES)[number];

const CLOUDS: Record<CloudName, { arm: string; authority: string }> = {
  AzureCloud: { arm: 'https://management.azure.com', authority: 'https://login.microsoftonline.com' },
  AzureUSGovernment: { arm: 'https://management.usgovcloudapi.net', authority: 'https://login.microsoftonline.us' },
  AzureChinaCloud: { arm: 'https://management.chinacloudapi.cn', authority: 'https://login.chinacloudapi.cn' },
};

export class CloudSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CloudSettingsError';
  }
}

/** The settings for `--cloud` (default AzureCloud, case-insensitive) and an optional `--arm-endpoint`. */
export function cloudSettings(cloud: string | undefined, armEndpoint?: string): CloudSettings {
  const name = cloud === undefined ? 'AzureCloud' : CLOUD_NAMES.find((n) => n.toLowerCase() === cloud.trim().toLowerCase());
  if (!name) throw new CloudSettingsError(`--cloud must be one of ${CLOUD_NAMES.join(', ')}, not "${cloud}"`);
  const row = CLOUDS[name];
  return {
    name,
    armEndpoint: armEndpoint === undefined ? row.arm : checkArmEndpoint(armEndpoint),
    armScope: `${row.arm}/.default`,
    authorityHost: row.authority,
  };
}

/** An https:// URL without query or fragment; a trailing slash is dropped. */
function checkArmEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new CloudSettingsError(`--arm-endpoint "${text}" is not a URL; write e.g. https://management.azure.com`);
  }
  if (url.protocol !== 'https:') throw new CloudSettingsError(`--arm-endpoint "${text}" must be an https:// URL (ARM calls carry an access token)`);
  if (url.username || url.password || url.search || url.hash) throw new CloudSettingsError(`--arm-endpoint "${text}" must not contain user information, a query or a fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
