import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_JWT_AUDIENCES, type JwtAuthOptions, type JwtIssuer } from '../relay/jwt/jwt-authorizer.js';
import { JwksError, parseJwks } from '../relay/jwt/jwks.js';
import { DEFAULT_KEY_SET_TIMING, isFetchableUrl, type KeySource } from '../relay/jwt/key-set.js';
import { parseRoleMapping, RoleMappingError } from '../relay/jwt/role-mapping.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { collect } from './common-options.js';
import { fail } from './errors.js';
import { fileErrorReason } from './secret-input.js';

export interface JwtFlags {
  jwtIssuer: string[];
  jwtJwks?: string;
  jwtAudience: string[];
  jwtClockSkew?: string;
  jwtRoles?: string;
  jwtKeyRefresh?: string;
}

/** `hybridge server` flags for tokens from identity providers (docs/identity-tokens.md). */
export function addJwtOptions(command: Command): Command {
  return command
    .option('--jwt-issuer <issuer>', 'also accept JWT bearer tokens whose iss is exactly this (repeatable); keys from its OpenID Connect discovery document unless --jwt-jwks', collect, [])
    .option('--jwt-jwks <url|file>', 'the signing keys (JWKS) of the one --jwt-issuer: an https:// URL, or a file (which may hold HS256 "oct" keys)')
    .option('--jwt-audience <aud>', `accepted aud claim (repeatable; default ${DEFAULT_JWT_AUDIENCES.join(' and ')}, as Microsoft Entra ID issues for Azure Relay)`, collect, [])
    .option('--jwt-clock-skew <duration>', `leeway for the exp and nbf claims (default ${formatDuration(DEFAULT_CLOCK_SKEW_SECONDS * 1000)}, at most 1h)`)
    .option('--jwt-roles <file>', 'YAML/JSON file mapping the token\'s role values (roles, scp claims) to Listen/Send/Manage, for the namespace or some hybrid connections (default: Azure Relay Owner/Listener/Sender)')
    .option('--jwt-key-refresh <duration>', `how often the signing keys are fetched again (default ${formatDuration(DEFAULT_KEY_SET_TIMING.refreshMs)}; a token with an unknown key id fetches them at most once a minute)`);
}

/** The JWT configuration on the command line, checked (one line, exit 2); undefined without --jwt-issuer. */
export function jwtOptionsFromFlags(flags: JwtFlags): JwtAuthOptions | undefined {
  const issuers = flags.jwtIssuer;
  if (issuers.length === 0) {
    const stray = flags.jwtJwks !== undefined ? '--jwt-jwks' : flags.jwtAudience.length ? '--jwt-audience' : flags.jwtClockSkew ? '--jwt-clock-skew' : flags.jwtRoles ? '--jwt-roles' : flags.jwtKeyRefresh ? '--jwt-key-refresh' : undefined;
    if (stray) fail(`${stray} needs --jwt-issuer: name the identity provider whose tokens the relay should accept`);
    return undefined;
  }
  if (new Set(issuers).size !== issuers.length) fail('--jwt-issuer: the same issuer is given twice');
  if (flags.jwtJwks !== undefined && issuers.length > 1) fail('--jwt-jwks belongs to one issuer; with several --jwt-issuer, each one\'s keys come from its OpenID Connect discovery document');
  const jwtIssuers: JwtIssuer[] = issuers.map((issuer) => ({ issuer: checkIssuer(issuer, flags.jwtJwks === undefined), keys: keySource(issuer, flags.jwtJwks) }));
  for (const audience of flags.jwtAudience) if (audience.length === 0 || audience.length > 512) fail('--jwt-audience must have 1 to 512 characters');
  const options: JwtAuthOptions = { issuers: jwtIssuers };
  if (flags.jwtAudience.length) options.audiences = flags.jwtAudience;
  if (flags.jwtClockSkew !== undefined) {
    const ms = duration(flags.jwtClockSkew, '--jwt-clock-skew');
    if (ms > 3_600_000) fail('--jwt-clock-skew must be at most 1h');
    options.clockSkewSeconds = Math.round(ms / 1000);
  }
  if (flags.jwtKeyRefresh !== undefined) {
    const ms = duration(flags.jwtKeyRefresh, '--jwt-key-refresh');
    if (ms < 10_000 || ms > 24 * 3_600_000) fail('--jwt-key-refresh must be from 10s to 24h');
    options.timing = { refreshMs: ms, minRefetchMs: Math.min(ms, DEFAULT_KEY_SET_TIMING.minRefetchMs) };
  }
  if (flags.jwtRoles !== undefined) {
    try {
      options.roles = parseRoleMapping(readText(flags.jwtRoles, '--jwt-roles'));
    } catch (err) {
      if (err instanceof RoleMappingError) fail(`--jwt-roles ${flags.jwtRoles}: ${err.message}`);
      throw err;
    }
  }
  return options;
}

function checkIssuer(issuer: string, discovery: boolean): string {
  if (issuer.length === 0 || issuer.length > 512 || /\s/.test(issuer)) fail('--jwt-issuer must be 1 to 512 characters without spaces');
  if (discovery && !isFetchableUrl(issuer)) {
    fail(`--jwt-issuer "${issuer}": its keys come from OpenID Connect discovery, so it must be an https:// URL (http:// only on loopback); or give --jwt-jwks`);
  }
  return issuer;
}

function keySource(issuer: string, jwks: string | undefined): KeySource {
  if (jwks === undefined) return { kind: 'discovery', url: `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, issuer };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(jwks)) {
    if (!isFetchableUrl(jwks)) fail(`--jwt-jwks "${jwks}" must be an https:// URL (http:// only on loopback) or a file`);
    return { kind: 'jwks', url: jwks };
  }
  try {
    parseJwks(readText(jwks, '--jwt-jwks'), { allowSecret: true });
  } catch (err) {
    if (err instanceof JwksError) fail(`--jwt-jwks ${jwks}: ${err.message}`);
    throw err;
  }
  return { kind: 'file', path: resolve(jwks) };
}

function readText(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    fail(`${flag} ${file}: ${fileErrorReason(err)}`);
  }
}

function duration(text: string, flag: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    fail(`${flag}: ${(err as Error).message}`);
  }
}
