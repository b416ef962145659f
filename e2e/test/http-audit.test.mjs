// The GraphQL over HTTP audit of graphql-http (`serverAudits`, the checks its authors
// run against servers) against a real storyxp: every MUST passes, and at least 20 of the
// SHOULDs. Prints the counts and each audit that did not pass, with its reason.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { startServer } from './server.mjs';

const LEVELS = ['MUST', 'SHOULD', 'MAY'];
const SHOULDS_REQUIRED = 20;

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  const { code, signal } = await server.stop();
  assert.equal(code, 0, `storyxp exited cleanly on SIGTERM (signal ${signal})`);
});

test(`the GraphQL over HTTP audit: every MUST passes, and at least ${SHOULDS_REQUIRED} SHOULDs`, async () => {
  const audits = serverAudits({ url: server.graphqlUrl, fetchFn: fetch });
  const results = [];
  // One at a time: the output reads in the audit's own order.
  for (const audit of audits) {
    results.push(await audit.fn());
  }
  const counts = Object.fromEntries(LEVELS.map((level) => [level, { passed: 0, total: 0 }]));
  const failed = [];
  for (const result of results) {
    const level = LEVELS.find((name) => result.name.startsWith(`${name} `));
    assert.ok(level, `an audit of unknown level: ${result.name}`);
    counts[level].total += 1;
    if (result.status === 'ok') {
      counts[level].passed += 1;
    } else {
      failed.push({ level, ...result });
    }
  }
  const summary = LEVELS.map((level) => `${level} ${counts[level].passed}/${counts[level].total}`).join(', ');
  console.log(`graphql-http audit: ${summary}`);
  for (const { id, name, reason, response } of failed) {
    console.log(`  not passed: [${id}] ${name}: ${reason} (status ${response?.status})`);
  }
  const failedMusts = failed.filter(({ level }) => level === 'MUST');
  assert.deepEqual(
    failedMusts.map(({ id, name, reason }) => `[${id}] ${name}: ${reason}`),
    [],
    'every MUST of GraphQL over HTTP passes',
  );
  assert.ok(
    counts.SHOULD.passed >= SHOULDS_REQUIRED,
    `at least ${SHOULDS_REQUIRED} SHOULDs pass (${counts.SHOULD.passed}/${counts.SHOULD.total})`,
  );
});
