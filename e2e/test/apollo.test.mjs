// The frontend's own stack against a real storyxp: Apollo Client with its normalised
// InMemoryCache, HttpLink with the bearer token, GraphQLWsLink for levelUps.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql, split } from '@apollo/client/core/index.js';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions/index.js';
import { getMainDefinition } from '@apollo/client/utilities/index.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql, signUp, startServer } from './server.mjs';

let server;
const clients = [];

before(async () => {
  server = await startServer();
});

after(async () => {
  for (const client of clients) {
    client.stop();
  }
  const { code, signal } = await server.stop();
  assert.equal(code, 0, `storyxp exited cleanly on SIGTERM (signal ${signal})`);
});

function apolloFor(token) {
  const http = new HttpLink({ uri: server.graphqlUrl, headers: { authorization: `Bearer ${token}` } });
  const wsClient = createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  const link = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    new GraphQLWsLink(wsClient),
    http,
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  client.wsClient = wsClient;
  clients.push({ stop: () => { client.stop(); wsClient.dispose(); } });
  return client;
}

const ME = gql`query Me { me { id username experiencePoints level xpProgress xpProgressPercentage } }`;
const CREATE = gql`mutation Create($input: CreateStoryInput!) {
  createStory(input: $input) {
    story { id title author { id experiencePoints level } }
    xpEarned { action xpGained totalXp level leveledUp achievements { key name } }
  }
}`;
const PUBLISH = gql`mutation Publish($id: ID!) {
  publishStory(id: $id) { story { id published author { id experiencePoints level } } xpEarned { xpGained } }
}`;
const LIKE = gql`mutation Like($id: ID!) { likeStory(id: $id) { story { id likeCount } xpEarned { xpGained totalXp } } }`;
const LEVEL_UPS = gql`subscription LevelUps { levelUps { level previousLevel totalXp notification { id type level message read } } }`;

