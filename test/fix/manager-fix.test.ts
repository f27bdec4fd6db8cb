import { describe, expect, it } from 'vitest';
import { detectManager, firewalldPlan, firewalldRichRule, renderOperatorCommand, ufwPlan, zoneFromChain } from '../../src/fix/manager-fix.ts';
import { renderRemoteCommand } from '../../src/remote/remote-command.ts';

describe('fixes for hosts whose rules belong to firewalld or ufw', () => {
  it('detects the manager from the triage backend info', () => {
    expect(detectManager({ firewalldActive: true, ufwActive: false })).toBe('firewalld');
    expect(detectManager({ firewalldActive: false, ufwActive: true })).toBe('ufw');
    expect(detectManager({ firewalldActive: false, ufwActive: false })).toBeUndefined();
  });

  it('firewalld: a timed rich rule is the dead-man, then the permanent rule replaces it at reload', () => {
    const plan = firewalldPlan({ port: 23, source: '10.240.2.1', zone: 'public' }, 60);
    expect(plan.apply.map((c) => c.argv)).toEqual([[
      'firewall-cmd', '--zone=public', '--add-rich-rule=rule family="ipv4" source address="10.240.2.1" port port="23" protocol="tcp" accept', '--timeout=60s',
    ]]);
    expect(plan.confirm.map((c) => c.argv)).toEqual([
      ['firewall-cmd', '--permanent', '--zone=public', '--add-rich-rule=rule family="ipv4" source address="10.240.2.1" port port="23" protocol="tcp" accept'],
      ['firewall-cmd', '--reload'],
    ]);
    expect(plan.undo[0]!.argv[3]).toMatch(/^--remove-rich-rule=/);
    expect(firewalldRichRule({ port: 443, source: '2001:db8::/64' })).toBe('rule family="ipv6" source address="2001:db8::/64" port port="443" protocol="tcp" accept');
    for (const c of [...plan.apply, ...plan.confirm, ...plan.undo]) expect(() => renderRemoteCommand(c, { sudo: true })).not.toThrow();
  });

  it('ufw: inserted first (ufw evaluates in order), undone by the matching delete', () => {
    const plan = ufwPlan({ port: 23, source: '10.0.0.0/24' });
    expect(plan.apply[0]!.argv).toEqual(['ufw', 'insert', '1', 'allow', 'proto', 'tcp', 'from', '10.0.0.0/24', 'to', 'any', 'port', '23']);
    expect(plan.undo[0]!.argv).toEqual(['ufw', 'delete', 'allow', 'proto', 'tcp', 'from', '10.0.0.0/24', 'to', 'any', 'port', '23']);
    expect(plan.confirm).toEqual([]);
    expect(ufwPlan({ port: 22 }).apply[0]!.argv).toContain('any');
  });

  it.each([
    ['port 0', () => ufwPlan({ port: 0 })],
    ['port 70000', () => firewalldPlan({ port: 70000 }, 60)],
    ['a source with shell syntax', () => firewalldPlan({ port: 23, source: '1.2.3.4"; reboot; "' }, 60)],
    ['a hostname source', () => ufwPlan({ port: 23, source: 'evil.example' })],
    ['a /33 prefix', () => ufwPlan({ port: 23, source: '10.0.0.0/33' })],
    ['a zone with quotes', () => firewalldPlan({ port: 23, zone: 'pub"lic' }, 60)],
    ['a zero timeout', () => firewalldPlan({ port: 23 }, 0)],
  ])('refuses %s', (_what, build) => {
    expect(build).toThrow(/./);
  });
});

describe('manager fix helpers', () => {
  it('reads the firewalld zone from its chain names, and nothing else', () => {
    expect(zoneFromChain('IN_public_deny')).toBe('public');
    expect(zoneFromChain('filter_IN_internal_allow')).toBe('internal');
    expect(zoneFromChain('IN_public')).toBe('public');
    expect(zoneFromChain('INPUT')).toBeUndefined();
    expect(zoneFromChain('filter_INPUT')).toBeUndefined();
    expect(zoneFromChain('IN_policy_allow')).toBeUndefined();
  });

  it('renders commands as an operator types them, quoting only what a shell would split', () => {
    expect(renderOperatorCommand(['firewall-cmd', '--add-rich-rule=rule family="ipv4" accept', '--timeout=60s']))
      .toBe(`firewall-cmd --add-rich-rule='rule family="ipv4" accept' --timeout=60s`);
    expect(renderOperatorCommand(['echo', "it's"])).toBe(`echo 'it'\\''s'`);
  });
});
