/**
 * A real `redis-server` for the cluster tests: no persistence (a restart comes back empty, as a
 * Redis without RDB/AOF does), loopback only, stopped in `after`. `restart()` reuses the port so
 * that the relay nodes find it again on their own.
 */
import { Socket } from 'node:net';
import { delay, freePort } from '../helpers/async.js';
import { spawnProcess, type RunningProcess } from '../helpers/processes.js';

export const REDIS_SERVER = process.env.HYBRIDGE_TEST_REDIS_SERVER ?? 'redis-server';

export class RedisServer {
  private proc: RunningProcess | undefined;

  private constructor(readonly port: number) {}

  /** Starts a fresh server on a free port. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.run();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Stops the server (SIGTERM; it saves nothing, so the data is gone). */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    await proc?.stop('SIGTERM', 3000);
  }

  /** Starts it again on the same port, empty. */
  async restart(): Promise<void> {
    await this.stop();
    await this.run();
  }

  private async run(): Promise<void> {
    const proc = spawnProcess(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning']);
    this.proc = proc;
    try {
      // With --loglevel warning redis prints nothing when ready: wait until the port answers PING.
      await waitForPing(this.port, 10_000);
    } catch (err) {
      await this.stop();
      throw new Error(`redis-server did not start on port ${this.port}: ${(err as Error).message}\n${proc.output()}`);
    }
  }
}

async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      const done = (result: boolean) => {
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(1000, () => done(false));
      socket.once('error', () => done(false));
      socket.once('data', (data: Buffer) => done(data.toString('latin1').startsWith('+PONG')));
      socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no PONG within ${timeoutMs} ms`);
    await delay(50);
  }
}
