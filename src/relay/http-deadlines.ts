import type { HybridConnection } from './namespace-model.js';
import type { RelayLimits } from './limits.js';

/**
 * How long a relayed HTTP request may wait for its response head, and the longest pause inside
 * its streamed body. A hybrid connection may set its own (a hybridge extension; Azure has a fixed
 * 60 s for both); unset, the relay's defaults apply.
 */
export interface HttpDeadlines {
  responseMs: number;
  idleMs: number;
}

/** What a hybrid connection may store: 100 ms to 24 h, whole milliseconds. */
export const HTTP_DEADLINE_MIN_MS = 100;
export const HTTP_DEADLINE_MAX_MS = 24 * 60 * 60 * 1000;

/** The per-hybrid-connection settings, as the store, the management API and its client name them. */
export const HTTP_DEADLINE_FIELDS = ['responseTimeoutMs', 'responseIdleTimeoutMs'] as const;
export type HttpDeadlineField = (typeof HTTP_DEADLINE_FIELDS)[number];

/** The problem with a value for a stored deadline, or undefined when it is acceptable. null clears it. */
export function httpDeadlineProblem(field: HttpDeadlineField, value: unknown): string | undefined {
  if (value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < HTTP_DEADLINE_MIN_MS || value > HTTP_DEADLINE_MAX_MS) {
    return `${field} must be a whole number of milliseconds from ${HTTP_DEADLINE_MIN_MS} to ${HTTP_DEADLINE_MAX_MS} (24 h), or null for the relay's default`;
  }
  return undefined;
}

export function httpDeadlinesFor(entity: Pick<HybridConnection, HttpDeadlineField>, limits: Pick<RelayLimits, 'httpResponseTimeoutMs' | 'httpResponseIdleTimeoutMs'>): HttpDeadlines {
  return {
    responseMs: entity.responseTimeoutMs ?? limits.httpResponseTimeoutMs,
    idleMs: entity.responseIdleTimeoutMs ?? limits.httpResponseIdleTimeoutMs,
  };
}