test('a writer earns XP, sees it in the cache, and gets a level-up pushed', async () => {
  const alice = await signUp(server.graphqlUrl, 'alice');
  const fans = await Promise.all(['bob', 'carol', 'dave', 'erin'].map((name) => signUp(server.graphqlUrl, name)));
  const client = apolloFor(alice.token);

  // Watch `me` through the normalised cache: mutations that return the author update it.
  const seen = [];
  const watching = client.watchQuery({ query: ME }).subscribe({ next: ({ data }) => data?.me && seen.push(data.me.experiencePoints) });
  const first = await client.query({ query: ME });
  assert.equal(first.data.me.username, 'alice');
  assert.equal(first.data.me.experiencePoints, 0);

  const created = await client.mutate({ mutation: CREATE, variables: { input: { title: 'Dawn', content: 'It began.' } } });
  assert.deepEqual(
    { ...created.data.createStory.xpEarned, achievements: created.data.createStory.xpEarned.achievements.map((a) => a.key) },
    { __typename: 'XpAward', action: 'STORY_CREATED', xpGained: 130, totalXp: 130, level: 1, leveledUp: false, achievements: ['FIRST_STORY'] },
  );
  const storyId = created.data.createStory.story.id;
  const published = await client.mutate({ mutation: PUBLISH, variables: { id: storyId } });
  assert.equal(published.data.publishStory.xpEarned.xpGained, 80);
  const cached = client.readQuery({ query: ME });
  assert.equal(cached.me.experiencePoints, 210, 'the cache entry User:alice was updated by the mutation payload');
  assert.ok(seen.includes(210), `watchQuery saw the update: ${seen}`);

  // Likes from others earn alice 5 each (the fans' own Apollo clients).
  for (const fan of fans) {
    const fanClient = apolloFor(fan.token);
    const liked = await fanClient.mutate({ mutation: LIKE, variables: { id: storyId } });
    assert.equal(liked.data.likeStory.xpEarned.xpGained, 5);
  }

  // Subscribe, then cross 500 XP: 210 + 20 (likes) + 3 stories (300) = 530.
  const events = [];
  let resolveLevelUp;
  const levelUp = new Promise((resolve) => { resolveLevelUp = resolve; });
  const subscription = client.subscribe({ query: LEVEL_UPS }).subscribe({
    next: ({ data }) => { events.push(data.levelUps); resolveLevelUp(); },
    error: (error) => assert.fail(error),
  });
  await new Promise((resolve) => client.wsClient.on('connected', resolve));
  // graphql-ws has no subscribe acknowledgement: a round trip on the socket orders it.
  await client.query({ query: gql`query Ping { xpRewards { action } }`, fetchPolicy: 'network-only' });
  for (const title of ['Two', 'Three', 'Four']) {
    await client.mutate({ mutation: CREATE, variables: { input: { title, content: '...' } } });
  }
  await Promise.race([levelUp, new Promise((_, reject) => setTimeout(() => reject(new Error('no level-up within 15 s')), 15000))]);
  assert.equal(events.length, 1);
  assert.equal(events[0].level, 2);
  assert.equal(events[0].previousLevel, 1);
  assert.equal(events[0].totalXp, 530);
  assert.equal(events[0].notification.type, 'ACHIEVEMENT_EARNED');
  assert.equal(events[0].notification.read, false);

  const me = await client.query({ query: ME, fetchPolicy: 'network-only' });
  assert.equal(me.data.me.level, 2);
  assert.equal(me.data.me.xpProgress, 30);
  assert.equal(me.data.me.xpProgressPercentage, 6);

  // Notifications: read, mark read, read again.
  const NOTIFICATIONS = gql`query Notifications($unreadOnly: Boolean) { notifications(unreadOnly: $unreadOnly) { nodes { id type level achievement { key } read } pageInfo { hasNextPage } } }`;
  const all = await client.query({ query: NOTIFICATIONS, variables: { unreadOnly: true }, fetchPolicy: 'network-only' });
  const nodes = all.data.notifications.nodes;
  assert.deepEqual(nodes.map((n) => n.level ?? n.achievement.key), [2, 'FIRST_PUBLISH', 'FIRST_STORY']);
  const marked = await client.mutate({
    mutation: gql`mutation Mark($ids: [ID!]!) { markNotificationsRead(ids: $ids) }`,
    variables: { ids: nodes.map((n) => n.id) },
  });
  assert.equal(marked.data.markNotificationsRead, 3);
  const unread = await client.query({ query: NOTIFICATIONS, variables: { unreadOnly: true }, fetchPolicy: 'network-only' });
  assert.deepEqual(unread.data.notifications.nodes, []);
  subscription.unsubscribe();
  watching.unsubscribe();
});

test('a bad token is refused over HTTP and WebSocket', async () => {
  const client = apolloFor('not-a-token');
  await assert.rejects(client.query({ query: ME }), (error) => {
    assert.equal(error.graphQLErrors[0].extensions.code, 'UNAUTHENTICATED');
    return true;
  });
  const closed = await new Promise((resolve) => {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer nope' } })));
    socket.on('close', (code) => resolve(code));
  });
  assert.equal(closed, 4403);
});

test('plain fetch works too (scripts and curl users)', async () => {
  const data = await graphql(server.graphqlUrl, '{ xpRewards { action xp } }');
  assert.deepEqual(data.xpRewards[0], { action: 'STORY_CREATED', xp: 100 });
});

