// The operators' dashboard: everything through storyxp's GraphQL API, as an admin.
// The token lives in sessionStorage (this tab only); nothing is shown to anyone else.
'use strict';

const $ = (selector) => document.querySelector(selector);
const charts = {};
let token = sessionStorage.getItem('storyxp-admin-token');

async function gql(query, variables = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors && body.errors.length) {
    const error = new Error(body.errors[0].message);
    error.code = body.errors[0].extensions && body.errors[0].extensions.code;
    throw error;
  }
  return body.data;
}

function say(message, isError = false) {
  const status = $('#status');
  status.textContent = message;
  status.className = isError ? 'error' : '';
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text == null ? '' : String(text);
  row.appendChild(td);
  return td;
}

function chart(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options);
  charts[id] = new Chart(document.getElementById(id), config);
}

function showSignIn(message, isError) {
  token = null;
  sessionStorage.removeItem('storyxp-admin-token');
  $('#dashboard').hidden = true;
  $('#sign-in').hidden = false;
  $('#sign-out').hidden = true;
  $('#who').textContent = '';
  Object.values(charts).forEach((c) => c.destroy());
  for (const key of Object.keys(charts)) delete charts[key];
  say(message || '', isError);
}

const STATS = `query($days: Int!) { me { username } xpStats(days: $days) { users levelDistribution { level users }
  actions { action awards xp } daily { date awards xp activeUsers } }
  xpRewards { action xp dailyLimit }
  xpBoosts { id name multiplier actions startsAt endsAt active }
  adminActions(first: 50) { edges { node { createdAt kind detail admin { username } target { username } } } } }`;

const TUNABLE = ['STORY_CREATED', 'STORY_PUBLISHED', 'COLLABORATION_COMPLETED', 'STORY_LIKED',
  'STORY_COMMENTED', 'FRIEND_ADDED', 'CHARACTER_CREATED', 'STORY_READ'];

// Reloads everything; the status line then says `done` (what was just changed), so the
// refresh does not overwrite the confirmation, or else when the page was updated.
async function load(done) {
  const days = Number($('#days').value);
  let data;
  try {
    data = await gql(STATS, { days });
  } catch (error) {
    if (error.code === 'FORBIDDEN') return showSignIn('This account is not an admin.', true);
    if (error.code === 'UNAUTHENTICATED') return showSignIn('Your session has ended; sign in again.', true);
    return say(error.message, true);
  }
  $('#sign-in').hidden = true;
  $('#dashboard').hidden = false;
  $('#sign-out').hidden = false;
  $('#who').textContent = `signed in as ${data.me.username}`;
  const stats = data.xpStats;
  $('#total-users').textContent = stats.users.toLocaleString('en');
  $('#total-awards').textContent = stats.daily.reduce((sum, d) => sum + d.awards, 0).toLocaleString('en');
  $('#total-xp').textContent = stats.daily.reduce((sum, d) => sum + d.xp, 0).toLocaleString('en');
  chart('daily-chart', {
    type: 'line',
    data: {
      labels: stats.daily.map((d) => d.date),
      datasets: [
        { label: 'XP', data: stats.daily.map((d) => d.xp), yAxisID: 'xp', borderColor: '#3366cc', backgroundColor: '#3366cc' },
        { label: 'Active users', data: stats.daily.map((d) => d.activeUsers), yAxisID: 'users', borderColor: '#dc3912', backgroundColor: '#dc3912' },
      ],
    },
    options: { scales: { xp: { position: 'left', beginAtZero: true }, users: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } } } },
  });
  chart('levels-chart', {
    type: 'bar',
    data: { labels: stats.levelDistribution.map((l) => `Level ${l.level}`), datasets: [{ label: 'Users', data: stats.levelDistribution.map((l) => l.users), backgroundColor: '#109618' }] },
    options: { scales: { y: { beginAtZero: true } } },
  });
  const paying = stats.actions.filter((a) => a.awards > 0);
  chart('actions-chart', {
    type: 'bar',
    data: { labels: paying.map((a) => a.action), datasets: [{ label: 'XP', data: paying.map((a) => a.xp), backgroundColor: '#ff9900' }] },
    options: { indexAxis: 'y', scales: { x: { beginAtZero: true } } },
  });
  renderRewards(data.xpRewards);
  renderBoosts(data.xpBoosts);
  renderAudit(data.adminActions.edges.map((e) => e.node));
  say(done || `Updated ${new Date().toLocaleTimeString('en')}.`);
}

