import { describe, expect, it } from 'vitest';
import { managerFixOptions } from '../../src/fix/manager-fix.ts';
import { actionIds } from '../../src/slack/action-ids.ts';
import type { ButtonElement } from '../../src/slack/views/block-kit.ts';
import { buildFindingsMessage, type FindingsMessageInput } from '../../src/slack/views/findings-message.ts';
import type { FixOption, TriageReport } from '../../src/triage/report-types.ts';
import { fakeAssembleReport } from '../fake-slack/fake-triage-ports.ts';

function message(fix: FixOption, extra: Partial<FindingsMessageInput> = {}) {
  const report: TriageReport = { ...fakeAssembleReport({ host: 'web1', port: 23, protocol: 'tcp' }, [], []), fixes: [fix] };
  const msg = buildFindingsMessage({
    report, triageId: 'tri-1', requester: 'U1', interactive: true,
    proposals: [{ fixId: fix.id, proposalId: 'prop-1', status: 'pending', approvers: [], requiredApprovals: 1 }], ...extra,
  });
  const buttons = msg.blocks.flatMap((b) => (b as { type: string; elements?: ButtonElement[] }).type === 'actions' ? (b as { elements: ButtonElement[] }).elements : []);
  return { msg, buttons };
}

describe('findings message for a fix in the manager\'s terms', () => {
  it('firewalld: the dialog says zone, client, the timed rule and the permanent step, within Slack\'s limit', () => {
    const [fix] = managerFixOptions({ manager: 'firewalld', port: 23, client: '10.0.0.1', zone: 'public', targetHost: 'web1' });
    const { msg, buttons } = message(fix!);
    const text = buttons.find((b) => b.action_id === actionIds.apply)!.confirm!.text.text;
    expect(text).toMatch(/firewalld zone public: allow TCP 23 from 10\.0\.0\.1\/32\. A timed rich rule first .* --permanent and a reload/);
    expect(text).not.toMatch(/Runtime rules only/);
    expect(text.length).toBeLessThanOrEqual(300);
    expect(JSON.stringify(msg.blocks)).toContain('--timeout=60s');
  });

  it('ufw: no timer, deleted again if verification fails', () => {
    const [fix] = managerFixOptions({ manager: 'ufw', port: 23, client: '10.0.0.1', targetHost: 'web1' });
    const text = message(fix!).buttons.find((b) => b.action_id === actionIds.apply)!.confirm!.text.text;
    expect(text).toMatch(/ufw: allow TCP 23 from 10\.0\.0\.1\/32, inserted as rule 1\. .*no timer: deleted again if verification fails/);
    expect(text).toContain('Runs `ufw insert 1 allow proto tcp from 10.0.0.1/32 to any port 23`');
  });

  it('after the apply: no "Make permanent" (it already is), and rollback says it asks the manager', () => {
    const [fix] = managerFixOptions({ manager: 'firewalld', port: 23, client: '10.0.0.1', targetHost: 'web1' });
    const { buttons } = message(fix!, {
      proposals: [{ fixId: fix!.id, proposalId: 'prop-1', status: 'applied', approvers: ['U2'], requiredApprovals: 1 }],
      decision: { action: 'approved', by: ['U2'], atMs: 0, proposalId: 'prop-1', fixTitle: fix!.title },
    });
    expect(buttons.map((b) => b.action_id)).not.toContain(actionIds.makePermanent);
    expect(buttons.find((b) => b.action_id === actionIds.rollback)!.confirm!.text.text).toMatch(/Removes the fix's rule from firewalld .*permanent rule removed, then a reload/);
  });
});
