// Earshot sandbox chat workspace — vanilla JS front end (no build step).
// Server text is untrusted: it is only ever set via textContent / attributes,
// never via innerHTML.
'use strict';

const API = '/sandbox/api';
const PALETTE = ['👍', '❤️', '🎉', '👀', '🙏', '😂', '😮', '🔥'];
const COMPOSER_HINT = ' — or type /pulse help, /station help, /digest help';
const OFFLINE = 'Offline — reconnecting…';

const S = {
  me: null,            // current person id
  people: [],
  channels: [],        // channels the current person is a member of
  messages: [],        // visible messages, oldest first
  channel: null,       // selected channel id
  thread: null,        // open thread parent id
  expanded: new Set(), // "msgId:blockIndex" of quotes whose "Show more" was clicked
  forms: [],           // queued forms; forms[0] is the open modal
  unread: 0,           // new messages that arrived below the reader's view in this channel (the pill counts them)
  offline: false,      // the live connection dropped: sending is off until it is back
};

const $ = (id) => document.getElementById(id);

// ---------- small DOM helpers ----------

// el('div', 'cls', 'text', {props}) — any element given text also gets dir="auto".
// props: DOM properties (type, value, href…), `data` for dataset, other keys become attributes.
function el(tag, cls, text, props) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined && text !== null) {
    n.textContent = String(text);
    n.dir = 'auto';
  }
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'data') Object.assign(n.dataset, v);
    else if (k in n) n[k] = v;
    else n.setAttribute(k, v);
  }
  return n;
}

// A <button type=button> with a click handler.
function button(cls, text, onClick, props) {
  const b = el('button', cls, text, { type: 'button', ...props });
  if (onClick) b.addEventListener('click', onClick);
  return b;
}

function str(v) { return v === undefined || v === null ? '' : String(v); }

// A context item: text, or a moment ({when, lead, text}) written in the reader's own zone as a <time>.
function contextItem(item) {
  if (!item || typeof item !== 'object') return document.createTextNode(str(item));
  const at = new Date(str(item.when));
  if (isNaN(at)) return document.createTextNode(str(item.text));
  const shown = at.toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short',
                                               hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
  const span = el('span', 'moment');
  span.append(item.lead ? str(item.lead) + ' ' : '', el('time', null, shown, { dateTime: at.toISOString(),
                                                                               title: str(item.text) }));
  return span;
}

// Only http(s) links/images (relative URLs resolve to same origin); data: images allowed.
function safeUrl(url, allowDataImage) {
  try {
    const u = new URL(str(url), location.href);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
    if (allowDataImage && /^data:image\//i.test(str(url))) return str(url);
  } catch (e) { /* invalid URL */ }
  return null;
}

function store(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* ignore */ } }
function recall(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }

