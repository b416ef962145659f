// GraphiQL, served by storyxp itself, in a real headless Chromium (Debian's, driven by
// playwright-core; no browser download): a query typed into the editor, and the
// levelUps subscription receiving an event. Screenshots go to test-output/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { graphql, outputDir, signUp, startServer } from './server.mjs';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server;
let browser;

before(async () => {
  assert.ok(existsSync(executablePath), `Chromium not found at ${executablePath} (apt-get install chromium)`);
  mkdirSync(outputDir, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function openGraphiql(headers) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Any request leaving 127.0.0.1 would mean a CDN: fail it loudly.
  const outside = [];
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => { outside.push(route.request().url()); route.abort(); });
  if (headers) {
    await context.addInitScript((value) => localStorage.setItem('graphiql:headers', value), JSON.stringify(headers));
  }
  const page = await context.newPage();
  await page.goto(server.graphqlUrl);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 30000 });
  return { page, outside };
}

async function typeQuery(page, query) {
  await page.click('.graphiql-query-editor .CodeMirror');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  // The editor closes brackets itself; type the text and compare what it holds.
  await page.keyboard.type(query);
  const typed = await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue());
  // GraphiQL picks up the new operation name after a short debounce.
  await page.waitForTimeout(600);
  return typed;
}

async function responseText(page) {
  return page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '');
}

test('a query typed into GraphiQL runs against this server', async () => {
  const { page, outside } = await openGraphiql();
  const typed = await typeQuery(page, 'query Rewards { xpRewards { action xp');
  assert.match(typed.replace(/\s+/g, ' '), /^query Rewards \{ xpRewards \{ action xp ?\} ?\}$/);
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(() => (document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '').includes('STORY_CREATED'), null, { timeout: 15000 });
  const result = JSON.parse(await responseText(page));
  assert.deepEqual(result.data.xpRewards[0], { action: 'STORY_CREATED', xp: 100 });
  await page.screenshot({ path: join(outputDir, 'graphiql-query.png') });
  assert.deepEqual(outside, [], 'GraphiQL loads nothing from outside storyxp');
});

test('GraphiQL runs the levelUps subscription and shows the event', async () => {
  const alice = await signUp(server.graphqlUrl, 'graphiql_alice');
  const { page } = await openGraphiql({ Authorization: `Bearer ${alice.token}` });
  await typeQuery(page, 'subscription LevelUps { levelUps { level previousLevel totalXp');
  await page.click('.graphiql-execute-button');
  // Wait until the subscription is open, then earn 500 XP: 5 stories (500) + FIRST_STORY.
  await page.waitForFunction(() => document.querySelector('.graphiql-execute-button')?.getAttribute('aria-label')?.toLowerCase().includes('stop'), null, { timeout: 15000 });
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (let n = 0; n < 5; n += 1) {
    await graphql(server.graphqlUrl, 'mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }',
      { input: { title: `Story ${n}`, content: '...' } }, alice.token);
  }
  await page.waitForFunction(() => (document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '').includes('"level": 2'), null, { timeout: 15000 });
  const event = JSON.parse(await responseText(page));
  assert.deepEqual(event.data.levelUps, { level: 2, previousLevel: 1, totalXp: 530 });
  await page.screenshot({ path: join(outputDir, 'graphiql-subscription.png') });
});
