import { z } from 'zod';

const probeNames = ['reach', 'connect', 'listener', 'local-connect', 'tcp-wrappers', 'firewall', 'capture', 'persistence'] as const;
export const probeNameSchema = z.enum(probeNames);

/**
 * What one `/why-blocked` asks for, after validation. `host` is the inventory name (never raw
 * user text); `from` is an inventory host name or an IP literal.
 */
export const triageRequestSchema = z.object({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535),
  protocol: z.literal('tcp'),
  from: z.string().min(1).max(253).optional(),
});
export type TriageRequest = z.infer<typeof triageRequestSchema>;

// Job data is stored in clear text in Redis: ids and validated values only, never credentials.
export const triageJobDataSchema = z.object({
  triageId: z.string().regex(/^[A-Za-z0-9_-]+$/),
  request: triageRequestSchema,
  site: z.string(),
  probes: z.array(probeNameSchema),
});
export type TriageJobData = z.infer<typeof triageJobDataSchema>;

export const probeJobDataSchema = z.object({
  triageId: z.string().regex(/^[A-Za-z0-9_-]+$/),
  probe: probeNameSchema,
  request: triageRequestSchema,
  /** Per-attempt budget; the worker aborts the probe when it runs out. */
  timeoutMs: z.number().int().positive(),
});
export type ProbeJobData = z.infer<typeof probeJobDataSchema>;

export const changeKinds = ['apply', 'persist', 'rollback'] as const;
export type ChangeKind = (typeof changeKinds)[number];

/** The apply worker loads commands and rulesets from the stored proposal, never from here. */
export const changeJobDataSchema = z.object({
  kind: z.enum(changeKinds),
  proposalId: z.string().regex(/^prop-[a-f0-9]+$/),
  triageId: z.string(),
  host: z.string(),
  fixId: z.string(),
  rulesetHash: z.string().optional(),
  requestedBy: z.string(),
  approvedBy: z.array(z.string()),
});
export type ChangeJobData = z.infer<typeof changeJobDataSchema>;
