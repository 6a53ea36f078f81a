import { withExamples } from './help-text.js';
import type { Command } from 'commander';
import { addHostEntry, describeOwner, listHostEntries, removeHostEntries } from '../bridge/hosts/host-entries.js';
import { DEFAULT_HOSTS_FILE, HostsError } from '../bridge/hosts/hosts-store.js';
import { ExitCode, fail } from './errors.js';

interface HostsFlags {
  hostsFile: string;
  allowNonLoopback?: boolean;
  replace?: boolean;
}

const HOSTS_EXIT_CODES = 'Exit codes: 0 done, 1 a conflict with an entry hybridge did not write, or no permission to write the file (one line says why), 2 invalid command line.';

export function registerHostsCommands(program: Command): void {
  const hosts = program
    .command('hosts')
    .description('map host names to local addresses in the hosts file, for -L listeners that stand behind a real name (azbridge\'s addhost/removehost)');
  withExamples(hosts, ['sudo hybridge hosts add 127.1.2.3 sql.corp.example.com', 'sudo hybridge hosts remove sql.corp.example.com', 'hybridge hosts list --hosts-file ./hosts'], HOSTS_EXIT_CODES);

  const add = hosts
    .command('add <address> <name>')
    .description('add "address name" to the hosts file, marked as hybridge\'s (loopback addresses only, unless --allow-non-loopback)')
    .option('--allow-non-loopback', 'allow an address outside 127.0.0.0/8 and ::1')
    .option('--replace', 'replace hybridge\'s existing entry for the name (entries hybridge did not add are never changed)');
  withExamples(add, ['sudo hybridge hosts add 127.1.2.3 sql.corp.example.com', 'hybridge hosts add 127.0.0.5 db.test --hosts-file ./hosts --replace'], HOSTS_EXIT_CODES);
  addHostsFileOption(add).action((address: string, name: string, flags: HostsFlags) => {
    const added = run(() => addHostEntry(flags.hostsFile, address, name, flags));
    process.stdout.write(added ? `hybridge hosts: added ${address} ${name} to ${flags.hostsFile}\n` : `hybridge hosts: ${flags.hostsFile} already maps ${name} to ${address}\n`);
  });

  const remove = hosts.command('remove <name>').description('remove hybridge\'s entries for the name from the hosts file (also leftovers of a bridge that died)');
  withExamples(remove, ['sudo hybridge hosts remove sql.corp.example.com'], HOSTS_EXIT_CODES);
  addHostsFileOption(remove).action((name: string, flags: HostsFlags) => {
    for (const entry of run(() => removeHostEntries(flags.hostsFile, name))) {
      process.stdout.write(`hybridge hosts: removed ${entry.address} ${entry.names.join(' ')} from ${flags.hostsFile}\n`);
    }
  });

  const list = hosts.command('list').description('show the entries hybridge added to the hosts file: address, name, and who added them');
  withExamples(list, ['hybridge hosts list', 'hybridge hosts list --hosts-file ./hosts'], HOSTS_EXIT_CODES);
  addHostsFileOption(list).action((flags: HostsFlags) => {
    for (const entry of run(() => listHostEntries(flags.hostsFile))) {
      process.stdout.write(`${entry.address}\t${entry.names.join(' ')}\t${describeOwner(entry.owner, entry.running)}\n`);
    }
  });
}

function addHostsFileOption(command: Command): Command {
  return command.option('--hosts-file <path>', 'the hosts file to change', DEFAULT_HOSTS_FILE);
}

/** Bad input is exit code 2; a conflict with the file or a missing permission, 1. */
function run<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof HostsError) fail(err.message, err.kind === 'usage' ? ExitCode.Usage : ExitCode.Failure);
    throw err;
  }
}
