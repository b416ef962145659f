// The operators' dashboard (GET /admin) in a real headless Chromium (Debian's, driven by
// playwright-core): an admin signs in and sees charts drawn from a seeded database,
// changes the STORY_LIKED reward in the table (a like made afterwards pays the new
// amount), creates and ends a boost; a writer who is not an admin sees no data. The
// screenshot of the dashboard goes to test-output/admin-dashboard.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { graphql, outputDir, signUp, startServer } from './server.mjs';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DAY = 24 * 60 * 60 * 1000;
let server;
let browser;
let writers;

// A GraphQL POST at the test clock's instant `now` (X-Storyxp-Now).
const graphqlAt = (now, query, variables, token) => graphql(server.graphqlUrl, query, variables, token, now);

const xpOf = async (token) => (await graphqlAt(new Date().toISOString(), '{ me { experiencePoints } }', {}, token)).me.experiencePoints;

// Five days of activity: each day writers write and publish, and fans like.
async function seed() {
  writers = [];
  for (let n = 0; n < 4; n += 1) writers.push(await signUp(server.graphqlUrl, `admin_writer${n}`));
  const fans = [];
  for (let n = 0; n < 6; n += 1) fans.push(await signUp(server.graphqlUrl, `admin_fan${n}`));
  for (let day = 5; day >= 1; day -= 1) {
    const now = new Date(Date.now() - day * DAY).toISOString();
    for (const [w, writer] of writers.entries()) {
      if ((w + day) % 3 === 0) continue;
      const created = await graphqlAt(now, 'mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }',
        { input: { title: `Day ${day} by ${w}`, content: 'Once upon a time.' } }, writer.token);
      const id = created.createStory.story.id;
      await graphqlAt(now, 'mutation($id: ID!) { publishStory(id: $id) { story { id } } }', { id }, writer.token);
      for (const fan of fans.slice(0, 1 + ((w + day) % fans.length))) {
        await graphqlAt(now, 'mutation($id: ID!) { likeStory(id: $id) { story { id } } }', { id }, fan.token);
      }
    }
  }
}