// POST JSON; always resolves to an object with `ok` (never throws).
async function post(path, body) {
  let res;
  try {
    res = await fetch(API + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  } catch (e) {
    return { ok: false, error: 'Network error — is the sandbox server running?' };
  }
  const data = await res.json().catch(() => null);
  if (!data || typeof data !== 'object') return { ok: false, error: `HTTP ${res.status}` };
  return { ...data, ok: !!data.ok };
}

// ---------- lookups ----------

const person = (id) => S.people.find((p) => p.id === id);
const channelById = (id) => S.channels.find((c) => c.id === id);
const messageById = (id) => S.messages.find((m) => m.id === id);
const repliesOf = (id) => S.messages.filter((m) => m.thread_id === id);
const personName = (id) => (person(id) || { name: id }).name;

function channelLabel(c) {
  if (!c) return '';
  if (c.kind === 'dm') {
    if (c.name) return c.name;
    const others = (c.members || []).filter((id) => id !== S.me).map((id) => personName(id));
    return others.join(', ') || 'Direct message';
  }
  return '# ' + c.name;
}

// Sidebar order: channels first, then DMs.
function orderedChannels() {
  return [...S.channels.filter((c) => c.kind !== 'dm'), ...S.channels.filter((c) => c.kind === 'dm')];
}

function visible(m) {
  return !!channelById(m.channel_id) && (!m.ephemeral_to || m.ephemeral_to === S.me);
}

// ---------- state loading ----------

let loadSeq = 0;
let loadError = '';

// Live pushes that arrive while a state load is in flight wait for it: the snapshot it brings may be older than
// they are, so they are applied after it, in the order they came.
let loading = 0;
let held = [];

// Fetch the whole state for S.me and re-render everything. Resolves false on failure.
// quiet: an unreachable server is not reported (the offline banner already says so); its answers still are.
async function loadState(quiet) {
  loading++;
  try {
    return await fetchState(quiet);
  } finally {
    if (--loading === 0) { const waiting = held; held = []; waiting.forEach(applyPush); }
  }
}

async function fetchState(quiet) {
  const seq = ++loadSeq;
  const qs = S.me ? '?as=' + encodeURIComponent(S.me) : '';
  let data;
  try {
    const res = await fetch(`${API}/state${qs}`, { cache: 'no-store' });
    data = await res.json().catch(() => null);
    if (!res.ok || !data) throw new Error((data && data.error) || `HTTP ${res.status}`);
  } catch (e) {
    loadError = str(e.message);
    const unreachable = e instanceof TypeError; // fetch itself failed: no answer at all
    if (seq === loadSeq && !(quiet && unreachable)) showBanner(`Could not load workspace state: ${loadError}`);
    return seq !== loadSeq;
  }
  if (seq !== loadSeq) return true; // a newer load (e.g. person switch) superseded this one
  showBanner(null);
  S.people = Array.isArray(data.people) ? data.people : [];
  S.me = data.me || S.me || (S.people[0] && S.people[0].id) || null;
  S.channels = (data.channels || []).filter((c) => !Array.isArray(c.members) || c.members.includes(S.me));
  S.messages = (data.messages || []).filter(visible);
  if (!channelById(S.channel)) { // a first visit opens Earshot's welcome DM, as a chat app does for a newcomer
    const welcome = !S.channel && S.channels.find((c) => c.kind === 'dm' && c.name === 'Earshot');
    S.channel = (welcome || orderedChannels()[0] || {}).id || null;
  }
  if (S.thread && !messageById(S.thread)) S.thread = null;
  loadSeen();
  remember();
  renderWhoami();
  renderChannel();
  renderThread();
  return true;
}

function showBanner(text) { Object.assign($('banner'), { hidden: !text, textContent: text || '' }); }

// Persist the chosen person and channel in localStorage and the URL query.
function remember() {
  if (S.me) store('sandbox.as', S.me);
  if (S.channel) store('sandbox.channel', S.channel);
  const url = new URL(location.href);
  if (S.me) url.searchParams.set('as', S.me);
  if (S.channel) url.searchParams.set('channel', S.channel); else url.searchParams.delete('channel');
  history.replaceState(null, '', url);
}

// ---------- rendering: sidebar ----------

function renderWhoami() {
  const sel = $('whoami');
  sel.replaceChildren(...S.people.map((p) =>
    el('option', null, p.role ? `${p.name} (${p.role})` : p.name, { value: p.id })));
  sel.value = S.me || '';
}

function renderSidebar() {
  const item = (c) => {
    const li = el('li');
    const n = unreadIn(c.id);
    const a = el('a', 'channel-link' + (c.id === S.channel ? ' active' : '') + (n ? ' unread' : ''), null,
      { href: '#', data: { channelId: c.id } });
    a.append(el('span', 'channel-name', channelLabel(c)));
    if (n) a.append(unreadBadge(n));
    if (c.id === S.channel) a.setAttribute('aria-current', 'page');
    li.append(a);
    return li;
  };
  const focused = document.activeElement && document.activeElement.dataset.channelId; // kept across the redraw
  $('channel-list').replaceChildren(...S.channels.filter((c) => c.kind !== 'dm').map(item));
  $('dm-list').replaceChildren(...S.channels.filter((c) => c.kind === 'dm').map(item));
  if (focused) {
    const again = $('sidebar').querySelector(`[data-channel-id="${CSS.escape(focused)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
  const others = S.channels.reduce((sum, c) => sum + unreadIn(c.id), 0);
  $('toggle-unread').replaceChildren(...(others ? [unreadBadge(others)] : []));
}

// ---------- unread counts ----------
// Per person and conversation, the newest message id they have seen there, kept in localStorage: a badge counts
// the top-level messages from others since (thread replies and private notes don't count, as in Slack).
let seen = {};
const seenKey = () => 'sandbox.seen.' + S.me;
function loadSeen() {
  try { seen = JSON.parse(recall(seenKey()) || '{}') || {}; } catch (e) { seen = {}; }
}
const stored = (m) => /^\d+$/.test(str(m.id)); // private notes (e1…) are not kept, so never count
const counts = (m) => stored(m) && !m.thread_id && !(m.author && m.author.id === S.me);
function unreadIn(channelId) {
  if (channelId === S.channel) return 0;
  const mark = Number(seen[channelId] || 0);
  return S.messages.filter((m) => m.channel_id === channelId && counts(m) && Number(m.id) > mark).length;
}
function markSeen() {
  if (!S.channel) return;
  let newest = Number(seen[S.channel] || 0);
  for (const m of S.messages) if (m.channel_id === S.channel && stored(m)) newest = Math.max(newest, Number(m.id));
  if (newest === Number(seen[S.channel] || 0)) return;
  seen[S.channel] = newest;
  store(seenKey(), JSON.stringify(seen));
}
// The count beside a conversation's name: its link is then named "# general 3 unread".
function unreadBadge(n) {
  const badge = el('span', 'unread-badge', n > 99 ? '99+' : String(n));
  badge.append(el('span', 'visually-hidden', ' unread'));
  return badge;
}

// A new message arrived: count it where it landed, and tell screen readers in a few words (never each card).
function noticeNew(m) {
  if (m.ephemeral_to === S.me) { announce(cardSummary(m.card)); return; } // the answer to your own action
  if (!counts(m)) return;
  if (m.channel_id === S.channel) { markSeen(); announceNew(); } else renderSidebar();
}

// A card in a sentence or two: its heading and first paragraph, else its fallback text.
function cardSummary(card) {
  const blocks = (card && Array.isArray(card.blocks)) ? card.blocks : [];
  const heading = blocks.find((b) => b && b.type === 'heading');
  const text = blocks.find((b) => b && b.type === 'text');
  const said = [heading, text].filter(Boolean).map((b) => str(b.text)).join(': ') || str((card || {}).fallback);
  return said.length > 300 ? said.slice(0, 299) + '…' : said;
}

// The polite status region (#announce): its text changes are read out once.
let announceTimer = null;
let announceCount = 0;
const ANNOUNCE_EVERY_MS = 4000; // new messages are summed up at most this often: "3 new messages"
function announce(text) {
  const box = $('announce');
  box.textContent = '';
  setTimeout(() => { box.textContent = text; }, 30); // the same words twice are read again
}
function announceNew() {
  announceCount += 1;
  if (announceTimer) return;
  announceTimer = setTimeout(() => {
    const n = announceCount;
    announceTimer = null;
    announceCount = 0;
    const c = channelById(S.channel);
    announce(`${n} new ${n === 1 ? 'message' : 'messages'}${c ? ' in ' + channelLabel(c) : ''}`);
  }, ANNOUNCE_EVERY_MS);
}

function renderHeader() {
  const c = channelById(S.channel);
  $('channel-title').textContent = c ? channelLabel(c) : 'No channels';
  $('channel-members').textContent = c
    ? (c.members || []).map((id) => personName(id)).join(', ') : '';
  const composer = $('composer');
  composer.disabled = !c || S.offline;
  const name = c ? (c.kind === 'dm' ? channelLabel(c) : '#' + c.name) : '';
  composer.placeholder = S.offline ? OFFLINE
    : c ? `Message ${name}${COMPOSER_HINT}` : 'You are not a member of any channel';
  $('composer-label').textContent = c ? `Message ${name}` : 'Message';
  $('messages').setAttribute('aria-label', c ? `Messages in ${channelLabel(c)}` : 'Messages');
  document.title = c ? `${channelLabel(c)} — Earshot sandbox` : 'Earshot sandbox';
}

// ---------- rendering: messages ----------

function renderMessages() {
  const list = $('messages');
  const msgs = S.messages.filter((m) => m.channel_id === S.channel && !m.thread_id && !noteRoot(m));
  const render = () => list.replaceChildren(...(msgs.length ? msgs.map((m) => renderMessage(m, true))
    : [el('div', 'empty', S.channel ? 'No messages yet. Say hello!' : '')]));
  if (list.dataset.channel !== (S.channel || '')) { // another channel: start at its newest message
    list.dataset.channel = S.channel || '';
    render();
    scrollToBottom(list);
  } else { // the same channel again (a resync): the reader stays where they were
    redraw(list, render);
  }
}

// Lists stay pinned to the bottom (data-pinned) until the user scrolls up. An open dialog holds the channel
// still: nothing behind it moves.
function scrollToBottom(box) {
  box.scrollTop = box.scrollHeight;
  box.dataset.pinned = '1';
  if (box.id === 'messages') setUnread(0);
}
function atBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 40; }
function following(box) { return !!box.dataset.pinned && !(box.id === 'messages' && S.forms.length); }
function trackPin(ev) {
  const b = ev.currentTarget;
  b.dataset.pinned = atBottom(b) ? '1' : '';
  if (b.dataset.pinned && b.id === 'messages') setUnread(0); // the reader scrolled down to the new ones
}

// Apply `change` to the rows of `box`: a reader at the bottom stays at the bottom; anyone else keeps the
// row they are reading exactly where it is on screen, whatever was added, removed or resized above it.
function redraw(box, change) {
  const had = box.contains(document.activeElement) ? focusKey(document.activeElement) : null;
  const done = change;
  change = () => { done(); if (had && !box.contains(document.activeElement)) refocus(had); };
  if (following(box)) { change(); scrollToBottom(box); return; }
  const top = box.getBoundingClientRect().top;
  const anchor = [...box.querySelectorAll('[data-message-id]')].find((r) => r.getBoundingClientRect().bottom > top);
  const offset = anchor ? anchor.getBoundingClientRect().top - top : 0;
  change();
  const again = anchor && box.querySelector(`[data-message-id="${CSS.escape(anchor.dataset.messageId)}"]`);
  if (again) box.scrollTop += again.getBoundingClientRect().top - top - offset;
  box.dataset.pinned = atBottom(box) && !S.forms.length ? '1' : '';
}

// The "N new messages ↓" pill: shown while new messages wait below the reader's view.
function setUnread(n) {
  S.unread = n;
  const pill = $('new-messages');
  pill.hidden = !n;
  pill.replaceChildren(`${n} new ${n === 1 ? 'message' : 'messages'} `, el('span', null, '↓', { 'aria-hidden': 'true' }));
}

function formatTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return str(iso);
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString()
    ? t : `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${t}`;
}

function avatar(author) {
  const a = el('div', 'avatar' + (author.bot ? ' bot' : ''), (str(author.name).trim()[0] || '?').toUpperCase(),
    { 'aria-hidden': 'true' });
  let h = 0;
  for (const ch of str(author.id)) h = (h * 31 + ch.charCodeAt(0)) % 360;
  if (!author.bot) a.style.background = `hsl(${h}, 45%, 45%)`;
  return a;
}

// One message row. withReplies: show the "Reply in thread" / "N replies" link.
function renderMessage(m, withReplies) {
  const author = m.author || { id: '?', name: 'Unknown' };
  const row = el('div', 'message' + (m.ephemeral_to ? ' ephemeral' : ''), null,
    { data: { testid: 'message', messageId: m.id } });
  const body = el('div', 'message-body');
  row.append(avatar(author), body);

  const meta = el('div', 'meta');
  meta.append(el('span', 'author', author.name));
  if (author.bot) meta.append(el('span', 'bot-badge', 'APP'));
  meta.append(el('time', 'time', formatTime(m.created_at),
    { dateTime: str(m.created_at), title: new Date(m.created_at).toLocaleString() }));
  if (m.edited) meta.append(el('span', 'edited', '(edited)'));
  if (m.ephemeral_to) meta.append(el('span', 'ephemeral-label', 'Only visible to you'));
  body.append(meta, renderCard(m, author.bot), el('div', 'card-error form-error', null, { role: 'alert' }),
    ...renderNotes(m));

  const footer = el('div', 'message-footer');
  footer.append(renderReactions(m));
  if (withReplies) {
    const n = repliesOf(m.id).length;
    footer.append(button('link reply-link', n ? `${n} ${n === 1 ? 'reply' : 'replies'}` : 'Reply in thread',
      () => openThread(m.id)));
  }
  body.append(footer);
  return row;
}

function renderCard(m, isBot) {
  const card = m.card || {};
  const box = el('div', isBot ? 'card bot-card' : 'card');
  const blocks = Array.isArray(card.blocks) ? card.blocks : [];
  if (!blocks.length) box.append(el('div', 'block-text', str(card.fallback)));
  blocks.forEach((b, i) => {
    try {
      const n = renderBlock(m, b || {}, i);
      if (n) box.append(n);
    } catch (e) { // never let one odd block break the list
      console.warn('bad block', b, e);
      if (b && b.text) box.append(el('div', 'block-text', str(b.text)));
    }
  });
  return box;
}

function renderBlock(m, b, i) {
  switch (b.type) {
    case 'heading': return el('div', 'block-heading', str(b.text));
    case 'text': return el('div', 'block-text', str(b.text));
    case 'quote': return renderQuote(m, b, i);
    case 'fields': {
      const grid = el('div', 'block-fields');
      for (const f of b.fields || []) {
        const cell = el('div', 'field');
        cell.append(el('div', 'field-label', str(f.label)), el('div', 'field-value', str(f.value)));
        grid.append(cell);
      }
      return grid;
    }
    case 'context': {
      const line = el('div', 'block-context');
      (b.items || []).forEach((item, i) => line.append(...(i ? [' · '] : []), contextItem(item)));
      return line;
    }
    case 'buttons': {
      const row = el('div', 'block-buttons');
      for (const btn of b.buttons || []) row.append(renderButton(m, btn));
      return row;
    }
    case 'choices': return renderChoices(m, b);
    case 'image': {
      const src = safeUrl(b.url, true);
      if (!src) return b.alt ? el('div', 'block-context', `[image: ${str(b.alt)}]`) : null;
      const img = el('img', 'block-image', null, { src, alt: str(b.alt) });
      const repin = () => { // images change height once loaded (or broken)
        const box = img.closest('.message-list, .thread-messages');
        if (box && following(box)) scrollToBottom(box);
      };
      img.addEventListener('load', repin);
      img.addEventListener('error', repin);
      return img;
    }
    case 'file': {
      const id = /^file:([0-9a-f]+)$/.exec(str(b.url));
      if (!id) return el('div', 'block-context', `📎 ${str(b.name)}`);
      // Served only to the person it was sent to, so the link says who is asking (the cookie proves the rest).
      const href = `/sandbox/files/${id[1]}?as=${encodeURIComponent(S.me)}`;
      return el('a', 'block-file', `📎 ${str(b.name)}`, { href, download: str(b.name) });
    }
    case 'divider': return el('hr', 'block-divider');
    default: return b.text ? el('div', 'block-text', str(b.text)) : null; // unknown block type
  }
}

function renderQuote(m, b, i) {
  const key = `${m.id}:${i}`;
  const full = b.more ? str(b.text).replace(/…$/, '') + str(b.more) : str(b.text); // the head ends in "…"
  const q = el('blockquote', 'block-quote', null, { dir: 'auto' });
  if (/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(str(b.lang))) q.lang = b.lang; // read out in its language
  // A bare text node, so the blockquote's own dir="auto" is decided by this text.
  const text = document.createTextNode(S.expanded.has(key) ? full : str(b.text));
  q.append(text);
  if (b.more && !S.expanded.has(key)) {
    const more = el('a', 'show-more', 'Show more', { href: '#', role: 'button' });
    more.addEventListener('click', (ev) => {
      ev.preventDefault();
      S.expanded.add(key);
      text.data = full;
      const focused = document.activeElement === more;
      more.remove();
      if (focused) { q.tabIndex = -1; q.focus({ preventScroll: true }); } // the reader goes on with the quote
    });
    q.append(' ', more);
  }
  return q;
}

// A card button as the viewer sees it: an on/off button (m.toggles) shows whether it is on for them (aria-pressed,
// from the server's m.mine, or what they just asked for); a button that is theirs alone (m.mine) says so; a button
// whose click is in flight is busy (aria-busy, a spinner).
function renderButton(m, btn) {
  const actionId = str(btn.action_id);
  const toggle = (m.toggles || []).includes(actionId);
  const on = toggle && isPressed(m, actionId);
  const mine = !toggle && (m.mine || []).includes(actionId);
  const cls = 'btn' + (btn.style === 'primary' ? ' primary' : btn.style === 'danger' ? ' danger' : '')
    + (on ? ' pressed' : '') + (mine ? ' mine' : '');
  const href = btn.url ? safeUrl(btn.url) : null;
  if (href) {
    return el('a', cls, str(btn.label),
      { href, target: '_blank', rel: 'noopener noreferrer', data: { actionId } });
  }
  const props = { data: { actionId } };
  if (toggle) props['aria-pressed'] = String(on);
  if (mine) props.title = 'Yours to do';
  const p = pending.get(actionKey(m.id, actionId));
  if (p && p.busy) Object.assign(props, toggle ? { 'aria-busy': 'true' } : { 'aria-busy': 'true', 'aria-disabled': 'true' });
  const label = toggle ? countedLabel(str(btn.label), on, (m.mine || []).includes(actionId)) : str(btn.label);
  const b = button(cls, label, () => (toggle ? pressToggle(m, actionId, str(btn.value))
    : sendAction(m, actionId, str(btn.value))), props);
  if (btn.url) Object.assign(b, { disabled: true, title: 'Unsupported link' }); // unsafe url scheme
  return b;
}

// "💡 Insight · 2" with the viewer's own click counted at once, before the server's new card comes.
function countedLabel(label, on, stored) {
  if (on === stored) return label;
  const [, base, n] = /^(.*) · (\d+)$/.exec(label) || [null, label, '0'];
  const count = Number(n) + (on ? 1 : -1);
  return count > 0 ? `${base} · ${count}` : base;
}

// Private answers to a button pressed on this card or on an answer under it (a confirmation, a refusal): shown
// under the card, the newest few, each until dismissed, as Slack shows its "Only visible to you" notes.
function renderNotes(m) {
  const notes = S.messages.filter((n) => n.anchor && (noteRoot(n) || {}).id === m.id).slice(-3);
  return notes.map((n) => {
    const box = el('div', 'card-note', null, { data: { testid: 'card-note', noteId: n.id } });
    const head = el('div', 'meta');
    head.append(el('span', 'ephemeral-label', 'Only visible to you'), button('link note-dismiss', 'Dismiss', () => {
      S.messages = S.messages.filter((x) => x.id !== n.id);
      refreshRow(m.id);
    }, { 'aria-label': 'Dismiss this note' }));
    box.append(head, renderCard(n, true));
    return box;
  });
}

// The card a private answer belongs under (an answer to a button on an answer goes under the same card), or null.
function noteRoot(m) {
  let at = m;
  for (let hops = 0; at && at.anchor && hops < 10; hops++) at = messageById(at.anchor);
  return at && at !== m && !at.anchor && visible(at) ? at : null;
}

function renderChoices(m, b) {
  const wrap = el('div', 'block-choices');
  const options = b.options || [];
  if (!b.multi) {
    const sel = el('select', 'choice-select', null, { dir: 'auto', data: { actionId: str(b.action_id) } });
    sel.append(el('option', null, str(b.placeholder) || 'Choose…', { value: '', disabled: true, selected: true }),
      ...options.map((o) => el('option', null, str(o.label), { value: str(o.value) })));
    sel.addEventListener('change', () => sendAction(m, b.action_id, sel.value, sel));
    wrap.append(sel);
    return wrap;
  }
  if (b.placeholder) wrap.append(el('div', 'block-context', str(b.placeholder)));
  const boxes = options.map((o) => {
    const label = el('label', 'choice-option');
    const cb = el('input', null, null, { type: 'checkbox', value: str(o.value) });
    label.append(cb, el('span', null, str(o.label)));
    wrap.append(label);
    return cb;
  });
  const submit = button('btn primary', 'Submit',
    () => sendAction(m, b.action_id, boxes.filter((c) => c.checked).map((c) => c.value), submit),
    { data: { actionId: str(b.action_id) } });
  wrap.append(submit);
  return wrap;
}

function renderReactions(m) {
  const box = el('div', 'reactions');
  for (const [emoji, users] of Object.entries(m.reactions || {})) {
    if (!Array.isArray(users) || !users.length) continue;
    const mine = users.includes(S.me);
    box.append(button('reaction' + (mine ? ' mine' : ''), `${emoji} ${users.length}`,
      () => toggleReaction(m, emoji), {
        data: { testid: 'reaction', emoji },
        'aria-pressed': String(mine),
        title: users.map((id) => personName(id)).join(', '),
      }));
  }
  box.append(button('reaction add-reaction', '☺+', (ev) => {
    ev.stopPropagation();
    const open = box.querySelector('.palette');
    closePalettes();
    if (open) return;
    const pal = el('div', 'palette', null, { role: 'group', 'aria-label': 'Pick a reaction' });
    pal.append(...PALETTE.map((e) => button('palette-emoji', e,
      () => { closePalettes(); toggleReaction(m, e); }, { data: { emoji: e } })));
    box.append(pal);
  }, { title: 'Add reaction', 'aria-label': 'Add reaction' }));
  return box;
}

function closePalettes() { document.querySelectorAll('.palette').forEach((p) => p.remove()); }

// ---------- thread pane ----------

function openThread(id) {
  S.thread = id;
  renderThread();
  const input = $('thread-composer');
  if (input) input.focus();
}

function closeThread() { S.thread = null; renderThread(); }

function renderThread() {
  let pane = $('thread');
  const parent = S.thread && messageById(S.thread);
  if (!parent) {
    S.thread = null;
    if (pane) pane.remove();
    return;
  }
  if (!pane || pane.dataset.parentId !== parent.id) {
    if (pane) pane.remove();
    pane = buildThreadPane(parent.id);
    $('app').append(pane);
  }
  const list = pane.querySelector('.thread-messages');
  const replies = repliesOf(parent.id);
  const sep = el('div', 'thread-sep', replies.length === 1 ? '1 reply' : `${replies.length} replies`);
  redraw(list, () => list.replaceChildren(renderMessage(parent, false), sep,
    ...replies.map((r) => renderMessage(r, false))));
  const c = channelById(parent.channel_id);
  pane.querySelector('.thread-channel').textContent = c ? channelLabel(c) : '';
}

function buildThreadPane(parentId) {
  const pane = el('aside', 'thread', null, { id: 'thread', 'aria-label': 'Thread', data: { parentId } });
  const head = el('header', 'thread-header');
  const title = el('div');
  title.append(el('strong', null, 'Thread'), el('span', 'thread-channel muted', null, { dir: 'auto' }));
  head.append(title, button('icon-btn', '×', closeThread, { 'aria-label': 'Close thread' }));
  const list = el('div', 'thread-messages', null, { data: { pinned: '1' } }); // a new pane opens at the newest reply
  list.addEventListener('scroll', trackPin);
  const wrap = el('div', 'composer-wrap');
  const input = el('input', null, null,
    { id: 'thread-composer', type: 'text', dir: 'auto', autocomplete: 'off', placeholder: 'Reply in thread…',
      disabled: S.offline });
  const err = el('div', 'form-error', null, { role: 'alert' });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      const p = messageById(parentId);
      if (p) sendText(input, err, p.channel_id, parentId);
    }
  });
  wrap.append(input, err);
  pane.append(head, list, wrap);
  return pane;
}

// ---------- live updates ----------

// Insert or replace a message, re-rendering only what it affects.
function upsertMessage(m) {
  if (!m || !m.id || !visible(m)) return;
  const idx = S.messages.findIndex((x) => x.id === m.id);
  const isNew = idx < 0;
  if (isNew) S.messages.push(m); else S.messages[idx] = m;
  if (isNew) noticeNew(m);
  const root = noteRoot(m);
  if (root) { refreshRow(root.id); return; } // an answer to a button: shown under its card

  const list = $('messages');
  const rowOf = (id) => list.querySelector(`[data-message-id="${CSS.escape(id)}"]`);
  if (m.channel_id === S.channel && !m.thread_id) {
    const old = rowOf(m.id);
    if (old) {
      redraw(list, () => old.replaceWith(renderMessage(m, true))); // an edit may have grown the card
    } else {
      const follow = following(list);
      list.querySelectorAll('.empty').forEach((e) => e.remove());
      list.append(renderMessage(m, true));
      if (follow) scrollToBottom(list);
      else if (!atBottom(list)) { list.dataset.pinned = ''; setUnread(S.unread + 1); }
    }
  } else if (m.channel_id === S.channel && isNew) { // a new reply: the parent's reply count changed
    const parent = messageById(m.thread_id);
    const old = rowOf(m.thread_id);
    if (parent && old) redraw(list, () => old.replaceWith(renderMessage(parent, true)));
  }
  if (S.thread && (m.id === S.thread || m.thread_id === S.thread)) renderThread();
}

let ws = null;
let wsRetry = 0;
let wsTimer = null;

function setStatus(isLive) { Object.assign($('status'), { textContent: isLive ? 'live' : 'offline', className: isLive ? 'live' : 'offline' }); }

// The live connection dropped (server stopped or unreachable): say so at once, and stop sending until it is back.
// The banner is a polite live region that is always in the page, so setting its text is announced.
let offlineFocus = null; // the composer being typed in when the connection dropped: focused again once it is back
function setOffline(on) {
  const thread = $('thread-composer');
  if (on && [$('composer'), thread].includes(document.activeElement)) offlineFocus = document.activeElement;
  S.offline = on;
  $('offline').textContent = on ? OFFLINE : '';
  renderHeader();
  if (thread) thread.disabled = on;
  if (!on && offlineFocus) {
    if (offlineFocus.isConnected && !offlineFocus.disabled) offlineFocus.focus();
    offlineFocus = null;
  }
}

// Reconnect with backoff: load the state again (which also tells when this server no longer takes our link),
// then open the socket.
function scheduleReconnect() {
  const delay = Math.min(5000, 500 * 2 ** wsRetry++) + Math.random() * 250;
  const seq = startSeq;
  wsTimer = setTimeout(async () => {
    const ok = await loadState(true);
    if (seq !== startSeq || ws) return; // a person switch started over meanwhile
    if (ok) connect(); else scheduleReconnect();
  }, delay);
}

function disconnect() {
  clearTimeout(wsTimer);
  if (ws) { const old = ws; ws = null; old.close(); } // ws=null first: its onclose won't reconnect
  setStatus(false);
}

function connect() {
  disconnect();
  if (!S.me) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = new WebSocket(`${proto}//${location.host}/sandbox/ws?as=${encodeURIComponent(S.me)}`);
  ws = sock;
  sock.onopen = () => {
    if (ws !== sock) return;
    wsRetry = 0;
    setOffline(false);
  };
  sock.onmessage = (ev) => {
    if (ws !== sock) return;
    let data = null;
    try { data = JSON.parse(ev.data); } catch (e) { /* ignore junk */ }
    if (!data) return;
    if (data.type === 'ready') resync(sock);
    else if (loading) held.push(data);
    else applyPush(data);
  };
  sock.onclose = () => {
    if (ws !== sock) return; // replaced on purpose (person switch)
    ws = null;
    setStatus(false);
    setOffline(true);
    scheduleReconnect();
  };
}

// The server registered this socket: every change from now on reaches us. The state loaded before may have missed
// one made while the socket was opening, so load it again; only then is the page live (in step with the server).
async function resync(sock) {
  await loadState(true);
  if (ws === sock) setStatus(true);
}

function applyPush(data) {
  if (data.type === 'message') upsertMessage(data.message);
  else if (data.type === 'form' && data.form) queueForm(data.form);
  else if (data.type === 'channels') loadState();
}

const live = () => ws && ws.readyState === WebSocket.OPEN;

// ---------- user actions ----------

async function sendText(input, errBox, channelId, threadId) {
  const text = input.value;
  if (!text.trim() || input.dataset.busy) return;
  input.dataset.busy = '1';
  errBox.textContent = '';
  if (!threadId && channelId === S.channel) scrollToBottom($('messages')); // to where the answer will appear
  const res = await post('/send', { as: S.me, channel_id: channelId, thread_id: threadId || null, text });
  delete input.dataset.busy;
  if (res.ok) {
    if (input.value === text) input.value = '';
    if (!live()) loadState(); // no socket to push our message back
  } else {
    errBox.textContent = res.error || 'Could not send the message.';
  }
}

// Card buttons in flight, by actionKey: {busy, pressed: the state last asked for (on/off buttons), sent}.
// No click is lost: an on/off button takes the newest state asked for and sends it once the answer before is in;
// any other button stays busy until its answer comes, and says so.
const pending = new Map();
const actionKey = (id, actionId) => `${id} ${actionId}`;
// A "discuss" button starts the card's thread: the page opens it at once, its composer ready.
const opensThread = (actionId) => /(^|:)discuss$/.test(str(actionId));

function isPressed(m, actionId) {
  const p = pending.get(actionKey(m.id, actionId));
  return p && p.pressed !== undefined ? p.pressed : (m.mine || []).includes(actionId);
}

async function sendAction(m, actionId, value, control) {
  const key = actionKey(m.id, actionId);
  if (pending.has(key)) return; // its button shows it is busy until the answer comes
  const me = S.me;
  pending.set(key, { busy: true });
  cardError(m.id, '');
  if (control) control.disabled = true; // a choice: redrawing the card now would clear what was chosen
  else refreshRow(m.id);
  if (opensThread(actionId) && !m.ephemeral_to) openThread(m.id);
  const res = await post('/action', { as: me, message_id: m.id, action_id: actionId, value });
  pending.delete(key);
  if (control) control.disabled = false;
  if (me === S.me) settle(m.id, res, !control);
}

function pressToggle(m, actionId, value) {
  const key = actionKey(m.id, actionId);
  const p = pending.get(key) || {};
  p.pressed = !isPressed(messageById(m.id) || m, actionId);
  pending.set(key, p);
  cardError(m.id, '');
  if (p.busy) refreshRow(m.id); else sendToggle(m.id, actionId, value, p);
}

async function sendToggle(id, actionId, value, p) {
  const me = S.me;
  let res;
  do { // clicked again while in flight: send the newest state asked for
    Object.assign(p, { busy: true, sent: p.pressed });
    refreshRow(id);
    res = await post('/action', { as: me, message_id: id, action_id: actionId, value, pressed: p.sent });
    if (me !== S.me) return; // another person now: their page started over
  } while (res.ok && p.pressed !== p.sent);
  pending.delete(actionKey(id, actionId));
  settle(id, res); // refused: back to the stored state, and the reason under the card
}

// An action's answer: the viewer's own state on the card as stored now, or why it failed, under the card.
function settle(id, res, redrawCard = true) {
  const idx = S.messages.findIndex((x) => x.id === id);
  if (idx >= 0 && res.ok && Array.isArray(res.mine)) S.messages[idx] = { ...S.messages[idx], mine: res.mine };
  if (redrawCard) refreshRow(id);
  if (!res.ok) cardError(id, res.error || 'That action failed.');
  else if (!live()) loadState();
}

function cardError(id, text) {
  const m = messageById(id);
  const root = m && noteRoot(m);
  document.querySelectorAll(`[data-message-id="${CSS.escape(root ? root.id : id)}"] .card-error`)
    .forEach((b) => { b.textContent = text; });
}

// Render one message again wherever it shows (channel, thread), keeping the reader's place and the focused button.
function refreshRow(id) {
  const m = messageById(id);
  if (!m) return;
  const root = noteRoot(m);
  if (root) { refreshRow(root.id); return; }
  document.querySelectorAll(`[data-message-id="${CSS.escape(id)}"]`).forEach((row) => {
    const box = row.closest('.message-list, .thread-messages');
    if (!box) return;
    const focused = row.contains(document.activeElement) ? document.activeElement.dataset.actionId : undefined;
    const error = (row.querySelector('.card-error') || {}).textContent;
    const fresh = renderMessage(m, box.id === 'messages');
    if (error) fresh.querySelector('.card-error').textContent = error;
    redraw(box, () => row.replaceWith(fresh));
    const again = focused && fresh.querySelector(`[data-action-id="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  });
}

async function toggleReaction(msg, emoji) {
  const m = messageById(msg.id) || msg; // the freshest copy
  const users = (m.reactions && m.reactions[emoji]) || [];
  const added = !users.includes(S.me);
  // Optimistic update; the server's pushed copy of the message replaces it.
  const reactions = { ...(m.reactions || {}) };
  reactions[emoji] = added ? [...users, S.me] : users.filter((u) => u !== S.me);
  upsertMessage({ ...m, reactions });
  const res = await post('/reaction', { as: S.me, message_id: m.id, emoji, added });
  if (!res.ok || !live()) loadState(); // resync on failure
}

function selectChannel(id) {
  if (!channelById(id)) return;
  S.channel = id;
  $('composer-error').textContent = '';
  remember();
  renderChannel();
}

function renderChannel() { markSeen(); renderSidebar(); renderHeader(); renderMessages(); }

async function switchPerson(id) {
  S.me = id;
  S.thread = null;
  pending.clear();
  S.forms = [];
  held = []; // pushes meant for the person before
  renderModal();
  $('composer-error').textContent = '';
  wsRetry = 0;
  disconnect();
  remember();
  start(false);
}

// ---------- forms (modal dialog) ----------

function queueForm(form) {
  S.forms.push(form);
  if (S.forms.length === 1) renderModal();
}

function closeModal() {
  S.forms.shift();
  renderModal();
}

// While a dialog is open the page behind it is inert (no focus, no clicks, hidden from screen readers); once the
// last one closes, focus returns to what opened it (or its replacement, if the card was re-rendered meanwhile).
let opener = null;
function holdBackground(on) {
  for (const node of [$('app'), document.querySelector('.skip-links')]) if (node) node.inert = on;
  if (on) {
    if (!opener) {
      const active = document.activeElement;
      opener = active && active !== document.body ? { node: active, key: focusKey(active) }
        : lostFocus ? { node: null, key: lostFocus } : { node: null, key: null };
    }
    return;
  }
  const back = opener;
  opener = null;
  if (!back) return;
  if (back.node && back.node.isConnected && !back.node.disabled) back.node.focus({ preventScroll: true });
  else if (!(back.key && refocus(back.key)) && !$('composer').disabled) {
    $('composer').focus({ preventScroll: true });
  }
}

// Tab and Shift+Tab cycle inside the dialog.
function trapTab(ev, modal) {
  if (ev.key !== 'Tab') return;
  const all = [...modal.querySelectorAll(FOCUSABLE)].filter((n) => !n.disabled && n.offsetParent !== null);
  if (!all.length) return;
  const [first, last] = [all[0], all[all.length - 1]];
  if (ev.shiftKey && (document.activeElement === first || !modal.contains(document.activeElement))) {
    ev.preventDefault();
    last.focus();
  } else if (!ev.shiftKey && (document.activeElement === last || !modal.contains(document.activeElement))) {
    ev.preventDefault();
    first.focus();
  }
}

function renderModal() {
  const old = $('modal-backdrop');
  if (old) old.remove();
  const form = S.forms[0];
  if (!form) { holdBackground(false); return; }
  holdBackground(true);
  const backdrop = el('div', 'modal-backdrop', null, { id: 'modal-backdrop' });
  // noValidate: the server validates and returns per-field errors
  const modal = el('form', 'modal', null,
    { id: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'modal-title', noValidate: true });
  modal.append(el('h2', 'modal-title', str(form.title) || 'Form', { id: 'modal-title' }));

  const fields = {};
  (form.inputs || []).forEach((inp, i) => { fields[inp.name] = renderFormInput(inp, `f-${i}`); modal.append(fields[inp.name].wrap); });
  const general = el('div', 'form-error general-error', null, { role: 'alert' });
  const actions = el('div', 'modal-actions');
  const submit = el('button', 'btn primary', str(form.submit_label) || 'Submit', { type: 'submit' });
  actions.append(button('btn', 'Cancel', closeModal), submit);
  modal.append(general, actions);

  modal.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const values = {};
    for (const [name, f] of Object.entries(fields)) { values[name] = f.get(); f.err.textContent = ''; }
    general.textContent = '';
    submit.disabled = true;
    const res = await post('/form', { as: S.me, form_id: form.form_id, values, metadata: str(form.metadata) });
    submit.disabled = false;
    if (res.ok) { closeModal(); return; }
    const errors = res.errors && typeof res.errors === 'object' ? res.errors : {};
    const extra = [];
    for (const [name, msg] of Object.entries(errors)) {
      if (fields[name]) fields[name].err.textContent = str(msg); else extra.push(str(msg));
    }
    if (res.error) extra.push(str(res.error));
    if (!Object.keys(errors).length && !extra.length) extra.push('Could not submit the form.');
    general.textContent = extra.join(' ');
  });
  modal.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { ev.stopPropagation(); closeModal(); }
    trapTab(ev, modal);
  });

  backdrop.append(modal);
  document.body.append(backdrop);
  const first = modal.querySelector('input, textarea, select');
  (first || submit).focus();
}

// Build one labelled form field; returns {wrap, err, get()}.
function renderFormInput(inp, id) {
  if (inp.kind === 'multiselect' || inp.kind === 'people') return renderPickList(inp, id);
  const wrap = el('div', 'form-field');
  const label = el('label', 'form-label', str(inp.label) || str(inp.name), { htmlFor: id });
  if (inp.required) label.append(el('span', 'required', ' *'));
  let control;
  const kind = inp.kind || 'text';
  const initial = inp.initial;
  if (kind === 'select') {
    control = el('select');
    const chosen = Array.isArray(initial) ? initial.map(str) : initial == null ? [] : [str(initial)];
    control.append(el('option', null, str(inp.placeholder) || 'Choose…', { value: '' }));
    for (const o of inp.options || []) {
      control.append(el('option', null, str(o.label), { value: str(o.value), selected: chosen.includes(str(o.value)) }));
    }
  } else {
    control = kind === 'textarea' ? el('textarea', null, null, { rows: 4 })
      : el('input', null, null, kind === 'number' ? { type: 'number', step: 'any' } : { type: 'text' });
    control.value = Array.isArray(initial) ? initial.join(', ') : str(initial);
    control.placeholder = str(inp.placeholder);
  }
  Object.assign(control, { id, name: str(inp.name), dir: 'auto' });
  if (inp.required) control.setAttribute('aria-required', 'true');
  wrap.append(label, control);
  if (inp.hint) wrap.append(el('div', 'form-hint', str(inp.hint)));
  const err = el('div', 'form-error field-error', null, { data: { field: str(inp.name) } });
  wrap.append(err);
  return { wrap, err, get: () => control.value };
}

// Several choices as a list of checkboxes (plain clicks, Space and Tab; no Ctrl-click), with a filter box once
// the list is long; `people` lists the workspace's people and answers with their ids.
function renderPickList(inp, id) {
  const choices = inp.kind === 'people' ? S.people.map((p) => ({ label: p.name, value: p.id })) : inp.options || [];
  const chosen = (Array.isArray(inp.initial) ? inp.initial : inp.initial == null ? [] : [inp.initial]).map(str);
  const name = str(inp.label) || str(inp.name);
  const wrap = el('fieldset', 'form-field pick-field', null, { id });
  const legend = el('legend', 'form-label', name);
  if (inp.required) legend.append(el('span', 'required', ' *'));
  const list = el('div', 'pick-list');
  const rows = choices.map((o, i) => {
    const row = el('label', 'pick-option', null, { dir: 'auto' });
    row.append(el('input', null, null, { type: 'checkbox', id: `${id}-${i}`, name: str(inp.name), value: str(o.value),
                                         checked: chosen.includes(str(o.value)) }), el('span', null, str(o.label)));
    return row;
  });
  list.append(...rows);
  wrap.append(legend);
  if (choices.length > 6) {
    const filter = el('input', 'pick-filter', null, { type: 'search', placeholder: `Find ${name.toLowerCase()}…`,
                                                      'aria-label': `Find in ${name}` });
    filter.addEventListener('input', () => {
      const word = filter.value.trim().toLowerCase();
      for (const row of rows) row.hidden = Boolean(word) && !row.textContent.toLowerCase().includes(word);
    });
    filter.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') ev.preventDefault(); });
    wrap.append(filter);
  }
  wrap.append(list);
  if (inp.hint) wrap.append(el('div', 'form-hint', str(inp.hint)));
  const err = el('div', 'form-error field-error', null, { data: { field: str(inp.name) } });
  wrap.append(err);
  const get = () => [...list.querySelectorAll('input:checked')].map((box) => box.value);
  return { wrap, err, get };
}

// ---------- keyboard focus ----------

const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])';

// What a focused card control is, so that it (or what replaced it) can be found again after its row is
// re-rendered: its message, what it does, and its place among the row's controls.
function focusKey(node) {
  const row = node && node.closest && node.closest('[data-message-id]');
  if (!row || node === row) return null;
  return { pane: node.closest('#thread') ? 'thread' : 'messages', id: row.dataset.messageId,
           action: str(node.dataset.actionId), emoji: str(node.dataset.emoji), cls: str(node.className),
           index: [...row.querySelectorAll(FOCUSABLE)].indexOf(node) };
}

// Focus the control `key` names (the same action, else the same emoji, kind or place in its row); true if done.
function refocus(key) {
  const box = key.pane === 'thread' ? document.querySelector('#thread .thread-messages') : $('messages');
  const row = box && box.querySelector(`[data-message-id="${CSS.escape(key.id)}"]`);
  if (!row) return false;
  const all = [...row.querySelectorAll(FOCUSABLE)].filter((n) => !n.disabled && n.getClientRects().length);
  const target = (key.action && all.find((n) => n.dataset.actionId === key.action))
    || (key.emoji && all.find((n) => n.dataset.emoji === key.emoji && !n.closest('.palette')))
    || all.find((n) => n.className === key.cls && key.cls.includes('reply-link'))
    || all[Math.min(Math.max(key.index, 0), all.length - 1)];
  if (!target) return false;
  target.focus({ preventScroll: true });
  return true;
}

// A card control that lost focus because it was disabled (while its action runs) or removed (palette, re-render):
// focus goes back to it, or to its replacement, as soon as one can take it (within a while: not long after).
let lostFocus = null;
let lostAt = 0;
const RESTORE_WITHIN_MS = 15000;
function tryRestore() {
  if (!lostFocus) return;
  const active = document.activeElement;
  const stale = Date.now() - lostAt > RESTORE_WITHIN_MS;
  if ((active && active !== document.body) || S.forms.length || stale) { lostFocus = null; return; }
  if (refocus(lostFocus)) lostFocus = null;
}

function setDrawer(open) {
  $('app').classList.toggle('drawer-open', open);
  $('sidebar-toggle').setAttribute('aria-expanded', String(open));
  if (open) ($('sidebar').querySelector('[aria-current="page"]') || $('whoami')).focus();
}

function wireKeyboard() {
  document.querySelectorAll('.skip-link').forEach((a) => a.addEventListener('click', (ev) => {
    ev.preventDefault();
    const target = $(a.dataset.skip);
    (target.disabled ? $('messages') : target).focus();
  }));
  document.addEventListener('focusout', (ev) => {
    if (ev.relatedTarget) return;
    const key = focusKey(ev.target);
    if (!key) return;
    setTimeout(() => {
      if (document.activeElement && document.activeElement !== document.body) return;
      if (ev.target.isConnected && !ev.target.disabled) return; // the person clicked elsewhere: leave it be
      lostFocus = key;
      lostAt = Date.now();
      tryRestore();
    }, 0);
  });
  new MutationObserver(() => { if (lostFocus) tryRestore(); })
    .observe($('app'), { subtree: true, childList: true, attributes: true, attributeFilter: ['disabled'] });
  $('sidebar-toggle').addEventListener('click', () => setDrawer(!$('app').classList.contains('drawer-open')));
  const scrim = el('div', 'sidebar-scrim', null, { 'aria-hidden': 'true' });
  scrim.addEventListener('click', () => setDrawer(false));
  $('app').append(scrim);
  $('sidebar').addEventListener('click', (ev) => {
    if (ev.target.closest('[data-channel-id]') && $('app').classList.contains('drawer-open')) {
      setDrawer(false);
      $('messages').focus({ preventScroll: true });
    }
  });
}

// ---------- wiring ----------

function init() {
  const q = new URLSearchParams(location.search);
  S.me = q.get('as') || recall('sandbox.as') || null;
  S.channel = q.get('channel') || recall('sandbox.channel') || null;

  $('messages').addEventListener('scroll', trackPin);
  $('new-messages').addEventListener('click', () => { scrollToBottom($('messages')); $('composer').focus(); });
  $('whoami').addEventListener('change', (ev) => switchPerson(ev.target.value));
  $('sidebar').addEventListener('click', (ev) => {
    const a = ev.target.closest('[data-channel-id]');
    if (!a) return;
    ev.preventDefault();
    selectChannel(a.dataset.channelId);
  });
  $('composer').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && S.channel) {
      ev.preventDefault();
      sendText($('composer'), $('composer-error'), S.channel, null);
    }
  });
  document.addEventListener('click', (ev) => { if (!ev.target.closest('.palette')) closePalettes(); });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && S.forms.length) { ev.preventDefault(); closeModal(); return; } // focus anywhere
    const modal = $('modal');
    if (ev.key === 'Tab' && modal && !modal.contains(document.activeElement)) trapTab(ev, modal); // e.g. after a click
    if (ev.key === 'Escape' && $('app').classList.contains('drawer-open')) { setDrawer(false); $('sidebar-toggle').focus(); return; }
    if (ev.key === 'Escape' && !S.forms.length) { closePalettes(); if (S.thread) closeThread(); }
  });
  wireKeyboard();

  setStatus(false);
  start(!q.get('as'));
}

// Load state, then open the socket; retry while the server is unreachable.
// dropStale: if loading fails for a remembered person, fall back to the server's default.
let startSeq = 0;
async function start(dropStale) {
  const seq = ++startSeq;
  let ok = await loadState();
  if (!ok && dropStale && S.me && seq === startSeq) { S.me = null; ok = await loadState(); }
  if (seq !== startSeq) return; // superseded by a person switch
  if (ok) connect(); else setTimeout(() => { if (seq === startSeq) start(dropStale); }, 3000);
}

init();
