import type { webApi } from '@slack/bolt';
import type { SlackMessage } from './views/block-kit.ts';

/** The few Web API calls the bot makes, so handlers and the updater do not depend on WebClient's types. */
export interface SlackWeb {
  postMessage(channel: string, message: SlackMessage, threadTs?: string): Promise<{ ts: string }>;
  update(channel: string, ts: string, message: SlackMessage): Promise<void>;
  postEphemeral(channel: string, user: string, text: string): Promise<void>;
  usergroupMembers(usergroupId: string): Promise<string[]>;
}

type Blocks = webApi.KnownBlock[];

export function slackWebFrom(client: webApi.WebClient): SlackWeb {
  return {
    postMessage: async (channel, message, threadTs) => {
      const res = await client.chat.postMessage({
        channel, text: message.text, blocks: message.blocks as unknown as Blocks, ...(threadTs ? { thread_ts: threadTs } : {}),
      });
      if (!res.ts) throw new Error('chat.postMessage returned no ts');
      return { ts: res.ts };
    },
    update: async (channel, ts, message) => {
      await client.chat.update({ channel, ts, text: message.text, blocks: message.blocks as unknown as Blocks });
    },
    postEphemeral: async (channel, user, text) => {
      await client.chat.postEphemeral({ channel, user, text });
    },
    usergroupMembers: async (usergroup) => (await client.usergroups.users.list({ usergroup })).users ?? [],
  };
}
