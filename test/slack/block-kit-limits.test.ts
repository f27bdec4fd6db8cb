import { describe, expect, it } from 'vitest';
import type { EvidenceItem, FixOption, TriageReport } from '../../src/triage/report-types.ts';
import { actionIds } from '../../src/slack/action-ids.ts';
import { slackLimits, truncate, type Block, type SlackMessage } from '../../src/slack/views/block-kit.ts';
import { buildFindingsMessage } from '../../src/slack/views/findings-message.ts';
import { buildProgressMessage } from '../../src/slack/views/progress-message.ts';
import { buildRawOutputReply } from '../../src/slack/views/raw-output-reply.ts';
import { buildTriageFailedMessage } from '../../src/slack/views/triage-failed-message.ts';
import { fakeAssembleReport, seedSummary } from '../fake-slack/fake-triage-ports.ts';

const long = (n: number, unit = 'x<&>'): string => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);

function hugeReport(): TriageReport {
  const evidence: EvidenceItem[] = Array.from({ length: 60 }, (_, i) => ({
    probe: 'capture', ok: i % 2 === 0, summary: long(5000), durationMs: i, error: { code: 'x', message: long(4000) },
    raw: Array.from({ length: 400 }, (_, j) => `${j} ${long(300)} \`\`\` fence`),
  }));
  const fixes: FixOption[] = Array.from({ length: 30 }, (_, i) => ({
    id: `fix-${i}`, title: long(400, 'Title '), host: `host-${long(300)}`, commands: Array.from({ length: 50 }, () => long(500)),
    rulesetAfter: long(10_000), effect: long(3000), blastRadius: Array.from({ length: 40 }, () => long(200)), kind: 'firewall',
  }));
  return {
    ...fakeAssembleReport({ host: 'web01', port: 23, protocol: 'tcp' }, [], []),
    summary: long(10_000), evidence, fixes,
    decidedBy: { source: 'iptables-save', table: 'filter', chain: 'INPUT', position: 5, rule: long(8000) },
    predictedSymptom: long(3000), observedSymptom: long(3000),
    warnings: Array.from({ length: 100 }, () => ({ code: 'unknown-match' as const, message: long(500) })),
  };
}

/** Asserts every limit Slack enforces on a message we send. */
function expectWithinSlackLimits(message: SlackMessage): void {
  expect(message.blocks.length).toBeLessThanOrEqual(slackLimits.blocksPerMessage);
  expect(message.text.length).toBeLessThanOrEqual(slackLimits.messageText);
  for (const block of message.blocks as Block[]) {
    if (block.type === 'section') {
      expect(block.text.text.length).toBeLessThanOrEqual(slackLimits.sectionText);
      expect((block.text.text.match(/```/g) ?? []).length % 2).toBe(0);
    }
    if (block.type === 'context') for (const e of block.elements) expect(e.text.length).toBeLessThanOrEqual(slackLimits.contextElementText);
    if (block.type === 'actions') {
      expect(block.elements.length).toBeLessThanOrEqual(slackLimits.actionsElements);
      for (const b of block.elements) {
        expect(b.text.text.length).toBeLessThanOrEqual(slackLimits.buttonText);
        expect(b.value.length).toBeLessThanOrEqual(slackLimits.buttonValue);
        expect(b.action_id.length).toBeLessThanOrEqual(slackLimits.actionId);
        if (b.confirm) {
          expect(b.confirm.title.text.length).toBeLessThanOrEqual(slackLimits.confirmTitle);
          expect(b.confirm.text.text.length).toBeLessThanOrEqual(slackLimits.confirmText);
          expect(b.confirm.confirm.text.length).toBeLessThanOrEqual(slackLimits.confirmButton);
          expect(b.confirm.deny.text.length).toBeLessThanOrEqual(slackLimits.confirmButton);
        }
      }
    }
  }
}

const proposalsFor = (report: TriageReport) => report.fixes.map((f, i) => ({
  fixId: f.id, proposalId: `prop-${i.toString(16).padStart(24, '0')}`, status: 'pending' as const, approvers: [], requiredApprovals: 1,
}));

describe('Block Kit builders stay within Slack limits', () => {
  it('findings message for a pathological report: ≤ 50 blocks, truncated texts, headline and buttons kept', () => {
    const report = hugeReport();
    const message = buildFindingsMessage({ report, triageId: 'tri-1', requester: 'U1', proposals: proposalsFor(report), interactive: true });
    expectWithinSlackLimits(message);
    const first = message.blocks[0];
    expect(first?.type === 'section' && first.text.text.startsWith('🚫 *x&lt;&amp;&gt;')).toBe(true);
    const last = message.blocks.at(-1);
    expect(last?.type).toBe('actions');
    if (last?.type === 'actions') {
      expect(last.elements.at(-1)?.action_id).toBe(actionIds.rerun);
      expect(last.elements.filter((e) => e.action_id === actionIds.apply)).toHaveLength(5);
    }
    expect(JSON.stringify(message.blocks)).toContain('more sections omitted');
  });

  it('raw output thread reply, progress and failure messages for the same report', () => {
    const report = hugeReport();
    const raw = buildRawOutputReply(report);
    expect(raw).not.toBeNull();
    if (raw) expectWithinSlackLimits(raw);
    const request = { host: long(253), port: 23, protocol: 'tcp' as const, from: long(253) };
    const progress = report.evidence.slice(0, 8).map((e, i) => ({ probe: e.probe, ok: e.ok, durationMs: i, summary: e.summary, finishedAt: i }));
    expectWithinSlackLimits(buildProgressMessage({ request, requester: 'U1', probes: ['connect', 'listener', 'firewall', 'capture'], progress, createdAtMs: 0, nowMs: 1 }));
    expectWithinSlackLimits(buildTriageFailedMessage({
      triageId: 'tri-1', request, requester: 'U1', probes: ['connect', 'capture'], progress, reason: 'timed-out', error: long(10_000), elapsedMs: 30_000, interactive: true,
    }));
  });

  it('renders the seed verdict in plain words, with host output escaped', () => {
    const report = fakeAssembleReport({ host: 'web01', port: 23, protocol: 'tcp' }, [
      { probe: 'capture', ok: false, summary: 'SYN <answered> & rejected', raw: ['IP a > b: Flags [S]'], durationMs: 3 },
    ], []);
    const message = buildFindingsMessage({ report, triageId: 'tri-1', requester: 'U1', proposals: proposalsFor(report), interactive: true });
    const text = JSON.stringify(message.blocks);
    expect(text).toContain(seedSummary.replace(/'/g, "'"));
    expect(text).toContain('SYN &lt;answered&gt; &amp; rejected');
    expect(text).toContain('IP a &gt; b: Flags [S]');
    expect(text).not.toContain('<answered>');
  });

  it('truncate never splits a surrogate pair and marks the cut', () => {
    expect(truncate('ab😀cd', 4)).toBe('ab…');
    expect(truncate('abc', 3)).toBe('abc');
  });
});
