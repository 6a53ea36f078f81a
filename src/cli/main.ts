#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerArcCommands } from './arc.js';
import { registerBridgeCommand } from './bridge.js';
import { registerDemoCommand } from './demo.js';
import { CliError, ExitCode } from './errors.js';
import { registerHostsCommands } from './hosts.js';
import { registerHycoCommands } from './management/hyco-commands.js';
import { registerNamespaceCommands } from './management/namespace-commands.js';
import { registerRelayListenerCommand } from './relay-listener.js';
import { registerRelaySenderCommands } from './relay-sender.js';
import { registerServerCommand } from './server.js';
import { registerStatusCommand } from './status.js';
import { readPackageVersion } from './version.js';

async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('hybridge')
    .description('Reach TCP, UDP, Unix-socket and HTTP services in another private network through an Azure Relay Hybrid Connections relay (Azure, or hybridge\'s own).')
    .version(readPackageVersion(), '-V, --version')
    .exitOverride();
  registerServerCommand(program);
  registerBridgeCommand(program);
  registerHycoCommands(program);
  registerNamespaceCommands(program);
  registerStatusCommand(program);
  registerRelayListenerCommand(program);
  registerRelaySenderCommands(program);
  registerArcCommands(program);
  registerHostsCommands(program);
  registerDemoCommand(program);
  oneLineErrors(program);
  await program.parseAsync(argv);
}

/** Command-line mistakes print as one line naming the command whose --help explains it. */
function oneLineErrors(command: Command, path: string[] = []): void {
  const names = [...path, command.name()];
  command.showHelpAfterError(false).configureOutput({
    outputError: (text, write) => write(`hybridge: ${text.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').trim()}; see \`${names.join(' ')} --help\`\n`),
  });
  for (const sub of command.commands) oneLineErrors(sub, names);
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage);
  }
  if (err instanceof CliError) {
    process.stderr.write(`hybridge: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`hybridge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(ExitCode.Failure);
});
