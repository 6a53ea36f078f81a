import type { Command } from 'commander';
import { durationFlag } from './relay-options.js';

/** `--keep-alive` (and, for listeners, `--stall-timeout`): how the tunnel commands notice a dead path (docs/deployment.md). */
export interface KeepAliveFlags {
  keepAlive: string;
  stallTimeout?: string;
}

export function addKeepAliveOption(command: Command, listener = false): Command {
  command.option(
    '--keep-alive <duration>',
    listener
      ? 'ping the control channel and every tunnel\'s relay connection this often; one that answers nothing for as long again is dropped (the control channel is reconnected) (0 = off)'
      : 'ping every tunnel\'s relay connection this often; one that answers nothing for as long again is closed as lost (0 = off)',
    '30s',
  );
  if (listener) command.option('--stall-timeout <duration>', 'a control-channel ping unanswered this long (pings go every 2s) opens a second control channel beside it, which takes over once up (0 = off)', '1.5s');
  return command;
}

export function keepAliveFrom(flags: KeepAliveFlags): { keepAliveIntervalMs: number; stallTimeoutMs: number | undefined } {
  const keepAliveIntervalMs = durationFlag(flags.keepAlive, '--keep-alive', true);
  const stallTimeoutMs = flags.stallTimeout === undefined ? undefined : durationFlag(flags.stallTimeout, '--stall-timeout', true);
  return { keepAliveIntervalMs, stallTimeoutMs };
}
