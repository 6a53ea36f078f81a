/**
 * The attack suite (issue 13; docs/security.md): hostile clients against a `hybridge server`
 * process that also serves a legitimate pair. The attacks run one after the other in this one test
 * process, so that no two of them compete for the machine's CPU and each measures its own effect.
 * Run one group with --test-name-pattern, e.g. `node --test --test-name-pattern="ping floods"
 * dist/test/attack/suite.test.js`.
 */
import './ping-flood.attack.js';
import './pre-auth-cpu.attack.js';
import './descriptors.attack.js';
import './frozen-listener.attack.js';
import './malformed.attack.js';
import './churn.attack.js';
