// Slack's Block Kit limits (from @slack/types); every builder truncates to these so a long
// ruleset or tcpdump capture can never make chat.update fail with invalid_blocks.
export const slackLimits = {
  blocksPerMessage: 50,
  sectionText: 3000,
  contextElementText: 2000,
  headerText: 150,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  actionsElements: 25,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  messageText: 4000,
} as const;

export interface TextObject { type: 'mrkdwn' | 'plain_text'; text: string; emoji?: boolean }
export interface ConfirmDialog { title: TextObject; text: TextObject; confirm: TextObject; deny: TextObject; style?: 'primary' | 'danger' }
export interface ButtonElement {
  type: 'button';
  action_id: string;
  text: TextObject;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: ConfirmDialog;
}
export type Block =
  | { type: 'section'; block_id?: string; text: TextObject }
  | { type: 'context'; block_id?: string; elements: TextObject[] }
  | { type: 'divider' }
  | { type: 'header'; text: TextObject }
  | { type: 'actions'; block_id?: string; elements: ButtonElement[] };

export interface SlackMessage {
  /** Notification / fallback text. */
  text: string;
  blocks: Block[];
}

/** Cuts at `max` characters (never inside a surrogate pair) and marks the cut. */
export function truncate(text: string, max: number, marker = '…'): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - marker.length);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return text.slice(0, end) + marker;
}

/** Slack requires &, < and > escaped in all mrkdwn; anything from a host (rules, tcpdump) goes through this. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A fenced code block that fits in `max` characters, fences always balanced. */
export function codeBlock(lines: string[], max: number = slackLimits.sectionText): string {
  const body = escapeMrkdwn(lines.join('\n').replace(/```/g, "'''"));
  const room = max - 8;
  if (body.length <= room) return '```' + body + '```';
  const note = `\n… (${lines.length} lines, truncated)`;
  return '```' + truncate(body, room - note.length, '') + note + '```';
}

export const mrkdwn = (text: string): TextObject => ({ type: 'mrkdwn', text });
export const plain = (text: string, max: number): TextObject => ({ type: 'plain_text', text: truncate(text, max), emoji: true });

export function section(text: string, blockId?: string): Block {
  const block: Block = { type: 'section', text: mrkdwn(truncate(text, slackLimits.sectionText)) };
  if (blockId) block.block_id = blockId;
  return block;
}

export function context(text: string): Block {
  return { type: 'context', elements: [mrkdwn(truncate(text, slackLimits.contextElementText))] };
}

export function button(actionId: string, label: string, value: string, extra: Partial<Pick<ButtonElement, 'style' | 'confirm'>> = {}): ButtonElement {
  if (value.length > slackLimits.buttonValue) throw new Error(`button value too long (${value.length})`);
  return { type: 'button', action_id: actionId, text: plain(label, slackLimits.buttonText), value, ...extra };
}

export function confirmDialog(title: string, text: string, confirmLabel: string, style?: 'primary' | 'danger'): ConfirmDialog {
  const dialog: ConfirmDialog = {
    title: plain(title, slackLimits.confirmTitle),
    text: mrkdwn(truncate(text, slackLimits.confirmText)),
    confirm: plain(confirmLabel, slackLimits.confirmButton),
    deny: plain('Cancel', slackLimits.confirmButton),
  };
  if (style) dialog.style = style;
  return dialog;
}

/**
 * Keeps the message under the block cap by dropping optional blocks from the end of the optional
 * part, and says so, so the first and last blocks (headline, buttons) always survive.
 */
export function fitBlocks(head: Block[], optional: Block[], tail: Block[]): Block[] {
  const room = slackLimits.blocksPerMessage - head.length - tail.length;
  if (optional.length <= room) return [...head, ...optional, ...tail];
  const kept = optional.slice(0, Math.max(0, room - 1));
  return [...head, ...kept, context(`… ${optional.length - kept.length} more sections omitted; full details are in the thread.`), ...tail];
}

export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Slack renders this in the reader's own timezone. */
export function slackDate(atMs: number): string {
  const seconds = Math.floor(atMs / 1000);
  return `<!date^${seconds}^{date_short_pretty} at {time_secs}|${new Date(atMs).toISOString()}>`;
}
