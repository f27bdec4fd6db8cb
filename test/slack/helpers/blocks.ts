import type { RecordedCall } from '../../fake-slack/fake-slack-server.ts';

export interface ButtonLike { action_id: string; value: string; text: { text: string }; confirm?: { title: { text: string }; text: { text: string } } }

type BlockLike = { type: string; text?: { text: string }; elements?: { text?: string | { text: string } }[] };

export function blocksOf(call: RecordedCall | undefined): BlockLike[] {
  return (call?.body.blocks ?? []) as BlockLike[];
}

/** All mrkdwn/plain text of a message, for substring assertions. */
export function textOf(call: RecordedCall | undefined): string {
  return blocksOf(call).map((b) => [b.text?.text ?? '', ...(b.elements ?? []).map((e) => (typeof e.text === 'string' ? e.text : e.text?.text ?? ''))].join('\n')).join('\n');
}

export function buttonsOf(call: RecordedCall | undefined): ButtonLike[] {
  return blocksOf(call).filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []) as unknown as ButtonLike[]);
}