function renderRewards(rewards) {
  const body = $('#rewards tbody');
  body.replaceChildren();
  for (const reward of rewards) {
    const row = document.createElement('tr');
    row.dataset.action = reward.action;
    cell(row, reward.action);
    const xp = cell(row, '');
    const save = document.createElement('button');
    if (TUNABLE.includes(reward.action)) {
      const input = document.createElement('input');
      Object.assign(input, { type: 'number', min: 0, max: 1000, value: reward.xp, name: 'xp' });
      xp.appendChild(input);
      save.textContent = 'Save';
      save.type = 'button';
      save.addEventListener('click', async () => {
        try {
          const set = await gql('mutation($input: SetXpRewardInput!) { setXpReward(input: $input) { action xp } }',
            { input: { action: reward.action, xp: Number(input.value) } });
          const done = `${set.setXpReward.action} now pays ${set.setXpReward.xp} XP.`;
          say(done);
          await load(done);
        } catch (error) {
          say(error.message, true);
        }
      });
    } else {
      xp.textContent = String(reward.xp);
    }
    cell(row, reward.dailyLimit == null ? 'none' : `${reward.dailyLimit} a day`);
    const actions = cell(row, '');
    if (TUNABLE.includes(reward.action)) actions.appendChild(save);
    body.appendChild(row);
  }
}

function renderBoosts(boosts) {
  const body = $('#boosts tbody');
  body.replaceChildren();
  for (const boost of boosts) {
    const row = document.createElement('tr');
    cell(row, boost.name);
    cell(row, `x${boost.multiplier}`);
    cell(row, boost.actions.length ? boost.actions.join(', ') : 'all eight');
    cell(row, new Date(boost.startsAt).toLocaleString('en'));
    cell(row, new Date(boost.endsAt).toLocaleString('en'));
    const actions = cell(row, boost.active ? '' : 'over or not started');
    if (boost.active) {
      const end = document.createElement('button');
      end.type = 'button';
      end.textContent = 'End now';
      end.addEventListener('click', async () => {
        try {
          await gql('mutation($id: ID!) { endXpBoost(id: $id) { id } }', { id: boost.id });
          const done = `Ended ${boost.name}.`;
          say(done);
          await load(done);
        } catch (error) {
          say(error.message, true);
        }
      });
      actions.appendChild(end);
    }
    body.appendChild(row);
  }
}

function renderAudit(entries) {
  const body = $('#audit tbody');
  body.replaceChildren();
  for (const entry of entries) {
    const row = document.createElement('tr');
    cell(row, new Date(entry.createdAt).toLocaleString('en'));
    cell(row, entry.admin ? entry.admin.username : 'command line');
    cell(row, entry.kind);
    cell(row, entry.target ? entry.target.username : '');
    cell(row, entry.detail);
    body.appendChild(row);
  }
}

$('#sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const data = await gql('mutation($input: LogInInput!) { logIn(input: $input) { token } }',
      { input: { login: form.get('login'), password: form.get('password') } });
    token = data.logIn.token;
    sessionStorage.setItem('storyxp-admin-token', token);
    event.target.reset();
    say('Signed in.');
    await load();
  } catch (error) {
    showSignIn(error.message, true);
  }
});

$('#sign-out').addEventListener('click', () => showSignIn('Signed out.'));
$('#refresh').addEventListener('click', () => load());
$('#days').addEventListener('change', () => load());

const select = $('#new-boost select[name=actions]');
for (const action of TUNABLE) {
  const option = document.createElement('option');
  option.value = option.textContent = action;
  select.appendChild(option);
}
$('#new-boost').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await gql('mutation($input: CreateXpBoostInput!) { createXpBoost(input: $input) { id } }', {
      input: {
        name: form.get('name'),
        multiplier: Number(form.get('multiplier')),
        actions: form.getAll('actions'),
        startsAt: new Date(form.get('startsAt')).toISOString(),
        endsAt: new Date(form.get('endsAt')).toISOString(),
      },
    });
    const done = `Created ${form.get('name')}.`;
    say(done);
    event.target.reset();
    await load(done);
  } catch (error) {
    say(error.message, true);
  }
});

if (token) load(); else showSignIn('');
