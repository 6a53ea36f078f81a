/**
 * Child-process entry for the interop tests: runs unmodified hyco-ws / hyco-https code against a
 * relay and prints what happened as one `RESULT {json}` line. It runs in its own process so that
 * `NODE_EXTRA_CA_CERTS` (read only at start-up) can make the hyco libraries trust a test relay's
 * self-signed certificate. Usage: node hyco-peer.js <base64 JSON of a PeerTask>.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';
import { echoPayload, loadHycoHttps, loadHycoWs, messageBytes, type HttpCaseResult, type HttpTask, type PeerBase, type PeerTask, type WsEchoResult, type WsEchoTask, type WsListenerTask, type Ws1Socket } from './hyco-types.js';

function wsToken(uri: string, task: PeerBase): string {
  return loadHycoWs().createRelayToken(uri, task.keyName, task.key);
}

function report(result: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

async function runWsEcho(task: WsEchoTask): Promise<WsEchoResult> {
  const WS = loadHycoWs();
  const listenUri = `${task.wsBase}/$hc/${task.entity}?sb-hc-action=listen`;
  const connectUri = `${task.wsBase}/$hc/${task.entity}?sb-hc-action=connect`;
  const listenerProtocols: (string | undefined)[] = [];
  const server = WS.createRelayedServer({ server: listenUri, token: () => wsToken(listenUri, task) }, (ws) => {
    ws.on('open', () => listenerProtocols.push(ws.protocol));
    ws.on('message', (data: string | Buffer, flags: { binary?: boolean }) => ws.send(data, { binary: flags.binary === true }));
    ws.on('error', () => undefined);
  });
  server.on('error', () => undefined);
  try {
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const sender = new WS(connectUri, task.protocols, { headers: { ServiceBusAuthorization: wsToken(connectUri, task) } });
    const echoes: WsEchoResult['echoes'] = [];
    await new Promise<void>((resolve, reject) => {
      sender.on('error', reject);
      sender.on('message', (data: string | Buffer) => {
        const { type, bytes } = messageBytes(data);
        echoes.push({ type, length: bytes.length, sha256: sha256(bytes) });
        if (echoes.length === task.messages.length) resolve();
      });
      sender.on('open', () => {
        for (const m of task.messages) {
          const bytes = echoPayload(m);
          sender.send(m.type === 'text' ? bytes.toString('utf8') : bytes, { binary: m.type === 'binary' });
        }
      });
    });
    const senderProtocol = sender.protocol;
    sender.close();

    const second = WS.relayedConnect(`${connectUri}&sb-hc-token=${encodeURIComponent(wsToken(connectUri, task))}`, null);
    const queryTokenEcho = await new Promise<string>((resolve, reject) => {
      second.on('error', reject);
      second.on('open', () => second.send('via sb-hc-token'));
      second.on('message', (data: string | Buffer) => resolve(typeof data === 'string' ? `text:${data}` : 'binary'));
    });
    second.close();
    return { senderProtocol, listenerProtocols, echoes, queryTokenEcho };
  } finally {
    server.close();
  }
}

function runWsListener(task: WsListenerTask): void {
  const WS = loadHycoWs();
  const listenUri = `${task.wsBase}/$hc/${task.entity}?sb-hc-action=listen`;
  let connections = 0;
  const server = WS.createRelayedServer({ server: listenUri, token: () => wsToken(listenUri, task) }, (ws: Ws1Socket) => {
    connections++;
    ws.on('message', (data: string | Buffer, flags: { binary?: boolean }) => {
      if (flags.binary) ws.send(data, { binary: true });
      else ws.send(`${task.name}:${String(data)}`);
    });
    ws.on('error', () => undefined);
  });
  server.on('error', () => undefined);
  server.on('listening', () => process.stdout.write(`LISTENING ${task.name}\n`));
  process.on('SIGTERM', () => {
    server.close();
    process.stdout.write(`CLOSED ${task.name} after ${connections} connections\n`);
    process.exit(0);
  });
}

interface SeenRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyLength: number;
  bodySha: string;
}

async function runHttp(task: HttpTask): Promise<HttpCaseResult[]> {
  const H = loadHycoHttps();
  const listenUri = `${task.wsBase}/$hc/${task.entity}?sb-hc-action=listen`;
  const seen = new Map<string, SeenRequest>();
  const byId = new Map(task.cases.map((c) => [c.id, c]));
  const server = H.createRelayedServer({ server: listenUri, token: () => H.createRelayToken(listenUri, task.keyName, task.key) }, (req, res) => {
    const digest = new Digest();
    req.on('data', (chunk: Buffer | string) => digest.update(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
    req.on('end', () => {
      const id = String(req.headers['x-case'] ?? '');
      seen.set(id, { method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, bodyLength: digest.length, bodySha: digest.hex() });
      const c = byId.get(id);
      if (!c) {
        res.writeHead(400, 'Unknown Case');
        res.end();
        return;
      }
      res.writeHead(c.status, c.reason, { 'X-Listener': 'hyco-https', 'Content-Type': 'application/octet-stream' });
      if (c.responseSize === 0) {
        res.end();
        return;
      }
      const body = patternBytes(c.responseSize, c.responseSeed);
      if (!c.streamResponse) {
        res.end(body);
        return;
      }
      for (let off = 0; off < body.length; off += 64 * 1024) res.write(body.subarray(off, Math.min(body.length, off + 64 * 1024)));
      res.end();
    });
  });
  server.on('error', () => undefined);
  server.listen();
  try {
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const results: HttpCaseResult[] = [];
    const sendUri = `${task.httpBase}/${task.entity}`;
    for (const c of task.cases) {
      const token = H.createRelayToken(sendUri, task.keyName, task.key);
      const headers: Record<string, string> = { ...c.headers, 'X-Case': c.id };
      if (c.tokenIn === 'ServiceBusAuthorization') headers.ServiceBusAuthorization = token;
      if (c.tokenIn === 'Authorization') headers.Authorization = token;
      const url = `${task.httpBase}${c.path.replace('{token}', encodeURIComponent(token))}`;
      const body = c.requestSize > 0 ? patternBytes(c.requestSize, c.requestSeed) : undefined;
      const sender = c.client === 'fetch' ? await sendWithFetch(url, c.method, headers, body) : await sendWithRequest(url, c.method, headers, body);
      results.push({ id: c.id, sender, listener: seen.get(c.id) });
    }
    return results;
  } finally {
    server.close();
  }
}

async function sendWithFetch(url: string, method: string, headers: Record<string, string>, body: Buffer | undefined): Promise<HttpCaseResult['sender']> {
  const res = await fetch(url, { method, headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => (out[name] = value));
  return { status: res.status, reason: res.statusText, headers: out, bodyLength: bytes.length, bodySha: sha256(bytes) };
}

function sendWithRequest(url: string, method: string, headers: Record<string, string>, body: Buffer | undefined): Promise<HttpCaseResult['sender']> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const req = client.request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method, headers }, (res: IncomingMessage) => {
      const digest = new Digest();
      res.on('data', (chunk: Buffer) => digest.update(chunk));
      res.on('end', () => {
        const out: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
        resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: out, bodyLength: digest.length, bodySha: digest.hex() });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const task = JSON.parse(Buffer.from(process.argv[2] ?? '', 'base64').toString('utf8')) as PeerTask;
  const timer = setTimeout(() => {
    report({ error: `hyco peer (${task.mode}) did not finish within ${task.timeoutMs} ms` });
    process.exit(2);
  }, task.timeoutMs);
  if (task.mode === 'ws-listener') {
    clearTimeout(timer);
    // Bounded even if the parent forgets it: a listener never outlives its timeout by much.
    setTimeout(() => process.exit(3), task.timeoutMs).unref();
    runWsListener(task);
    return;
  }
  try {
    report(task.mode === 'ws-echo' ? await runWsEcho(task) : { cases: await runHttp(task) });
    process.exit(0);
  } catch (err) {
    report({ error: (err as Error).stack ?? String(err) });
    process.exit(1);
  }
}

void main();
