import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.ts';
import { parseLabCidr } from '../../src/lab/lab-addressing.ts';
import { addLoginEtcFiles, loginAuthorizedKeys, loginSshdConfig } from '../../src/lab/lab-login.ts';
import type { LabHostSpec, LabLoginSpec, LabScenario } from '../../src/lab/lab-scenario.ts';
import { renderInventory } from '../../src/lab/lab-ssh-files.ts';
import { planLab } from '../../src/lab/plan-lab.ts';

const subnet = parseLabCidr('10.240.7.0/24', 'test');
const login: LabLoginSpec = { user: 'whyblocked', sudoers: 'whyblocked ALL=(root) NOPASSWD: /usr/bin/true ""\n', libexec: { 'why-blocked-probe': '#!/bin/sh\n' } };

function scenario(server: Partial<LabHostSpec>): LabScenario {
  return {
    name: 'login-test', summary: 'a login host', segments: [{ name: 'lan' }],
    hosts: { server: { interfaces: [{ segment: 'lan', hostId: 2 }], ...server }, client: { interfaces: [{ segment: 'lan', hostId: 1 }] } },
  };
}

describe('lab least-privilege login (pure parts)', () => {
  it.each([
    ['root as the login', { login: { ...login, user: 'root' } }, /must be a lowercase login name other than root/],
    ['a user name with a shell character', { login: { ...login, user: 'wb;id' } }, /must be a lowercase login name/],
    ['a login on a host without sshd', { login, sshd: false }, /has a login user but no sshd/],
    ['a helper name with a slash', { login: { ...login, libexec: { '../why-blocked-probe': '' } } }, /must be a plain file name/],
    ['its own passwd file', { login, etcFiles: { passwd: 'root:x:0:0::/root:/bin/sh\n' } }, /owns \/etc\/passwd/],
    ['its own sudoers.d file', { login, etcFiles: { 'sudoers.d/other': 'x' } }, /owns \/etc\/sudoers\.d/],
  ])('refuses %s before anything is created', (_name, server, message) => {
    expect(() => planLab(scenario(server), 'wbtest', subnet)).toThrow(expect.objectContaining({ code: ErrorCode.LabFailed, message: expect.stringMatching(message) }));
  });

  it('adds the user with a free id and no password to the host copies only, plus its sudoers file', () => {
    const host = planLab(scenario({ login }), 'wbtest', subnet).hosts.find((h) => h.name === 'server')!;
    const passwd = 'root:x:0:0:root:/root:/bin/bash\nother:x:61000:61000::/home/other:/bin/sh\n';
    const group = 'root:x:0:\nthird:x:61001:\n';
    addLoginEtcFiles(host, passwd, group);
    // `*`, not `x`: sshd and sudo's PAM account check then need no shadow entry.
    expect(host.etcFiles.passwd).toBe(`${passwd}whyblocked:*:61002:61002:why-blocked lab probe user:/:/bin/sh\n`);
    expect(host.etcFiles.group).toBe(`${group}whyblocked:x:61002:\n`);
    expect(host.etcFiles['sudoers.d/why-blocked']).toBe(login.sudoers);
    const client = planLab(scenario({ login }), 'wbtest', subnet).hosts.find((h) => h.name === 'client')!;
    addLoginEtcFiles(client, passwd, group);
    expect(client.etcFiles).toEqual({});
  });

  it('lets only the login user in with the overlay key file, and writes sudo: true into its inventory entry', () => {
    const plan = planLab(scenario({ login }), 'wbtest', subnet);
    const server = plan.hosts.find((h) => h.name === 'server')!;
    expect(loginSshdConfig(server)).toBe(`Match User whyblocked\n  AuthorizedKeysFile ${loginAuthorizedKeys}\n`);
    expect(loginSshdConfig(plan.hosts.find((h) => h.name === 'client')!)).toBe('');
    const inventory = renderInventory('wbtest', 'login-test', plan.hosts);
    expect(inventory).toMatch(/server:\n(?: {4}.*\n)*? {4}ssh:\n {6}user: whyblocked\n {6}sudo: true\n/);
    expect(inventory.split('client:')[1]).not.toMatch(/ssh:/);
  });
});
