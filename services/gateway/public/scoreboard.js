// The page runs on @matchcast/client (bundled as /matchcast-client.js, `window.Matchcast`):
// createScoreboard loads GET /api/matches, seeds the client's per-stream positions from it and
// subscribes to `all`; the client reconnects with backoff and resume, so no update is missed or
// applied twice, and reloads the snapshot when the server's history cannot cover a gap.
// Signed in (account.js), the same client carries the user's token and `user:<id>` channel.
// Each league's table: GET /api/leagues/{id}/table, then its `league_table` events on
// `league:<id>` (createLeagueTable, with resume); the scoreboard follows that channel too, since
// the league's match events now arrive on it rather than on `all`.
// Announcements (createAnnouncements): the active ones for everyone (`all`) and for each league
// shown, as a banner above the scores, each store loaded from GET /api/announcements?target=…
// and then kept live by its stream's announcement events (with resume); the organiser (the
// demo's admin) gets a form that publishes one and an Expire button on each banner.
// Left open for days the page stays bounded: the scoreboard lets ended matches go after a few
// hours and holds at most so many (its defaults; a script that sets
// `window.matchcastScoreboardOptions = { endedTtlMs, maxMatches }` before this one changes them),
// and a match that leaves takes its row and what the page kept for it along (its league's table
// and channel too when it was the league's last match on the board).
const { MatchcastClient, createScoreboard, createLeagueTable, createAnnouncements, httpSnapshot } = window.Matchcast;
const account = window.MatchcastAccount;
const statusEl = document.getElementById('status');
const listEl = document.getElementById('matches');
const eventsEl = document.getElementById('events');
const tablesEl = document.getElementById('tables');
const ICON = { goal: 'GOAL', own_goal: 'OWN GOAL', penalty_goal: 'GOAL (pen)', penalty_miss: 'PEN MISSED', yellow_card: 'YELLOW', red_card: 'RED', substitution: 'SUB', var: 'VAR' };
const STATE_TEXT = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', offline: 'offline' };

function esc(s) { return String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]); }
/** Stored text inline beside the page's own: escaped, and isolated so that a bidi override in it (U+202E) cannot reorder what follows. */
function text(s) { return `<bdi>${esc(s)}</bdi>`; }

function showState(state, detail) {
  statusEl.dataset.state = state;
  statusEl.textContent = STATE_TEXT[state] + (detail ? ` (${detail})` : '');
}

function render(m, flash) {
  let el = document.getElementById('m-' + m.match_id);
  if (!el) {
    el = document.createElement('div');
    el.className = 'match';
    el.id = 'm-' + m.match_id;
    el.dataset.match = m.match_id;
    listEl.appendChild(el);
  }
  const minute = m.status === 'live' ? m.minute + "'" : m.status.replace('_', ' ');
  el.classList.toggle('off', m.status === 'postponed' || m.status === 'cancelled');
  el.innerHTML = `<div class="meta"><span>${esc(m.league?.name)}</span><span class="status ${esc(m.status)}">${esc(minute)}</span></div>
    <div class="row"><span class="team">${esc(m.home_team?.name)}${account.followButton(m.home_team)}</span><span class="score home" data-testid="home-score">${esc(m.score?.home ?? 0)}</span></div>
    <div class="row"><span class="team">${esc(m.away_team?.name)}${account.followButton(m.away_team)}</span><span class="score away" data-testid="away-score">${esc(m.score?.away ?? 0)}</span></div>
    ${scheduleNote(m)}`;
  if (flash) { el.classList.add('flash'); setTimeout(() => el.classList.remove('flash'), 1200); }
}

// ---- schedule changes ----

const scheduleChanges = new Map(); // match_id -> the last schedule_update's data seen live
function clock(iso) {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? '' : at.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
}
/** The badge under a match: postponed/cancelled from its status; a live reschedule with the old and new kick-off. */
function scheduleNote(m) {
  const change = scheduleChanges.get(m.match_id);
  if (m.status === 'postponed' || m.status === 'cancelled') {
    return `<span class="schedule" data-change="${esc(m.status)}">${m.status === 'postponed' ? 'Postponed' : 'Cancelled'}</span>`;
  }
  if (change?.change === 'rescheduled' && m.status === 'scheduled') {
    // Back from a postponement at the same time: only the new kick-off says anything.
    const moved = change.old_kickoff_at === change.new_kickoff_at ? '' : `${esc(clock(change.old_kickoff_at))} → `;
    return `<span class="schedule" data-change="rescheduled">Rescheduled: ${moved}${esc(clock(change.new_kickoff_at))}</span>`;
  }
  return '';
}

// ---- league tables ----

