/**
 * The Arc inputs checked before any network call: resource ids, clouds, listCredentials answers,
 * guest-gateway targets and --arc-ports lists; and how ARM failures read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCredentials } from '../../src/arc/arc-credentials.js';
import { ArmError, ArmTokenError } from '../../src/arc/arm-client.js';
import { describeArmFailure } from '../../src/arc/arm-failures.js';
import { cloudSettings, CloudSettingsError } from '../../src/arc/clouds.js';
import { parseArcResourceId, ResourceIdError } from '../../src/arc/resource-id.js';
import { parseArcPorts, parseGuestGatewayTarget } from '../../src/arc/serve-arc.js';
import { formatDuration } from '../../src/util/duration.js';

const SUB = '0b1f6471-1bf0-4dda-aec3-111122223333';
const MACHINE = `/subscriptions/${SUB}/resourceGroups/rg-1/providers/Microsoft.HybridCompute/machines/web-01`;

describe('Arc resource ids', () => {
  it('takes a machine id apart, and drops a trailing slash', () => {
    const id = parseArcResourceId(`${MACHINE}/`);
    assert.deepEqual(id, { id: MACHINE, subscription: SUB, resourceGroup: 'rg-1', type: 'Microsoft.HybridCompute/machines', name: 'web-01' });
  });

  it('takes other Arc machine types and nested ids', () => {
    const vmware = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ConnectedVMwarevSphere/virtualMachines/vm1`;
    assert.equal(parseArcResourceId(vmware).type, 'Microsoft.ConnectedVMwarevSphere/virtualMachines');
    const nested = `${MACHINE}/providers/Microsoft.AzureStackHCI/virtualMachineInstances/default`;
    assert.equal(parseArcResourceId(nested).name, 'default');
  });

  const bad: [string, string | undefined, RegExp][] = [
    ['nothing', undefined, /^no machine given: pass --resource-id/],
    ['a relative id', 'subscriptions/x', /must start with \/subscriptions\//],
    ['a subscription that is not a GUID', `/subscriptions/abc/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/m`, /"abc" is not a subscription id/],
    ['no resource group', `/subscriptions/${SUB}/providers/Microsoft.HybridCompute/machines/m`, /\/resourceGroups\/\{group\} must follow/],
    ['no name', `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.HybridCompute/machines`, /type and name are missing/],
    ['a bad namespace', `/subscriptions/${SUB}/resourceGroups/rg/providers/HybridCompute/machines/m`, /"HybridCompute" is not a resource provider namespace/],
    ['a query in the name', `${MACHINE}?api-version=1`, /has characters resource names cannot have/],
    ['an empty segment', `/subscriptions/${SUB}//resourceGroups/rg`, /empty segment/],
  ];
  for (const [what, text, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseArcResourceId(text), (err: Error) => err instanceof ResourceIdError && message.test(err.message));
    });
  }
});

describe('Azure clouds', () => {
  it('knows the ARM endpoint, token scope and Entra authority of each cloud', () => {
    assert.deepEqual(cloudSettings(undefined), { name: 'AzureCloud', armEndpoint: 'https://management.azure.com', armScope: 'https://management.azure.com/.default', authorityHost: 'https://login.microsoftonline.com' });
    assert.deepEqual(cloudSettings('azureusgovernment'), {
      name: 'AzureUSGovernment',
      armEndpoint: 'https://management.usgovcloudapi.net',
      armScope: 'https://management.usgovcloudapi.net/.default',
      authorityHost: 'https://login.microsoftonline.us',
    });
    assert.deepEqual(cloudSettings('AzureChinaCloud'), {
      name: 'AzureChinaCloud',
      armEndpoint: 'https://management.chinacloudapi.cn',
      armScope: 'https://management.chinacloudapi.cn/.default',
      authorityHost: 'https://login.chinacloudapi.cn',
    });
  });

  it('--arm-endpoint replaces the address only', () => {
    const s = cloudSettings('AzureChinaCloud', 'https://arm-proxy.example.com:8443/');
    assert.equal(s.armEndpoint, 'https://arm-proxy.example.com:8443');
    assert.equal(s.armScope, 'https://management.chinacloudapi.cn/.default');
  });

  for (const [cloud, endpoint, message] of [
    ['Mars', undefined, /--cloud must be one of/],
    [undefined, 'management.azure.com', /is not a URL/],
    [undefined, 'http://management.azure.com', /must be an https:\/\/ URL/],
    [undefined, 'https://management.azure.com/?x=1', /must not contain user information, a query or a fragment/],
  ] as const) {
    it(`refuses --cloud ${cloud} --arm-endpoint ${endpoint}`, () => {
      assert.throws(() => cloudSettings(cloud, endpoint), (err: Error) => err instanceof CloudSettingsError && message.test(err.message));
    });
  }
});

describe('listCredentials answers', () => {
  const relay = {
    namespaceName: 'azgnrelay-eastus-l1',
    namespaceNameSuffix: 'servicebus.windows.net',
    hybridConnectionName: 'microsoft.hybridcompute/machines/abc/1234',
    accessKey: 'SharedAccessSignature sr=x&sig=y&se=1&skn=listener',
    expiresOn: 1_900_000_000,
    serviceConfigurationToken: 'eyJ0eXAiOiJKV1Qi.e30.sig',
  };

  it('become a relay endpoint, a hybrid connection and the two secrets', () => {
    const c = parseCredentials({ relay });
    assert.deepEqual(c.endpoint, { secure: true, host: 'azgnrelay-eastus-l1.servicebus.windows.net', port: 443 });
    assert.equal(c.hybridConnectionName, relay.hybridConnectionName);
    assert.equal(c.accessKey, relay.accessKey);
    assert.equal(c.serviceConfigurationToken, relay.serviceConfigurationToken);
    assert.equal(c.expiresAt, 1_900_000_000_000);
  });

  for (const [what, answer, message] of [
    ['no relay object', {}, /no "relay" object/],
    ['a missing access key', { relay: { ...relay, accessKey: undefined } }, /relay\.accessKey is missing/],
    ['a header-splitting access key', { relay: { ...relay, accessKey: 'a\r\nX-Evil: 1' } }, /relay\.accessKey is malformed/],
    ['a number for a name', { relay: { ...relay, namespaceName: 7 } }, /relay\.namespaceName is not a string/],
    ['a host with a path', { relay: { ...relay, namespaceNameSuffix: 'example.com/path' } }, /is not a relay host name/],
    ['a bad hybrid connection name', { relay: { ...relay, hybridConnectionName: '../x' } }, /is not a hybrid connection name/],
  ] as const) {
    it(`refuses ${what}, naming the field and never the secret`, () => {
      assert.throws(
        () => parseCredentials(answer),
        (err: Error) => message.test(err.message) && !err.message.includes('sig=y') && /^ARM's listCredentials answer is not usable/.test(err.message),
      );
    });
  }
});

describe('ARM failures', () => {
  const machine = parseArcResourceId(MACHINE);
  it('read as one line each, with what to do', () => {
    const cases: [unknown, Parameters<typeof describeArmFailure>[1], RegExp][] = [
      [new ArmError(403, 'AuthorizationFailed', 'x'), 'list-credentials', /^no permission to connect to web-01 \(403 AuthorizationFailed\): the signed-in identity needs Microsoft\.HybridConnectivity\/endpoints\/listCredentials\/action/],
      [new ArmError(403, 'AuthorizationFailed', 'x'), 'create-endpoint', /^no permission to set up connections to web-01 \(403 AuthorizationFailed\): creating the connectivity endpoint is a one-time step that needs Owner or Contributor/],
      [new ArmError(404, 'ParentResourceNotFound', 'x'), 'create-endpoint', /^machine not found: \/subscriptions\/.*web-01 \(404 ParentResourceNotFound\)/],
      [new ArmError(409, 'MissingSubscriptionRegistration', 'x'), 'list-credentials', /^subscription 0b1f6471-.* is not registered for the Microsoft\.HybridConnectivity resource provider .*az provider register -n Microsoft\.HybridConnectivity$/],
      [new ArmError(400, 'BadRequest', "The subscription is not registered to use namespace 'Microsoft.HybridConnectivity'"), 'list-credentials', /is not registered for the Microsoft\.HybridConnectivity resource provider \(400 BadRequest\)/],
      [new ArmError(401, 'InvalidAuthenticationToken', ''), 'list-credentials', /^ARM did not accept the Microsoft Entra ID token \(401 InvalidAuthenticationToken\)/],
      [new ArmError(500, 'InternalServerError', 'boom'), 'create-service-configuration', /^creating the service configuration for web-01 failed \(500 InternalServerError\): boom$/],
      [new ArmTokenError('could not get a Microsoft Entra ID token: no'), 'list-credentials', /^could not get a Microsoft Entra ID token: no$/],
    ];
    for (const [err, step, message] of cases) {
      const described = describeArmFailure(err, step, machine).message;
      assert.match(described, message);
      assert.ok(!described.includes('\n'));
    }
  });
});

describe('relay-listener --arc-compatible inputs', () => {
  it('Microsoft-Guestgateway-Target is localhost:PORT (or a loopback literal)', () => {
    assert.equal(parseGuestGatewayTarget('localhost:22'), 22);
    assert.equal(parseGuestGatewayTarget('LOCALHOST:6516'), 6516);
    assert.equal(parseGuestGatewayTarget('127.0.0.1:8080'), 8080);
    assert.equal(parseGuestGatewayTarget('[::1]:2222'), 2222);
    for (const bad of ['10.0.0.5:22', 'localhost', 'localhost:0', 'localhost:65536', 'localhost:22x', 'evil.example.com:22', ':22']) {
      assert.equal(typeof parseGuestGatewayTarget(bad), 'string', bad);
    }
  });

  it('--arc-ports takes ports, ranges and *', () => {
    const ports = parseArcPorts('22, 6516,8000-8100');
    assert.deepEqual([21, 22, 6516, 7999, 8000, 8100, 8101].map((p) => ports.allows(p)), [false, true, true, false, true, true, false]);
    assert.ok(parseArcPorts('*').allows(1));
    assert.throws(() => parseArcPorts('22,0'), /--arc-ports "22,0": port "0" is not a number from 1 to 65535/);
    assert.throws(() => parseArcPorts('100-10'), /reversed/);
  });

  it('durations in messages read like the flags', () => {
    assert.deepEqual([500, 4000, 120_000, 90_000, 3_900_000, 3_600_000].map(formatDuration), ['500ms', '4s', '2m', '1m30s', '1h5m', '1h']);
  });
});
