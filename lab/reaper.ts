/**
 * The lab's cleaners, as a program.
 *   node dist/lab/reaper.js LAB_ID   waits for EOF on stdin (its owner ended, however it ended),
 *                                    then removes that lab's namespaces and the processes in them.
 *   node dist/lab/reaper.js --stale  removes every lab whose owner process no longer runs.
 */
import { cleanStaleLabs, LAB_PREFIX, removeLabSync } from './namespaces.js';

const arg = process.argv[2] ?? '';
if (arg === '--stale') {
  cleanStaleLabs().then(
    (removed) => {
      process.stdout.write(removed.length ? `removed ${removed.length} stale lab namespaces: ${removed.join(' ')}\n` : 'no stale lab namespaces\n');
    },
    (err: unknown) => {
      process.stderr.write(`lab reaper: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
} else if (new RegExp(`^${LAB_PREFIX}-\\d+-[0-9a-f]{4}$`).test(arg)) {
  process.on('SIGHUP', () => undefined);
  process.stdin.resume();
  const finish = () => {
    removeLabSync(arg);
    process.exit(0);
  };
  process.stdin.once('end', finish);
  process.stdin.once('error', finish);
  process.stdin.once('close', finish);
} else {
  process.stderr.write('usage: reaper.js LAB_ID | --stale\n');
  process.exit(2);
}
