/**
 * The command's self-description: every command's --help has examples and says what its exit codes
 * mean, `hybridge version` prints the package version, and the completion scripts generated from
 * the command tree really complete in bash (and zsh and fish when they are installed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createProgram } from '../../src/cli/program.js';
import { HYBRIDGE_BIN } from '../helpers/processes.js';
import { runCli } from '../relay/management-cli-kit.js';
import { requireTool } from '../tunnel/tunnel-kit.js';

const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;
const HYBRIDGE = `"${process.execPath}" "${HYBRIDGE_BIN}"`;

function shellRun(shell: string, script: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(shell, ['-c', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, HOME: process.env.HOME ?? '/tmp' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Completes `words` (the last one being completed) with the bash script loaded, as bash's programmable completion calls it. */
function bashComplete(words: string[]): string[] {
  const array = words.map((w) => `'${w}'`).join(' ');
  const result = shellRun('bash', `source <(${HYBRIDGE} completion bash) && COMP_WORDS=(${array}) && COMP_CWORD=${words.length - 1} && { _hybridge; printf '%s\\n' "\${COMPREPLY[@]}"; }`);
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter((l) => l.length > 0).sort();
}

describe('help, version and shell completion', () => {
  it('every command shows examples and its exit codes in --help', () => {
    const missing: string[] = [];
    let count = 0;
    const visit = (command: Command, path: string) => {
      count++;
      let help = '';
      command.configureOutput({ writeOut: (text) => (help += text) });
      command.outputHelp();
      if (!/\nExamples:\n {2}\S/.test(help) || !/\nExit codes/.test(help)) missing.push(path);
      for (const sub of command.commands) visit(sub, `${path} ${sub.name()}`);
    };
    visit(createProgram(), 'hybridge');
    assert.ok(count > 30, `${count} commands found`);
    assert.deepEqual(missing, [], 'commands whose --help lacks examples or exit codes');
  });

  it('hybridge version prints the package version, as --version does', async () => {
    const version = await runCli(['version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout, `${VERSION}\n`);
    assert.equal((await runCli(['--version'])).stdout, `${VERSION}\n`);
  });

  it('bash completion completes commands, nested subcommands and options, skipping option values', () => {
    assert.deepEqual(bashComplete(['hybridge', 'br']), ['bridge']);
    assert.deepEqual(bashComplete(['hybridge', 'relay-']), ['relay-listener', 'relay-sender']);
    assert.deepEqual(bashComplete(['hybridge', 'hyco', 'authorization-rule', 'keys', '']).filter((w) => !w.startsWith('-')), ['list', 'renew']);
    assert.deepEqual(bashComplete(['hybridge', 'bridge', '--connection-string']), ['--connection-string', '--connection-string-file']);
    assert.deepEqual(bashComplete(['hybridge', 'server', '--port', '9350', '--ho']), ['--host']);
    assert.deepEqual(bashComplete(['hybridge', 'relay-sender', 'port-forward', '10.0.0.5:22', '--token-']), ['--token-in-query']);
    assert.deepEqual(bashComplete(['hybridge', 'completion', 'b']), [], 'shell names are arguments, not subcommands');
  });

  it('the zsh script loads through bashcompinit and registers the completion', () => {
    requireTool('zsh', 'zsh');
    const result = shellRun('zsh', `autoload -U compinit && compinit -u -D && source <(${HYBRIDGE} completion zsh) && print -r -- \${_comps[hybridge]}`);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /_bash_complete -F _hybridge|_hybridge/);
  });

  it('fish completes commands, nested subcommands and options', () => {
    requireTool('fish', 'fish');
    const complete = (line: string) => {
      const result = shellRun('fish', `${HYBRIDGE} completion fish | source; complete -C '${line}'`);
      assert.equal(result.status, 0, result.stderr);
      return result.stdout.split('\n').map((l) => l.split('\t')[0]!).filter((w) => w.length > 0).sort();
    };
    assert.deepEqual(complete('hybridge br'), ['bridge']);
    assert.deepEqual(complete('hybridge hyco authorization-rule keys ').filter((w) => !w.startsWith('-')), ['list', 'renew']);
    assert.ok(complete('hybridge bridge --connection-string').includes('--connection-string-file'));
    assert.deepEqual(complete('hybridge server --ho'), ['--host']);
  });
});
