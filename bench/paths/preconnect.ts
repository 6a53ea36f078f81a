/**
 * The --preconnect variants of the hybridge paths: undefined keeps the default (pre-connected
 * sockets on, both ends), a number is passed to both ends; 0 is the cold set-up without them.
 */
export function preconnectArgs(preconnect: number | undefined): { sender: string[]; listener: string[] } {
  const args = preconnect === undefined ? [] : ['--preconnect', String(preconnect)];
  return { sender: args, listener: args };
}

export function preconnectSuffix(preconnect: number | undefined): string {
  return preconnect === undefined ? '' : preconnect === 0 ? '-nopreconnect' : `-preconnect${preconnect}`;
}

export function preconnectLabel(preconnect: number | undefined): string {
  return preconnect === undefined ? '' : `, --preconnect ${preconnect}`;
}
