/**
 * The relay's self-signed certificates parse whatever random bytes their serial number is made of:
 * a serial whose DER encoding starts 00 0x (x < 8) was refused by OpenSSL ("illegal padding") and
 * broke about one TLS relay start in 256.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { describe, it } from 'node:test';
import { certificateSerial, generateSelfSignedCertificate } from '../../src/relay/self-signed.js';

describe('self-signed certificates', () => {
  it('parse with serial bytes that used to need a padding zero, and with every other first byte', () => {
    for (const first of [0x00, 0x80, 0xff]) {
      const serialBytes = Buffer.alloc(16, 0x01);
      serialBytes[0] = first;
      const { cert } = generateSelfSignedCertificate(['127.0.0.1'], 'edge', 1, serialBytes);
      const parsed = new X509Certificate(cert);
      const leading = parseInt(parsed.serialNumber.slice(0, 2), 16);
      assert.ok(parsed.serialNumber.length === 32 && leading >= 1 && leading <= 0x7f, parsed.serialNumber);
      createSecureContext({ ca: cert });
    }
    for (let first = 0; first < 256; first++) {
      const serial = certificateSerial(Buffer.from([first, 0x00, 0x7f]));
      assert.ok(serial[0]! >= 0x01 && serial[0]! <= 0x7f, `first byte ${first}`);
      assert.deepEqual([...serial.subarray(1)], [0x00, 0x7f]);
    }
  });
});