before(async () => {
  assert.ok(existsSync(executablePath), `Chromium not found at ${executablePath} (apt-get install chromium)`);
  mkdirSync(outputDir, { recursive: true });
  server = await startServer();
  await signUp(server.graphqlUrl, 'operator');
  // As an operator would: the command line, on the same managed cluster.
  execFileSync(server.binary, ['grant-admin', 'operator'], {
    env: { ...process.env, STORYXP_DATA_DIR: server.dataDir, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await seed();
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

async function openDashboard() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  // Anything leaving 127.0.0.1 would mean a CDN: fail it loudly.
  const outside = [];
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => { outside.push(route.request().url()); route.abort(); });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
  await page.goto(`${server.base}/admin`);
  await page.waitForSelector('#sign-in input[name=login]');
  return { context, page, outside, problems };
}

async function signIn(page, login) {
  await page.fill('#sign-in input[name=login]', login);
  await page.fill('#sign-in input[name=password]', 'correct horse');
  await page.click('#sign-in button[type=submit]');
}

test('an admin sees the charts, tunes STORY_LIKED in place and a later like pays it, and runs boosts', async () => {
  const { context, page, outside, problems } = await openDashboard();
  await signIn(page, 'operator');
  await page.waitForSelector('#dashboard:not([hidden])', { timeout: 15000 });
  await page.waitForFunction(() => document.querySelectorAll('#rewards tbody tr').length > 0);
  // The charts are Chart.js charts holding the seeded data.
  const charts = await page.evaluate(() => Object.fromEntries(['daily-chart', 'levels-chart', 'actions-chart'].map((id) => {
    const chart = Chart.getChart(id);
    return [id, { labels: chart.data.labels, data: chart.data.datasets.map((d) => d.data) }];
  })));
  const daily = charts['daily-chart'];
  assert.equal(daily.labels.length, 30, 'one point per day of the last 30');
  assert.equal(daily.labels[29], new Date().toISOString().slice(0, 10), 'today (UTC) last');
  const activeDays = daily.data[1].filter((n) => n > 0).length;
  assert.ok(activeDays >= 5, `five seeded days have active users: ${JSON.stringify(daily.data[1])}`);
  assert.ok(daily.data[0].reduce((a, b) => a + b, 0) > 1000, 'XP per day adds up to the seeded XP');
  const levels = charts['levels-chart'];
  assert.ok(levels.labels.includes('Level 1') && levels.labels.length >= 2, `levels: ${levels.labels}`);
  assert.equal(levels.data[0].reduce((a, b) => a + b, 0), 11, 'every user is in the level distribution');
  assert.ok(charts['actions-chart'].labels.includes('STORY_LIKED'), `actions: ${charts['actions-chart'].labels}`);
  assert.equal(await page.textContent('#total-users'), '11');
  await page.screenshot({ path: join(outputDir, 'admin-dashboard.png'), fullPage: true });

  // STORY_LIKED edited in the table: 5 -> 9.
  const liked = page.locator('#rewards tr[data-action=STORY_LIKED]');
  assert.equal(await liked.locator('input').inputValue(), '5');
  await liked.locator('input').fill('9');
  await liked.locator('button').click();
  await page.waitForFunction(() => document.querySelector('#status').textContent.includes('STORY_LIKED now pays 9 XP'));
  const author = writers[0];
  const story = (await graphqlAt(new Date().toISOString(), 'mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }',
    { input: { title: 'After the change', content: 'x' } }, author.token)).createStory.story.id;
  await graphqlAt(new Date().toISOString(), 'mutation($id: ID!) { publishStory(id: $id) { story { id } } }', { id: story }, author.token);
  const before = await xpOf(author.token);
  const fan = await signUp(server.graphqlUrl, 'admin_late_fan');
  await graphqlAt(new Date().toISOString(), 'mutation($id: ID!) { likeStory(id: $id) { story { id } } }', { id: story }, fan.token);
  assert.equal(await xpOf(author.token), before + 9, 'a like after the change pays the new amount');
  // The audit trail shows the change.
  await page.waitForFunction(() => [...document.querySelectorAll('#audit tbody tr')].some((row) => row.textContent.includes('STORY_LIKED 5 -> 9')));
  // The refresh after the change keeps its confirmation on the status line.
  assert.match(await page.textContent('#status'), /STORY_LIKED now pays 9 XP/);

  // A boost created in the form, listed, then ended.
  await page.fill('#new-boost input[name=name]', 'Weekend double');
  await page.fill('#new-boost input[name=multiplier]', '2');
  await page.selectOption('#new-boost select[name=actions]', ['STORY_LIKED']);
  const local = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  await page.fill('#new-boost input[name=startsAt]', local(new Date(Date.now() - 60000)));
  await page.fill('#new-boost input[name=endsAt]', local(new Date(Date.now() + DAY)));
  await page.click('#new-boost button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#boosts tbody tr')].some((row) => row.textContent.includes('Weekend double') && row.querySelector('button')));
  await page.locator('#boosts tbody tr', { hasText: 'Weekend double' }).locator('button').click();
  await page.waitForFunction(() => document.querySelector('#status').textContent.includes('Ended Weekend double'));
  await page.waitForFunction(() => [...document.querySelectorAll('#boosts tbody tr')].some((row) => row.textContent.includes('Weekend double') && !row.querySelector('button')));
  assert.match(await page.textContent('#status'), /Ended Weekend double/);

  assert.deepEqual(outside, [], 'the dashboard loads nothing from outside storyxp');
  assert.deepEqual(problems, [], 'no script errors, no blocked resources');
  await context.close();
});

test('a writer who is not an admin is refused and sees no data', async () => {
  const { context, page, problems } = await openDashboard();
  await signIn(page, 'admin_writer1');
  await page.waitForFunction(() => document.querySelector('#status').textContent.includes('not an admin'));
  assert.equal(await page.isVisible('#dashboard'), false);
  assert.equal(await page.isVisible('#sign-in'), true);
  assert.equal(await page.textContent('#total-users'), '-');
  assert.equal(await page.locator('#rewards tbody tr').count(), 0);
  assert.equal(await page.evaluate(() => Chart.getChart('daily-chart') ?? null), null);
  assert.deepEqual(problems.filter((p) => !p.includes('403') && !p.includes('Forbidden')), []);
  await context.close();
});