test("graphql-js's introspection query runs, with and without descriptions, and builds the served schema", async () => {
  const { getIntrospectionQuery, buildClientSchema, printSchema } = await import('graphql');
  const { readFile } = await import('node:fs/promises');
  const committed = await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8');
  for (const descriptions of [true, false]) {
    const query = getIntrospectionQuery({
      descriptions,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: descriptions,
      inputValueDeprecation: true,
    });
    const data = await graphql(server.graphqlUrl, query);
    const schema = buildClientSchema(data);
    for (const name of ['User', 'Story', 'XpAward', 'LogInInput', 'XpAction']) {
      assert.ok(schema.getType(name), `${name} is in the introspected schema`);
    }
    assert.ok(schema.getMutationType().getFields().changePassword, 'changePassword is served');
    if (descriptions) {
      assert.match(printSchema(schema), /"""/, 'descriptions come back');
      assert.ok(committed.includes('changePassword'));
    }
  }
});

test('an introspection query nested 20 levels deep is refused with no data', async () => {
  let inner = 'name';
  for (let level = 0; level < 15; level += 1) inner = `ofType { ${inner} }`;
  const query = `{ __schema { types { fields { type { ${inner} } } } } }`;
  const response = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query }),
  });
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.equal(body.data, undefined);
  assert.equal(body.errors[0].message, 'the introspection query nests 20 levels deep; at most 16 are allowed');
  assert.equal(body.errors[0].extensions.code, 'BAD_USER_INPUT');
});

test('a level-up names the shop items it unlocked, and an item is bought and equipped', async () => {
  const quill = await signUp(server.graphqlUrl, 'quill');
  const client = apolloFor(quill.token);
  const SHOP_LEVEL_UPS = gql`subscription ShopLevelUps { levelUps { level previousLevel unlockedItems { key name kind price minLevel } } }`;
  const events = [];
  let resolveLevelUp;
  const levelUp = new Promise((resolve) => { resolveLevelUp = resolve; });
  const subscription = client.subscribe({ query: SHOP_LEVEL_UPS }).subscribe({
    next: ({ data }) => { events.push(data.levelUps); resolveLevelUp(); },
    error: (error) => assert.fail(error),
  });
  await new Promise((resolve) => client.wsClient.on('connected', resolve));
  await client.query({ query: gql`query Ping { shopItems { key } }`, fetchPolicy: 'network-only' });
  // 130 (first story) + 3 * 100 + a publish (80) = 510: level 2.
  const created = await client.mutate({ mutation: CREATE, variables: { input: { title: 'One', content: '...' } } });
  for (const title of ['Two', 'Three', 'Four']) {
    await client.mutate({ mutation: CREATE, variables: { input: { title, content: '...' } } });
  }
  await client.mutate({ mutation: PUBLISH, variables: { id: created.data.createStory.story.id } });
  await Promise.race([levelUp, new Promise((_, reject) => setTimeout(() => reject(new Error('no level-up within 15 s')), 15000))]);
  assert.deepEqual(
    events[0].unlockedItems.map((item) => [item.key, item.kind, item.price, item.minLevel]),
    [['STREAK_FREEZE', 'CONSUMABLE', 200, 2], ['FRAME_BRONZE', 'FRAME', 250, 2]],
  );

  const WALLET = gql`query Wallet { me { id experiencePoints level xpBalance frame { key name } title inventory { item { key } equipped } } }`;
  const before = await client.query({ query: WALLET, fetchPolicy: 'network-only' });
  const bought = await client.mutate({
    mutation: gql`mutation Buy($key: String!) { buyItem(key: $key) { item { key price } user { id xpBalance experiencePoints level } } }`,
    variables: { key: 'FRAME_BRONZE' },
  });
  assert.equal(bought.data.buyItem.user.xpBalance, before.data.me.xpBalance - 250);
  assert.equal(bought.data.buyItem.user.experiencePoints, before.data.me.experiencePoints, 'spending never lowers XP');
  assert.equal(bought.data.buyItem.user.level, 2);
  await client.mutate({
    mutation: gql`mutation Equip($key: String!) { equipItem(key: $key) { user { id frame { key name } title } } }`,
    variables: { key: 'FRAME_BRONZE' },
  });
  const after = await client.query({ query: WALLET, fetchPolicy: 'network-only' });
  assert.deepEqual({ ...after.data.me.frame }, { __typename: 'ShopItem', key: 'FRAME_BRONZE', name: 'Bronze Frame' });
  assert.deepEqual(after.data.me.inventory.map((owned) => [owned.item.key, owned.equipped]), [['FRAME_BRONZE', true]]);
  // A second buy of the frame is refused with its reason, through Apollo's errors.
  await assert.rejects(
    client.mutate({ mutation: gql`mutation Again($key: String!) { buyItem(key: $key) { item { key } } }`, variables: { key: 'FRAME_BRONZE' } }),
    (error) => {
      assert.equal(error.graphQLErrors[0].extensions.code, 'BAD_USER_INPUT');
      assert.equal(error.graphQLErrors[0].extensions.reason, 'ALREADY_OWNED');
      return true;
    },
  );
  subscription.unsubscribe();
});
