import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessRight, HybridConnection } from './namespace-model.js';
import type { AuthResult } from './authorizer.js';
import { headerValue, splitQuery } from './request-url.js';

/**
 * The runtime-information request of the .NET SDK (HybridConnectionListener/Client
 * .GetRuntimeInformationAsync, ManagementOperations.GetAsync): `GET https://{ns}/{hyco}?api-version=2016-07`
 * with `X-PROCESS-AT: ServiceBus` and the SAS token in `Authorization`. The relay answers it itself,
 * as Azure does, with an Atom entry holding a HybridConnectionDescription; it never reaches a listener.
 *
 * The SDK reads the entry with a DataContractSerializer, which takes the members in their declared
 * order (CreatedAt, UpdatedAt, RequiresClientAuthorization, UserMetadata, ListenerCount; Order 2, 3,
 * 4, 8, 9) and skips one that comes out of order, so the order below is part of the format. Errors
 * are `<Error><Code/><Detail/></Error>`: the SDK shows the Detail (ManagementOperations
 * .ExtractErrorDetailFromResponseAsync) and maps 401 to AuthorizationFailedException, 404 to
 * EndpointNotFoundException.
 */
export const MANAGEMENT_XML_NAMESPACE = 'http://schemas.microsoft.com/netservices/2010/10/servicebus/connect';
export const ATOM_NAMESPACE = 'http://www.w3.org/2005/Atom';
export const ATOM_ENTRY_CONTENT_TYPE = 'application/atom+xml;type=entry;charset=utf-8';

/** Any right on the entity may read it: Azure's Listener and Sender roles both include "entity read". */
const READ_RIGHTS: readonly AccessRight[] = ['Listen', 'Send', 'Manage'];

/** True for a request the SDK sends to read the entity, rather than one to relay to a listener. */
export function isRuntimeInformationRequest(req: IncomingMessage): boolean {
  if (req.method !== 'GET' || headerValue(req, 'x-process-at')?.trim().toLowerCase() !== 'servicebus') return false;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return false;
  return splitQuery(url.slice(q + 1)).rest.some((part) => part.toLowerCase().startsWith('api-version='));
}

export interface RuntimeInformationContext {
  /** The hybrid connection at exactly this path (no suffix), if there is one. */
  entityAt(path: string): HybridConnection | undefined;
  listenerCount(entity: string): Promise<number>;
  authorize(token: string | undefined, entity: string, right: AccessRight): Promise<AuthResult>;
  /** The relay's host name as clients address it (the entry's id and author). */
  host: string;
  /** Answers a refusal through the relay's throttle and log; `description` carries its TrackingId. */
  refuse(status: number, reason: string, hyco: string | undefined, answer: (description: string) => void): void;
  onAuthenticated(): void;
}

export async function answerRuntimeInformation(ctx: RuntimeInformationContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const fail = (status: number, code: string, reason: string, hyco?: string) => ctx.refuse(status, reason, hyco, (description) => sendManagementError(res, status, code, description));
  const entity = ctx.entityAt(path);
  if (!entity) return fail(404, 'EndpointNotFound', `Endpoint does not exist: no hybrid connection "${path.slice(0, 260)}"`);
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const token = headerValue(req, 'authorization') ?? headerValue(req, 'servicebusauthorization') ?? (q < 0 ? undefined : splitQuery(url.slice(q + 1)).sb.get('sb-hc-token'));
  const result = await authorizeRead(ctx, token, entity.name);
  if (!result.ok) return fail(result.status, result.status === 401 ? 'TokenMissingOrInvalid' : 'Forbidden', result.reason, entity.name);
  ctx.onAuthenticated();
  const body = runtimeInformationEntry(entity, await ctx.listenerCount(entity.name), ctx.host);
  res.writeHead(200, { 'Content-Type': ATOM_ENTRY_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The first right the token has, or the answer for the last one tried (401s are the same for every right). */
async function authorizeRead(ctx: RuntimeInformationContext, token: string | undefined, entity: string): Promise<AuthResult> {
  let result: AuthResult = { ok: false, status: 401, reason: 'MissingToken: no Authorization header' };
  for (const right of READ_RIGHTS) {
    result = await ctx.authorize(token, entity, right);
    if (result.ok || result.status === 401) return result;
  }
  return result;
}

/** The Atom entry, element order as the SDK's data contract declares it. */
export function runtimeInformationEntry(entity: HybridConnection, listenerCount: number, host: string): string {
  const self = `https://${host}/${entity.name}?api-version=2016-07`;
  const members = [
    `<CreatedAt>${xmlText(entity.createdAt)}</CreatedAt>`,
    `<UpdatedAt>${xmlText(entity.updatedAt)}</UpdatedAt>`,
    `<RequiresClientAuthorization>${entity.requiresClientAuthorization}</RequiresClientAuthorization>`,
    // EmitDefaultValue = false: an empty value is left out, and the SDK reports null.
    entity.userMetadata ? `<UserMetadata>${xmlText(entity.userMetadata)}</UserMetadata>` : '',
    `<ListenerCount>${listenerCount}</ListenerCount>`,
  ].join('');
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<entry xmlns="${ATOM_NAMESPACE}">` +
    `<id>${xmlText(self)}</id>` +
    `<title type="text">${xmlText(entity.name)}</title>` +
    `<published>${xmlText(entity.createdAt)}</published>` +
    `<updated>${xmlText(entity.updatedAt)}</updated>` +
    `<author><name>${xmlText(host)}</name></author>` +
    `<link rel="self" href="${xmlText(self)}"/>` +
    '<content type="application/xml">' +
    `<HybridConnectionDescription xmlns="${MANAGEMENT_XML_NAMESPACE}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">${members}</HybridConnectionDescription>` +
    '</content></entry>'
  );
}

/** `<Error><Code>status</Code><Detail>…</Detail></Error>`, as the service answers management calls. */
export function sendManagementError(res: ServerResponse, status: number, code: string, detail: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `<Error><Code>${status}</Code><Detail>${xmlText(detail)}</Detail></Error>`;
  res.writeHead(status, code, { 'Content-Type': 'application/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Text as XML 1.0 content: markup characters escaped, the control characters XML cannot hold left out. */
export function xmlText(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.codePointAt(0)!;
    if (code < 0x20 && c !== '\t' && c !== '\n' && c !== '\r') continue;
    out += c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : c;
  }
  return out;
}
