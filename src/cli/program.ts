import { Command } from 'commander';
import { registerArcCommands } from './arc.js';
import { registerBridgeCommand } from './bridge.js';
import { registerCompletionCommand } from './completion.js';
import { registerDemoCommand } from './demo.js';
import { withExamples } from './help-text.js';
import { registerHostsCommands } from './hosts.js';
import { registerHycoCommands } from './management/hyco-commands.js';
import { registerNamespaceCommands } from './management/namespace-commands.js';
import { registerRelayListenerCommand } from './relay-listener.js';
import { registerRelaySenderCommands } from './relay-sender.js';
import { registerServerCommand } from './server.js';
import { registerStatusCommand } from './status.js';
import { readPackageVersion } from './version.js';

/** The whole `hybridge` command tree (parsing only; each command's action does the work). */
export function createProgram(): Command {
  const program = new Command();
  program
    .name('hybridge')
    .description('Reach TCP, UDP, Unix-socket and HTTP services in another private network through an Azure Relay Hybrid Connections relay (Azure, or hybridge\'s own).')
    .version(readPackageVersion(), '-V, --version')
    .exitOverride();
  withExamples(
    program,
    ['hybridge demo                          # everything end to end on 127.0.0.1', 'hybridge server --hyco web             # a relay on 127.0.0.1:9350', 'hybridge bridge --help                 # every command has its own examples'],
    'Exit codes (every command): 0 success or a clean shutdown, 1 a run-time failure, 2 a wrong command line or configuration.',
  );
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
  const version = program.command('version').description('print the version (as --version)');
  withExamples(version, ['hybridge version'], 'Exit codes: 0 printed.').action(() => {
    process.stdout.write(`${readPackageVersion()}\n`);
  });
  registerCompletionCommand(program);
  oneLineErrors(program);
  return program;
}

/** Command-line mistakes print as one line naming the command whose --help explains it. */
function oneLineErrors(command: Command, path: string[] = []): void {
  const names = [...path, command.name()];
  command.showHelpAfterError(false).configureOutput({
    outputError: (text, write) => write(`hybridge: ${text.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').trim()}; see \`${names.join(' ')} --help\`\n`),
  });
  for (const sub of command.commands) oneLineErrors(sub, names);
}
