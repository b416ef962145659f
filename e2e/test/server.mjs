// Starts a built storyxp on a free port, on its embedded default (a managed
// PostgreSQL in a fresh data dir), and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const outputDir = join(here, '..', 'test-output');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export async function startServer() {
  const binary = process.env.STORYXP_BIN ?? join(here, '..', '..', 'target', 'debug', 'storyxp');
  const dataDir = mkdtempSync(join(tmpdir(), 'storyxp-e2e-'));
  // Run as root, storyxp runs PostgreSQL as the postgres user, who must reach the dir.
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  // The test clock lets a request name its instant (X-Storyxp-Now), so the daily loop's
  // test can walk dates; requests without the header run on real time as always.
  const env = { ...process.env, STORYXP_DATA_DIR: dataDir, STORYXP_ADDR: `127.0.0.1:${port}`, RUST_LOG: 'warn', STORYXP_TEST_CLOCK: '1' };
  delete env.DATABASE_URL;
  delete env.JWT_SECRET;
  const child = spawn(binary, ['serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt += 1) {
    try {
      const response = await fetch(`${base}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 600) throw new Error('storyxp did not come up within 60 s');
    if (child.exitCode !== null) throw new Error(`storyxp exited with ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    base,
    binary,
    dataDir,
    graphqlUrl: `${base}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    async stop() {
      child.kill('SIGTERM');
      const result = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return result;
    },
  };
}

// A plain GraphQL POST, as any script would make it; at the test clock's instant `now`
// (X-Storyxp-Now) when one is given.
export async function graphql(url, query, variables = {}, token, now) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (now) headers['x-storyxp-now'] = now;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

export async function signUp(url, username) {
  const data = await graphql(
    url,
    'mutation($input: SignUpInput!) { signUp(input: $input) { token user { id } } }',
    { input: { username, email: `${username}@example.com`, password: 'correct horse' } },
  );
  return { token: data.signUp.token, id: data.signUp.user.id };
}
