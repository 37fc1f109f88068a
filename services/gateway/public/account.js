// The signed-in half of the page: the development sign-in (when the API offers it), following
// teams, the notification bell and toasts. The bell runs on @matchcast/client's
// createNotifications: the list and unread count come from GET /api/notifications and stay exact
// through the user's `user:<id>` stream — in this tab and in every other tab of the same user.
// Sets `window.MatchcastAccount`; the scoreboard script (index.html) uses it.
(() => {
  const { createNotifications, tokenExpiryMs } = window.Matchcast;
  const SESSION_KEY = 'matchcast.session';
  const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const $ = (id) => document.getElementById(id);
  // Drawn, not an emoji: not every system has an emoji font.
  const BELL_ICON = '<svg width="14" height="14" viewBox="0 0 24 24" aria-hidden="true" fill="currentColor"><path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"/></svg>';

  function readSession() {
    try {
      const value = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null');
      return value && typeof value.user === 'string' && typeof value.token === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }
  let session = readSession();

  async function request(method, path, { body, auth = true } = {}) {
    const headers = {};
    if (auth && session) headers.authorization = `Bearer ${await token()}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = response.status === 204 ? undefined : await response.json().catch(() => undefined);
    if (!response.ok) {
      const code = typeof json?.error === 'string' ? json.error : json?.error?.code;
      throw Object.assign(new Error(`${method} ${path} answered ${response.status} ${code ?? ''}`), { status: response.status, code });
    }
    return json;
  }

  async function signIn(user, roles = []) {
    const { token: fresh } = await request('POST', '/api/dev/sign-in', { body: { user, roles }, auth: false });
    localStorage.setItem(SESSION_KEY, JSON.stringify({ user, roles, token: fresh }));
    location.reload();
  }

  function signOut() {
    localStorage.removeItem(SESSION_KEY);
    location.reload();
  }

  const roles = () => (Array.isArray(session?.roles) ? session.roles : []);

  /** The token provider (the client's and the store's): the development sign-in's tokens are renewed before they expire. */
  async function token() {
    const expiresAt = tokenExpiryMs(session.token);
    if (expiresAt === undefined || expiresAt - Date.now() > 60_000) return session.token;
    const { token: fresh } = await request('POST', '/api/dev/sign-in', { body: { user: session.user, roles: roles() }, auth: false });
    session = { user: session.user, roles: roles(), token: fresh };
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
    return fresh;
  }

  // Another tab signed in as someone else, or out: this tab follows (a renewed token is no change).
  addEventListener('storage', (event) => {
    if (event.key !== SESSION_KEY && event.key !== null) return;
    if (readSession()?.user !== session?.user) location.reload();
  });

  // ---- follows ----

  const followed = new Set();

  /** The follow toggle beside a team's name (nothing when signed out). */
  function followButton(team) {
    if (!session || !team?.id) return '';
    const on = followed.has(team.id);
    return `<button class="follow${on ? ' on' : ''}" data-team="${esc(team.id)}" aria-pressed="${on}" title="${on ? 'Unfollow' : 'Follow'} ${esc(team.name)}">${on ? '★' : '☆'}</button>`;
  }

  function showFollowed(teamId) {
    const on = followed.has(teamId);
    for (const button of document.querySelectorAll(`button.follow[data-team="${CSS.escape(teamId)}"]`)) {
      button.classList.toggle('on', on);
      button.setAttribute('aria-pressed', String(on));
      button.textContent = on ? '★' : '☆';
      button.title = button.title.replace(/^(Unfollow|Follow)/, on ? 'Unfollow' : 'Follow');
    }
  }

  async function toggleFollow(teamId) {
    const on = !followed.has(teamId);
    if (on) followed.add(teamId);
    else followed.delete(teamId);
    showFollowed(teamId);
    try {
      await request(on ? 'PUT' : 'DELETE', `/api/me/follows/team/${encodeURIComponent(teamId)}`);
    } catch (error) {
      console.warn('could not change the follow', error);
      if (on) followed.delete(teamId);
      else followed.add(teamId);
      showFollowed(teamId);
    }
  }

  document.addEventListener('click', (event) => {
    const button = event.target.closest?.('button.follow');
    if (button) void toggleFollow(button.dataset.team);
  });

  async function loadFollows(attempt = 0) {
    try {
      const { follows } = await request('GET', '/api/me/follows');
      for (const follow of follows) if (follow.kind === 'team') followed.add(follow.id);
      for (const teamId of followed) showFollowed(teamId);
    } catch (error) {
      if (error.status === 401) return signOut();
      setTimeout(() => loadFollows(attempt + 1), Math.min(10_000, 500 * 2 ** attempt));
    }
  }

  // ---- the bell, the inbox and toasts ----

  let inbox;

  function time(iso) {
    const at = new Date(iso);
    return Number.isNaN(at.getTime()) ? '' : at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function renderInbox() {
    const count = inbox?.unreadCount ?? 0;
    $('bell-count').textContent = String(count);
    $('bell').dataset.unread = String(count);
    const items = inbox?.items ?? [];
    $('mark-all-read').disabled = count === 0;
    $('inbox-list').innerHTML = items.length === 0
      ? '<p class="empty">No notifications yet. Follow a team (☆ beside its name) to hear about its goals.</p>'
      : items.map((n) => `<div class="notification${n.is_read ? '' : ' unread'}" data-id="${esc(n.id)}">
          <div class="title">${esc(n.title)}</div><div class="message">${esc(n.message)}</div>
          <div class="actions"><small>${esc(time(n.created_at))}</small>
            ${n.is_read ? '' : '<button class="mark-read">Mark read</button>'}<button class="delete">Delete</button></div>
        </div>`).join('');
  }

  // Toasts on screen at once: a burst of notifications (a service's broadcast, a matchday's
  // goals for many follows) stacked one per notification over the page; the bell counts them all.
  const MAX_TOASTS = 3;

  function toast(notification) {
    const el = document.createElement('div');
    el.className = 'toast';
    el.innerHTML = `<strong>${esc(notification.title)}</strong><div>${esc(notification.message)}</div>`;
    const toasts = $('toasts');
    toasts.appendChild(el);
    while (toasts.children.length > MAX_TOASTS) toasts.firstElementChild.remove();
    setTimeout(() => el.remove(), 6000);
  }

  function startInbox(client, attempt = 0) {
    const store = createNotifications(client, { baseUrl: location.origin, token, limit: 30 });
    store.on('change', () => store === inbox && renderInbox());
    store.on('notification', toast);
    inbox = store;
    store.ready.then(renderInbox, (error) => {
      store.close();
      if (error.status === 401) return signOut();
      console.warn('could not load the notifications', error);
      setTimeout(() => startInbox(client, attempt + 1), Math.min(10_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2));
    });
  }

  const act = (promise) => promise.catch((error) => console.warn('notification request failed', error));

  function mountSignedIn(client) {
    $('account').innerHTML = `<span id="whoami">${esc(session.user)}</span>
      <button id="bell" aria-haspopup="true" aria-expanded="false" title="Notifications">${BELL_ICON} <span id="bell-count">0</span></button>
      <button id="sign-out">Sign out</button>`;
    $('bell').addEventListener('click', () => {
      const open = $('inbox').hidden;
      $('inbox').hidden = !open;
      $('bell').setAttribute('aria-expanded', String(open));
    });
    $('sign-out').addEventListener('click', signOut);
    $('mark-all-read').addEventListener('click', () => act(inbox.markAllRead()));
    $('inbox-list').addEventListener('click', (event) => {
      const id = event.target.closest('.notification')?.dataset.id;
      if (id === undefined) return;
      if (event.target.closest('.mark-read')) act(inbox.markRead(id));
      else if (event.target.closest('.delete')) act(inbox.remove(id));
    });
    // A refused token (e.g. the demo's secret was made anew): back to signed out.
    client.on('error', (error) => {
      if (error.fatal && (error.code === 'UNAUTHORIZED' || error.code === 'TOKEN_EXPIRED')) signOut();
    });
    renderInbox();
    startInbox(client);
    void loadFollows();
  }

  /** Signed out: a button per demo user, if the API offers the development sign-in (404 otherwise). */
  async function mountSignedOut() {
    let users;
    try {
      ({ users } = await request('GET', '/api/dev/users', { auth: false }));
    } catch {
      return;
    }
    $('account').innerHTML = `<span class="dim">Sign in as</span> ${users
      .map((user) => `<button class="sign-in" data-user="${esc(user.id)}" data-roles="${esc((user.roles ?? []).join(' '))}">${esc(user.name)}</button>`)
      .join(' ')}`;
    $('account').addEventListener('click', (event) => {
      const button = event.target.closest('button.sign-in');
      const user = button?.dataset.user;
      if (user) signIn(user, (button.dataset.roles ?? '').split(' ').filter(Boolean)).catch((error) => console.warn('sign-in failed', error));
    });
  }

  window.MatchcastAccount = {
    get user() {
      return session?.user;
    },
    /** Signed in with the admin role (the demo's organiser): the page offers the announcement form. */
    get isAdmin() {
      return roles().includes('admin');
    },
    /** An API call with the session's token (rejects with `status` and `code` on an error answer). */
    request,
    /** The client's token provider when signed in, else undefined (anonymous). */
    token: session ? token : undefined,
    followButton,
    get inbox() {
      return inbox;
    },
    /** Mounts the header's account area; with the client, when signed in, the bell and follows. */
    start(client) {
      if (session) mountSignedIn(client);
      else void mountSignedOut();
    },
  };
})();
