import type { EvidenceItem, ProbeName } from '../triage/report-types.ts';

/** The part of an ExecResult the parsers read; parsers stay pure and testable on fixtures. */
export interface CommandOutput {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs?: number;
  truncated?: boolean;
  timedOut?: boolean;
}

export function lines(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
}

/** Evidence for a probe that could not produce its answer; never thrown, always reported. */
export function failedEvidence(probe: ProbeName, summary: string, out: Partial<CommandOutput>, code: string): EvidenceItem {
  const raw = [...lines(out.stderr ?? ''), ...lines(out.stdout ?? '')].slice(0, 20);
  return {
    probe, ok: false, summary, raw, durationMs: out.durationMs ?? 0,
    error: { code, message: summary },
  };
}

/** A short reason for a command that did not work, for evidence summaries. */
export function describeFailure(tool: string, out: CommandOutput): { code: string; text: string } {
  if (out.code === 127) return { code: 'tool-missing', text: `${tool} is not installed` };
  if (out.timedOut) return { code: 'timeout', text: `${tool} did not finish in time` };
  if (/permission denied|operation not permitted|must be root|you must be root/i.test(out.stderr)) {
    return { code: 'permission', text: `${tool} needs root (sudo) and was refused` };
  }
  const first = lines(out.stderr)[0];
  return { code: 'failed', text: `${tool} failed (exit ${String(out.code)})${first ? `: ${first}` : ''}` };
}
