import type { TriageReport } from '../../triage/report-types.ts';
import { codeBlock, escapeMrkdwn, fitBlocks, section, slackLimits, type Block, type SlackMessage } from './block-kit.ts';

/** Splits lines into chunks whose code block fits in one section. */
function chunk(lines: string[], maxChars: number): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const line of lines) {
    const cost = escapeMrkdwn(line).length + 1;
    if (current.length > 0 && size + cost > maxChars) { chunks.push(current); current = []; size = 0; }
    current.push(line);
    size += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Full raw probe output, posted as a thread reply so the verdict message stays short. Null when there is none. */
export function buildRawOutputReply(report: TriageReport): SlackMessage | null {
  const withRaw = report.evidence.filter((e) => e.raw.length > 0);
  if (withRaw.length === 0) return null;
  const blocks: Block[] = [];
  for (const item of withRaw) {
    const parts = chunk(item.raw, slackLimits.sectionText - 200);
    parts.forEach((lines, i) => {
      const title = `*${item.probe}* raw output${parts.length > 1 ? ` (${i + 1}/${parts.length})` : ''}`;
      blocks.push(section(`${title}\n${codeBlock(lines, slackLimits.sectionText - title.length - 1)}`));
    });
  }
  return {
    text: `Raw probe output for ${report.target.host} ${report.port}/${report.protocol}`,
    blocks: fitBlocks([], blocks, []),
  };
}
