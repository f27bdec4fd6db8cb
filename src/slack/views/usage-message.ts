import { escapeMrkdwn } from './block-kit.ts';

export const usageText = [
  '*Usage:* `/why-blocked <host> <port>[/tcp] [from <host|ip>]`',
  '• `/why-blocked web01 23`: why can\'t the workers reach telnet on web01?',
  '• `/why-blocked web01 5432/tcp from app02`: why can\'t app02 reach PostgreSQL on web01?',
  '• `/why-blocked help`: this text.',
  'The host must be in the inventory (name, alias or address).',
].join('\n');

/** Ephemeral reply for a command that was not accepted; nothing was queued. */
export function usageErrorText(problem: string): string {
  return `⚠️ ${escapeMrkdwn(problem)}\nNothing was run.\n\n${usageText}`;
}
