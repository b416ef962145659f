// The daily loop through Apollo Client: a streak walked over two dates with the test
// clock (X-Storyxp-Now on each operation's context), and a daily quest done and claimed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core/index.js';
import { graphql, signUp, startServer } from './server.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

function apolloFor(token) {
  const link = new HttpLink({ uri: server.graphqlUrl, headers: { authorization: `Bearer ${token}` } });
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

// The operation's instant: Apollo's HttpLink merges context headers into the request.
const at = (now) => ({ headers: { 'x-storyxp-now': now } });

const DAY_1 = '2026-03-01T12:00:00Z';
const DAY_2 = '2026-03-02T12:00:00Z';

const ME = gql`query Me {
  me { id experiencePoints
       streak { current longest lastActiveDate activeToday freezes }
       dailyQuests { key target progress completed claimed xp date } }
}`;
const CHARACTER = gql`mutation Character($input: CreateCharacterInput!) {
  createCharacter(input: $input) { xpEarned { xpGained events { action xpGained } } }
}`;
const CLAIM = gql`mutation Claim($key: QuestKey!, $date: String) {
  claimQuestReward(key: $key, date: $date) {
    quest { key claimed completed }
    xpEarned { action xpGained events { action xpGained } }
  }
}`;

test('a streak over two dates and a daily quest claimed, through Apollo Client', async () => {
  const wren = await signUp(server.graphqlUrl, 'wren');
  const bard = await signUp(server.graphqlUrl, 'bard');
  const client = apolloFor(wren.token);

  // Day 1: the first activity starts the streak (no bonus on day 1).
  const first = await client.mutate({ mutation: CHARACTER, variables: { input: { name: 'Ada' } }, context: at(DAY_1) });
  assert.equal(first.data.createCharacter.xpEarned.events.some((e) => e.action === 'STREAK_BONUS'), false);
  let me = await client.query({ query: ME, fetchPolicy: 'network-only', context: at(DAY_1) });
  assert.deepEqual(
    { ...me.data.me.streak, __typename: undefined },
    { __typename: undefined, current: 1, longest: 1, lastActiveDate: '2026-03-01', activeToday: true, freezes: 0 },
  );

  // Day 2: the first activity continues it and pays STREAK_BONUS 5 * 2.
  const second = await client.mutate({ mutation: CHARACTER, variables: { input: { name: 'Bo' } }, context: at(DAY_2) });
  const bonus = second.data.createCharacter.xpEarned.events.filter((e) => e.action === 'STREAK_BONUS');
  assert.deepEqual(bonus.map((e) => e.xpGained), [10]);
  me = await client.query({ query: ME, fetchPolicy: 'network-only', context: at(DAY_2) });
  assert.equal(me.data.me.streak.current, 2);
  assert.equal(me.data.me.streak.longest, 2);
  assert.equal(me.data.me.streak.lastActiveDate, '2026-03-02');

  // Day 2's three quests: distinct, of that date; do the first one and claim it.
  const quests = me.data.me.dailyQuests;
  assert.equal(quests.length, 3);
  assert.equal(new Set(quests.map((q) => q.key)).size, 3);
  assert.ok(quests.every((q) => q.date === '2026-03-02' && !q.claimed));
  const quest = quests[0];
  const stories = [];
  for (const title of ['One', 'Two', 'Three']) {
    const made = await graphql(server.graphqlUrl, 'mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }', { input: { title, content: '...' } }, bard.token);
    const id = made.createStory.story.id;
    await graphql(server.graphqlUrl, 'mutation($id: ID!) { publishStory(id: $id) { __typename } }', { id }, bard.token);
    stories.push(id);
  }
  const run = (query, variables) => client.mutate({ mutation: gql(query), variables, context: at(DAY_2) });
  switch (quest.key) {
    case 'LIKE_STORIES':
      for (const id of stories) await run('mutation L($id: ID!) { likeStory(id: $id) { __typename } }', { id });
      break;
    case 'READ_STORIES':
      for (const id of stories) await run('mutation R($id: ID!) { readStory(id: $id) { __typename } }', { id });
      break;
    case 'COMMENT_ON_STORIES':
      for (const id of stories.slice(0, 2)) await run('mutation C($id: ID!) { commentOnStory(storyId: $id, body: "Lovely") { __typename } }', { id });
      break;
    case 'WRITE_STORY':
      await run('mutation W($input: CreateStoryInput!) { createStory(input: $input) { __typename } }', { input: { title: 'Mine', content: '...' } });
      break;
    case 'PUBLISH_STORY': {
      const made = await run('mutation W($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }', { input: { title: 'Mine', content: '...' } });
      await run('mutation P($id: ID!) { publishStory(id: $id) { __typename } }', { id: made.data.createStory.story.id });
      break;
    }
    case 'CREATE_CHARACTER':
      await run('mutation Ch($input: CreateCharacterInput!) { createCharacter(input: $input) { __typename } }', { input: { name: 'Cy' } });
      break;
    case 'MAKE_FRIEND':
      await run('mutation F($id: ID!) { addFriend(userId: $id) { __typename } }', { id: bard.id });
      break;
    default:
      assert.fail(`unknown quest ${quest.key}`);
  }
  me = await client.query({ query: ME, fetchPolicy: 'network-only', context: at(DAY_2) });
  const done = me.data.me.dailyQuests.find((q) => q.key === quest.key);
  assert.equal(done.completed, true, JSON.stringify(done));
  assert.equal(done.progress, done.target);

  const claimed = await client.mutate({ mutation: CLAIM, variables: { key: quest.key, date: '2026-03-02' }, context: at(DAY_2) });
  assert.equal(claimed.data.claimQuestReward.quest.claimed, true);
  assert.equal(claimed.data.claimQuestReward.xpEarned.action, 'QUEST_COMPLETED');
  assert.equal(claimed.data.claimQuestReward.xpEarned.xpGained, quest.xp);

  // A second claim is refused with BAD_USER_INPUT, and pays nothing.
  const before = (await client.query({ query: ME, fetchPolicy: 'network-only', context: at(DAY_2) })).data.me.experiencePoints;
  await assert.rejects(
    client.mutate({ mutation: CLAIM, variables: { key: quest.key, date: '2026-03-02' }, context: at(DAY_2) }),
    (error) => error.graphQLErrors?.[0]?.extensions?.code === 'BAD_USER_INPUT',
  );
  const afterwards = (await client.query({ query: ME, fetchPolicy: 'network-only', context: at(DAY_2) })).data.me.experiencePoints;
  assert.equal(afterwards, before);
});