const tables = new Map(); // league id -> the createLeagueTable store
const leagueFollows = new Map(); // league id -> stops the scoreboard following `league:<id>`
function renderTable(store, moved) {
  const league = store.league;
  if (!league) return;
  let el = document.getElementById('t-' + league.id);
  if (!el) {
    el = document.createElement('table');
    el.className = 'league';
    el.id = 't-' + league.id;
    el.dataset.league = league.id;
    tablesEl.appendChild(el);
  }
  el.dataset.seq = String(store.seq);
  el.innerHTML = `<caption>${esc(league.name)}</caption>
    <thead><tr><th>#</th><th class="team">Team</th><th title="played">P</th><th title="won">W</th><th title="drawn">D</th><th title="lost">L</th><th title="goal difference">GD</th><th title="points">Pts</th></tr></thead>
    <tbody>${store.rows.map((r) => `<tr data-team="${esc(r.team.id)}" class="${moved.has(r.team.id) ? 'moved' : ''}">
      <td class="pos">${esc(r.position)}</td><td class="team">${esc(r.team.name)}</td><td class="played">${esc(r.played)}</td><td>${esc(r.won)}</td><td>${esc(r.drawn)}</td><td>${esc(r.lost)}</td>
      <td class="gd">${r.goal_difference > 0 ? '+' : ''}${esc(r.goal_difference)}</td><td class="pts">${esc(r.points)}</td></tr>`).join('')}</tbody>`;
  if (moved.size > 0) setTimeout(() => el.querySelectorAll('tr.moved').forEach((tr) => tr.classList.remove('moved')), 1500);
}

/** Shows a league's table once it is loaded; retries with a growing delay (not when the API has no such route or league). */
function showLeague(leagueId, attempt = 0) {
  if (tables.has(leagueId) && attempt === 0) return;
  const store = createLeagueTable(client, { baseUrl: location.origin, leagueId, token: account.token });
  tables.set(leagueId, store);
  let before = new Map();
  store.on('change', () => {
    const moved = new Set(store.rows.filter((r) => JSON.stringify(before.get(r.team.id)) !== JSON.stringify(r)).map((r) => r.team.id));
    if (before.size === 0) moved.clear();
    before = new Map(store.rows.map((r) => [r.team.id, r]));
    renderTable(store, moved);
  });
  store.ready.then(() => {
    if (tables.get(leagueId) !== store) return; // let go meanwhile (no match of it left on the board)
    leagueFollows.set(leagueId, scoreboard.follow('league:' + leagueId));
    showAnnouncements({ target: 'league', targetId: leagueId });
    for (const match of scoreboard.matches.values()) if (match.league?.id === leagueId) showMatchAnnouncements(match);
  }, (error) => {
    store.close();
    if (error.status === 404) return console.warn(`no table for league ${leagueId}`, error.message);
    setTimeout(() => tables.get(leagueId) === store && showLeague(leagueId, attempt + 1), Math.min(30000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2));
  });
}

// ---- announcements ----

const announcements = new Map(); // stream (all, league:<id>) -> the createAnnouncements store
const announcementsEl = document.getElementById('announcements');
const TYPE_TEXT = { general: 'news', schedule_change: 'schedule', result_update: 'result', weather_alert: 'weather', emergency: 'emergency' };
const PRIORITY_RANK = { urgent: 0, high: 1, normal: 2, low: 3 };
function renderAnnouncements() {
  const byId = new Map();
  for (const store of announcements.values()) for (const a of store.items) byId.set(a.id, a);
  const items = [...byId.values()].sort((a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || b.created_at.localeCompare(a.created_at));
  announcementsEl.innerHTML = items.map((a) => `<div class="announcement" data-id="${esc(a.id)}" data-priority="${esc(a.priority)}" data-target="${esc(a.target_id === null ? a.target : a.target + ':' + a.target_id)}" role="${a.priority === 'urgent' ? 'alert' : 'status'}">
    <div class="body"><div class="title">${text(a.title)}<span class="tag">${text(TYPE_TEXT[a.type] ?? a.type)}${a.target_id === null ? '' : ' · ' + (a.home_team ? `${text(a.home_team.name)} – ${text(a.away_team?.name)}` : text(a.target_id))}</span></div>
    <div class="message">${esc(a.message)}</div></div>
    ${account.isAdmin ? '<button class="expire" title="Expire it now">Expire</button>' : ''}</div>`).join('');
}

/**
 * Shows a target's active announcements; retries with a growing delay (not for an unknown
 * target). A match's are taken from its league's channel (`channel`), which the page follows.
 */
function showAnnouncements(target, attempt = 0) {
  const stream = target.target === 'everyone' ? 'all' : `${target.target}:${target.targetId}`;
  if (announcements.has(stream) && attempt === 0) return;
  const store = createAnnouncements(client, { baseUrl: location.origin, token: account.token, ...target });
  announcements.set(stream, store);
  store.on('change', renderAnnouncements);
  store.ready.catch((error) => {
    store.close();
    if (error.status === 404) return announcements.delete(stream);
    // Not if the page has let it go meanwhile (its match left the board).
    setTimeout(() => announcements.get(stream) === store && showAnnouncements(target, attempt + 1), Math.min(30000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2));
  });
}

/** A match's announcements, once its league's channel is followed (where they then arrive). */
function showMatchAnnouncements(match) {
  const leagueId = match.league?.id;
  const table = tables.get(leagueId);
  if (!table?.league || !client.channels.includes('league:' + leagueId)) return;
  showAnnouncements({ target: 'match', targetId: match.match_id, channel: 'league:' + leagueId });
}

function mountAnnounceForm() {
  const form = document.getElementById('announce-form');
  const errorEl = document.getElementById('announce-error');
  form.hidden = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    const body = { title: f.title, message: f.message, type: f.type, priority: f.priority, target: f.target };
    if (f.target !== 'everyone') body.target_id = f.target_id.trim();
    if (f.expires_in) body.expires_at = new Date(Date.now() + Number(f.expires_in) * 60000).toISOString();
    errorEl.textContent = '';
    try {
      const created = await account.request('POST', '/api/announcements', { body });
      form.reset();
      form.dataset.lastId = created.id;
    } catch (error) {
      errorEl.textContent = error.code ? `${error.code} (${error.status})` : String(error.message);
    }
  });
  announcementsEl.addEventListener('click', (event) => {
    const id = event.target.closest('button.expire') && event.target.closest('.announcement')?.dataset.id;
    if (id) account.request('DELETE', `/api/announcements/${encodeURIComponent(id)}`).catch((error) => console.warn('could not expire it', error));
  });
}

