import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RelayServer } from '../relay-server.js';

/** What a relay that hosts namespaces besides the default one plugs into RelayServer (namespace-host.ts). */
export interface NamespaceHosting {
  /** Opens the hosted namespaces once the default one is open; before the relay serves. */
  open(server: RelayServer): Promise<void>;
  /** Serves the server-level admin API (`/$hybridge/v1/namespaces...`): true when the request was its. */
  handle(req: IncomingMessage, res: ServerResponse, url: string): boolean;
  close(): Promise<void>;
}
