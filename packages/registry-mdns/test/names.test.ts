import { describe, expect, it } from '@jest/globals';
import {
  enumerationName,
  instanceName,
  invalidDnsName,
  joinHostPort,
  listName,
  nodeIdOf,
  parseAddress,
  serviceName,
  serviceOfWildcard,
  wildcardName,
} from '../src/names.js';

describe('mDNS names', () => {
  it("builds go-micro's names under the micro domain", () => {
    expect(serviceName('helloworld', 'micro.')).toBe('helloworld.micro');
    expect(instanceName('helloworld-1a2b', 'helloworld', 'micro')).toBe(
      'helloworld-1a2b.helloworld.micro',
    );
    expect(instanceName('go.micro.srv.greeter-1', 'go.micro.srv.greeter', 'micro.')).toBe(
      'go.micro.srv.greeter-1.go.micro.srv.greeter.micro',
    );
    expect(listName('micro.')).toBe('_services.micro');
    expect(wildcardName('helloworld', 'micro')).toBe('helloworld._services.micro');
    expect(enumerationName('.micro.')).toBe('_services._dns-sd._udp.micro');
  });

  it('recovers the node id by stripping .<service>.<domain>, as go-micro', () => {
    expect(nodeIdOf('helloworld-1.helloworld.micro', 'helloworld', 'micro')).toBe('helloworld-1');
    expect(nodeIdOf('helloworld-1.helloworld.micro.', 'helloworld', 'micro.')).toBe('helloworld-1');
    expect(nodeIdOf('a.b-1.a.b.micro', 'a.b', 'micro')).toBe('a.b-1');
    expect(nodeIdOf('Node-1.HelloWorld.MICRO', 'helloworld', 'micro')).toBe('Node-1');
    expect(nodeIdOf('helloworld-1.other.micro', 'helloworld', 'micro')).toBeUndefined();
    expect(nodeIdOf('helloworld-1.helloworld.local', 'helloworld', 'micro')).toBeUndefined();
    expect(nodeIdOf('helloworld.micro', 'helloworld', 'micro')).toBeUndefined();
    expect(serviceOfWildcard('go.micro.api._services.micro', 'micro')).toBe('go.micro.api');
    expect(serviceOfWildcard('x-1.x.micro', 'micro')).toBeUndefined();
  });

  it('checks that a name fits in a DNS packet', () => {
    expect(invalidDnsName(instanceName('n-1', 'svc', 'micro'))).toBeUndefined();
    expect(invalidDnsName(`${'a'.repeat(63)}.micro`)).toBeUndefined();
    expect(invalidDnsName(`${'a'.repeat(64)}.micro`)).toMatch(/longer than 63 bytes/);
    expect(invalidDnsName('a..micro')).toMatch(/empty label/);
    expect(invalidDnsName(Array(60).fill('abcd').join('.'))).toMatch(/longer than 253 bytes/);
  });

  it("splits addresses as Go's net.SplitHostPort and requires an IP", () => {
    expect(parseAddress('10.0.0.5:41234')).toEqual({ ip: '10.0.0.5', family: 4, port: 41234 });
    expect(parseAddress('[::1]:8080')).toEqual({ ip: '::1', family: 6, port: 8080 });
    expect(parseAddress('[fe80::1]:1')).toEqual({ ip: 'fe80::1', family: 6, port: 1 });
    expect(parseAddress('[::ffff:10.1.2.3]:9')).toEqual({ ip: '10.1.2.3', family: 4, port: 9 });
    expect(() => parseAddress('localhost:80')).toThrow(/IP address/);
    expect(() => parseAddress(':80')).toThrow(/IP address/);
    expect(() => parseAddress('10.0.0.5')).toThrow(/host:port/);
    expect(() => parseAddress('::1:80')).toThrow(/host:port/);
    expect(() => parseAddress('10.0.0.5:0')).toThrow(/port/);
    expect(() => parseAddress('10.0.0.5:65536')).toThrow(/port/);
    expect(() => parseAddress('10.0.0.5:http')).toThrow(/port/);
    expect(joinHostPort('10.0.0.5', 80)).toBe('10.0.0.5:80');
    expect(joinHostPort('::1', 80)).toBe('[::1]:80');
  });
});