function addEvent(msg) {
  const e = msg.data.event || {};
  const div = document.createElement('div');
  div.className = 'event';
  const who = e.team === 'home' ? msg.data.home_team?.name : msg.data.away_team?.name;
  div.innerHTML = `<span class="min">${esc(e.minute)}'</span> ${Object.hasOwn(ICON, e.type) ? ICON[e.type] : text(e.type)} ${text(e.player || e.player_in || '')} <small>(${text(who)})</small>`;
  eventsEl.prepend(div);
  while (eventsEl.children.length > 50) eventsEl.lastChild.remove();
}

const client = new MatchcastClient({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
  token: account.token,
  onState: (state) => showState(state),
  onError: (error) => console.warn('matchcast', error.code, error.message),
});
let scoreboard;
// For tests and the console: the client (state, diagnostics, position(stream)), the scoreboard and the inbox.
window.__matchcast = { client, tables, announcements, get scoreboard() { return scoreboard; }, get inbox() { return account.inbox; } };
account.start(client);
if (account.isAdmin) mountAnnounceForm();

const shown = new Map(); // match_id -> "home:away" as rendered, to flash the card on a goal
/** Closes a target's announcements store, if shown, and takes its banners down. */
function dropAnnouncements(stream) {
  const store = announcements.get(stream);
  if (!store) return;
  store.close();
  announcements.delete(stream);
  renderAnnouncements();
}

/** A match left the board (deleted, ended long ago, or past the board's size): its row and all kept for it go. */
function forget(match) {
  scheduleChanges.delete(match.match_id);
  shown.delete(match.match_id);
  document.getElementById('m-' + match.match_id)?.remove();
  dropAnnouncements('match:' + match.match_id);
  forgetLeagueIfEmpty(match.league?.id);
}

/**
 * The last of a league's matches left the board: its table, its channel and its announcements go
 * too (over days a page would otherwise follow every league it ever showed, up to the server's
 * channel limit). A match of it that comes back shows the league again.
 */
function forgetLeagueIfEmpty(leagueId) {
  if (!tables.has(leagueId)) return;
  for (const match of scoreboard.matches.values()) if (match.league?.id === leagueId) return;
  tables.get(leagueId).close();
  tables.delete(leagueId);
  leagueFollows.get(leagueId)?.();
  leagueFollows.delete(leagueId);
  document.getElementById('t-' + leagueId)?.remove();
  dropAnnouncements('league:' + leagueId);
}

function onChange({ match, event, removed }) {
  if (removed) return forget(match);
  if (event?.type === 'schedule_update') scheduleChanges.set(match.match_id, event.data);
  if (match.league?.id && scoreboard) showLeague(match.league.id);
  if (scoreboard) showMatchAnnouncements(match);
  const score = `${match.score?.home ?? 0}:${match.score?.away ?? 0}`;
  const before = shown.get(match.match_id);
  shown.set(match.match_id, score);
  render(match, event !== undefined && before !== undefined && before !== score);
  if (event?.type === 'match_event') addEvent(event);
}

// The snapshot first (so the first subscribe carries its positions), then the connection.
// If the snapshot cannot be loaded (the gateway is down), try again with a growing delay.
async function start(attempt = 0) {
  scoreboard = createScoreboard(client, { ...window.matchcastScoreboardOptions, fetchSnapshot: httpSnapshot(location.origin, 'limit=60'), channel: 'all' });
  scoreboard.on('change', onChange);
  showAnnouncements({ target: 'everyone' });
  try {
    await scoreboard.ready;
  } catch (err) {
    console.warn('could not load the scores', err);
    scoreboard.close();
    showState('connecting', 'retrying');
    setTimeout(() => start(attempt + 1), Math.min(10000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2));
    return;
  }
  client.connect();
}
start();
