/**
 * The triage report: what the CLI prints with --json and what the Slack findings message renders.
 * Field names are part of the interface (scripts parse `why-blocked triage --json`).
 */
export type Cause =
  | 'firewall-shadowed-accept'
  | 'firewall-reject'
  | 'firewall-drop'
  | 'firewall-policy-drop'
  | 'reply-blocked'
  | 'not-listening'
  | 'bound-elsewhere'
  | 'tcp-wrappers'
  | 'blocked-upstream'
  | 'no-return-path'
  | 'ssh-unreachable'
  | 'reachable'
  | 'unknown';

export type WarningCode =
  | 'persistence-drift'
  | 'unknown-match'
  | 'rules-changed-during-triage'
  | 'ipv6-differs'
  | 'vantage-not-client';

export interface TriageWarning {
  code: WarningCode;
  message: string;
}

export type ProbeName =
  | 'reach' | 'connect' | 'listener' | 'local-connect' | 'tcp-wrappers' | 'firewall' | 'capture' | 'persistence';

export interface EvidenceItem {
  probe: ProbeName;
  ok: boolean;
  /** One line, as an engineer would say it: "SYN answered by ICMP host-prohibited". */
  summary: string;
  /** Raw lines that support the summary (tcpdump lines, ss lines, rules). */
  raw: string[];
  durationMs: number;
  /** Probe-specific structured data. */
  data?: unknown;
  error?: { code: string; message: string };
}

export interface RuleRef {
  source: string;
  table: string;
  chain: string;
  /** 1-based, as `iptables -L --line-numbers` shows; the handle for nft. */
  position?: number;
  rule?: string;
  policy?: string;
}

export interface FixOption {
  id: string;
  title: string;
  host: string;
  commands: string[];
  rulesetAfter: string;
  effect: string;
  blastRadius: string[];
  /** Service-side hints (not-listening, bound-elsewhere) carry no ruleset. */
  kind: 'firewall' | 'service-hint';
  /**
   * Set when firewalld or ufw owns the rules: the fix is this wish in the manager's own terms
   * (rulesetAfter is then ''), because a raw restore would be overwritten at its next reload.
   */
  manager?: ManagedFix;
}

export interface ManagedFix {
  kind: 'firewalld' | 'ufw';
  port: number;
  /** Client address or CIDR; absent = from anywhere. */
  source?: string;
  /** firewalld zone; absent = the default zone. */
  zone?: string;
}

export interface TriageReport {
  target: { host: string; address: string };
  port: number;
  protocol: 'tcp';
  from: { kind: 'worker' | 'inventory-host' | 'address'; name?: string; address?: string };
  cause: Cause;
  summary: string;
  decidedBy?: RuleRef;
  predictedSymptom?: string;
  observedSymptom?: string;
  symptomAgrees?: boolean;
  evidence: EvidenceItem[];
  warnings: TriageWarning[];
  fixes: FixOption[];
  /** Hash of the runtime ruleset the fixes were computed on (compare-and-swap at apply time). */
  rulesetHash?: string;
  durationMs: number;
  startedAt: string;
}
