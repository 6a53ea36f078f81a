import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionStringError, MAX_OPERATION_TIMEOUT_MS, parseConnectionString, parseTimeSpan } from '../../src/protocol/connection-string.js';

describe('OperationTimeout (fuzz regressions)', () => {
  it('a timeout no timer can wait is refused instead of firing at once (fuzz: OperationTimeout=99999999999999999999)', () => {
    assert.throws(() => parseConnectionString('Endpoint=http://a.aa;OperationTimeout=99999999999999999999'), ConnectionStringError);
    assert.throws(() => parseTimeSpan('30.00:00:00'), /longer than 24\.20:31:23/);
    assert.throws(() => parseTimeSpan('25'), ConnectionStringError, '25 days');
    assert.equal(parseTimeSpan('24.00:00:00'), 24 * 86_400_000);
    assert.ok(parseTimeSpan('24.20:31:23') <= MAX_OPERATION_TIMEOUT_MS);
    assert.equal(parseConnectionString('Endpoint=sb://ns.example/;OperationTimeout=00:01:00').operationTimeoutMs, 60_000);
  });
});
