import type { Command } from 'commander';
import { collect } from '../common-options.js';
import { EXIT_CODES, withExamples } from '../help-text.js';
import { VISIBLE_IN_PS } from '../secret-input.js';
import { addProxyOptions, type ProxyFlags } from '../proxy-options.js';

/** Options every management command takes. */
export interface ManagementFlags extends ProxyFlags {
  connectionString?: string;
  connectionStringFile?: string;
  ca?: string[];
  output: string;
  query?: string;
}

export const CONNECTION_STRING_ENV = 'HYBRIDGE_CONNECTION_STRING';

export const AZ_NOTE =
  '\nThe relay is the one named by the connection string\'s Endpoint (-x or $' + CONNECTION_STRING_ENV + ').\n' +
  '-g/--resource-group, --namespace-name and --subscription are accepted and ignored,\n' +
  'so scripts written for `az relay` run unchanged.';

/** Adds a subcommand whose command-line errors print as one line: `hybridge: <problem>; see ... --help`. */
export function subcommand(parent: Command, name: string, description: string): Command {
  const command = parent.command(name).description(description);
  command.showHelpAfterError(false).configureOutput({
    outputError: (text, write) => {
      const problem = text.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').trim();
      write(`hybridge: ${problem}; see \`${commandPath(command)} --help\`\n`);
    },
  });
  return command;
}

/** The credential, TLS, proxy, output and az-compatibility options of a command that calls the relay (added last, after its own), and its help's examples. */
export function addManagementOptions(command: Command, examples: readonly string[]): Command {
  withExamples(command, examples, EXIT_CODES.management)
    .option('-x, --connection-string <cs>', `connection string of a rule with Manage rights (default: $${CONNECTION_STRING_ENV}; ${VISIBLE_IN_PS})`)
    .option('--connection-string-file <file>', 'read -x from this file (its first line)')
    .option('--ca <file>', 'PEM certificate to trust for an https relay, e.g. <data>/tls-cert.pem (repeatable; NODE_EXTRA_CA_CERTS works too)', collect);
  return addProxyOptions(command)
    .option('-o, --output <format>', 'json, tsv or none', 'json')
    .option('--query <path>', 'print only this field, e.g. primaryConnectionString, name or [].name')
    .option('-g, --resource-group <name>', 'ignored (az compatibility)')
    .option('--namespace-name <name>', 'ignored (az compatibility)')
    .option('--subscription <id>', 'ignored (az compatibility)')
    .addHelpText('after', AZ_NOTE);
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
