// Vendors the dashboard's charting library (Chart.js, from npm at the version in
// package-lock.json) into assets/admin, where storyxp embeds it: `node vendor-admin.mjs`
// copies it, `node vendor-admin.mjs --check` (CI) fails unless the checked-in copy is
// byte for byte the locked npm release.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('./node_modules/chart.js/dist/chart.umd.min.js', import.meta.url));
const to = fileURLToPath(new URL('../assets/admin/chart.umd.min.js', import.meta.url));
const { version } = JSON.parse(
  readFileSync(new URL('./node_modules/chart.js/package.json', import.meta.url), 'utf8'),
);
const wanted = readFileSync(from);
if (process.argv.includes('--check')) {
  let current;
  try {
    current = readFileSync(to);
  } catch {
    current = Buffer.alloc(0);
  }
  if (!current.equals(wanted)) {
    console.error(`assets/admin/chart.umd.min.js is not Chart.js ${version} from npm; run: cd e2e && node vendor-admin.mjs`);
    process.exit(1);
  }
  console.log(`assets/admin/chart.umd.min.js is Chart.js ${version}`);
} else {
  writeFileSync(to, wanted);
  console.log(`vendored Chart.js ${version} into assets/admin/chart.umd.min.js`);
}
