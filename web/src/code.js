// The code room view: one document edited together in CodeMirror 6, with
// tandem as the authority (@codemirror/collab: doc.push / doc.updates /
// doc.pull, see docs/protocol.md), the room's language (doc.language), who
// is here with their cursor colours and everyone's cursors in the text
// (doc.cursor), completions from POST /api/autocomplete, and a link and QR
// code to bring people in. Loaded with import() by room.js, so drop rooms
// never download the editor.
//
// The editor lives in a shadow root: CodeMirror writes its styles at run
// time, and in a shadow root they go into a constructed style sheet
// (adoptedStyleSheets), which tandem's CSP (style-src 'self') allows, where
// a <style> element in the document would be refused.
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap, pickedCompletion } from '@codemirror/autocomplete';
import { collab, getClientID, getSyncedVersion, receiveUpdates, sendableUpdates } from '@codemirror/collab';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { bracketMatching, HighlightStyle, indentOnInput, indentUnit, syntaxHighlighting } from '@codemirror/language';
import { ChangeSet, Compartment, EditorState, StateEffect, StateField } from '@codemirror/state';
import {
  Decoration, drawSelection, dropCursor, EditorView, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, keymap, lineNumbers, WidgetType,
} from '@codemirror/view';
import { tags as t } from '@lezer/highlight';
import * as api from './api.js';
import { copyText } from './clipboard.js';
import { $, h } from './dom.js';
import { formatCode } from './format.js';
import { LANGUAGES, languageName, normalLanguage } from './languages.js';
import { announce, setStatus, toast } from './ui.js';

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
const PUSH_DELAY_MS = 20; // a burst of keys goes out as one push
const CURSOR_EVERY_MS = 100; // doc.cursor shares the 50/s signal budget
const COMPLETE_DELAY_MS = 120; // typing on does not ask the server for every key
const MAX_PUSH_UPDATES = 1000; // tandem's bound for one doc.push
const PULL_PAGE = 500; // tandem answers a pull with at most this many updates
const PEER_COLOURS = 8; // --peer-0 .. --peer-7 in app.css
const MAX_COMPLETIONS = 20; // POST /api/autocomplete answers at most this many

/* ---------- languages ---------- */

// The syntax package of each language, fetched the first time a room uses it.
const SYNTAX = {
  python: () => import('@codemirror/lang-python').then((m) => m.python()),
  javascript: () => import('@codemirror/lang-javascript').then((m) => m.javascript()),
  typescript: () => import('@codemirror/lang-javascript').then((m) => m.javascript({ typescript: true })),
  c: () => import('@codemirror/lang-cpp').then((m) => m.cpp()),
  cpp: () => import('@codemirror/lang-cpp').then((m) => m.cpp()),
  go: () => import('@codemirror/lang-go').then((m) => m.go()),
  rust: () => import('@codemirror/lang-rust').then((m) => m.rust()),
  java: () => import('@codemirror/lang-java').then((m) => m.java()),
};

// The languages POST /api/autocomplete knows; C++ is close enough to C.
const COMPLETION_LANGUAGE = {
  python: 'python', javascript: 'javascript', typescript: 'typescript', c: 'c', cpp: 'c', go: 'go', rust: 'rust', java: 'java',
};

/* ---------- look ---------- */

// Colours come from custom properties (app.css, light and dark), which reach
// into the shadow root, so the editor follows the theme toggle by itself.
const editorTheme = EditorView.theme({
  '&': { height: '100%', color: 'var(--text)', backgroundColor: 'var(--surface)', fontSize: '0.875rem' },
  '&.cm-focused': { outline: 'none' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.6' },
  '.cm-content': { caretColor: 'var(--accent)', padding: '1.25rem 0 0.75rem' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--accent)', borderLeftWidth: '2px' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection':
    { backgroundColor: 'var(--cm-selection)' },
  '.cm-gutters': { backgroundColor: 'var(--surface-2)', color: 'var(--faint)', borderRight: '1px solid var(--border)' },
  '.cm-lineNumbers .cm-gutterElement': { padding: '0 0.75rem 0 1rem' },
  '.cm-activeLine': { backgroundColor: 'var(--cm-active-line)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--cm-active-line)', color: 'var(--text)' },
  '.cm-matchingBracket, &.cm-focused .cm-matchingBracket': { backgroundColor: 'var(--cm-bracket)', outline: 'none' },
  '.cm-tooltip': {
    backgroundColor: 'var(--surface)', color: 'var(--text)', border: '1px solid var(--border-strong)',
    borderRadius: '8px', boxShadow: 'var(--shadow-lg)', overflow: 'hidden',
  },
  '.cm-tooltip.cm-tooltip-autocomplete > ul': { fontFamily: 'var(--mono)', maxHeight: '16em' },
  '.cm-tooltip.cm-tooltip-autocomplete > ul > li': { padding: '2px 0.75rem 2px 0.5rem', lineHeight: '1.6' },
  '.cm-tooltip-autocomplete ul li[aria-selected]': { backgroundColor: 'var(--accent)', color: 'var(--accent-text)' },
  '.cm-completionDetail': { color: 'var(--muted)', fontStyle: 'normal', marginLeft: '1em', fontSize: '0.8em' },
  '.cm-tooltip-autocomplete ul li[aria-selected] .cm-completionDetail': { color: 'inherit', opacity: '0.8' },
  '.cm-completionMatchedText': { textDecoration: 'none', fontWeight: '700' },
  // Other people's cursors and selections, in their colour, named.
  '.cm-remote-caret': {
    position: 'relative', display: 'inline-block', width: '0', height: '1.2em', verticalAlign: 'text-bottom',
    borderLeft: '2px solid var(--remote)', marginLeft: '-1px', marginRight: '-1px', pointerEvents: 'none',
  },
  '.cm-remote-caret::after': {
    content: 'attr(data-name)', position: 'absolute', left: '-2px', bottom: '100%', padding: '0 4px',
    borderRadius: '3px 3px 3px 0', backgroundColor: 'var(--remote)', color: 'var(--peer-label)', fontFamily: 'var(--font)',
    fontSize: '0.6875rem', fontWeight: '600', lineHeight: '1.4', whiteSpace: 'nowrap', zIndex: '5',
    // The name says who moved; then it gets out of the way of the text above.
    animation: 'cm-remote-name-fade 0.4s ease-in 2.5s forwards',
  },
  '@keyframes cm-remote-name-fade': { to: { opacity: '0' } },
  '.cm-remote-selection': { backgroundColor: 'color-mix(in srgb, var(--remote) 25%, transparent)' },
  ...Object.fromEntries(Array.from({ length: PEER_COLOURS }, (_, i) => [`.cm-remote-c${i}`, { '--remote': `var(--peer-${i})` }])),
});

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.moduleKeyword, t.operatorKeyword, t.definitionKeyword, t.modifier], color: 'var(--cm-keyword)' },
  { tag: [t.string, t.special(t.string), t.regexp, t.character], color: 'var(--cm-string)' },
  { tag: [t.number, t.bool, t.null, t.atom], color: 'var(--cm-number)' },
  { tag: [t.comment, t.lineComment, t.blockComment, t.docComment], color: 'var(--cm-comment)', fontStyle: 'italic' },
  { tag: [t.function(t.variableName), t.function(t.definition(t.variableName)), t.function(t.propertyName)], color: 'var(--cm-function)' },
  { tag: [t.typeName, t.className, t.namespace, t.standard(t.typeName)], color: 'var(--cm-type)' },
  { tag: [t.definition(t.variableName), t.definition(t.propertyName)], color: 'var(--cm-definition)' },
  { tag: [t.propertyName], color: 'var(--cm-property)' },
  { tag: [t.meta, t.processingInstruction, t.macroName, t.annotation], color: 'var(--cm-meta)' },
  { tag: [t.operator, t.punctuation, t.bracket], color: 'var(--cm-punctuation)' },
  { tag: t.invalid, color: 'var(--bad)' },
]);

/* ---------- other people's cursors ---------- */

function colourHash(peerId) {
  let hash = 0;
  for (const ch of String(peerId)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return hash % PEER_COLOURS;
}

/**
 * A colour for each member present: the one its id hashes to, or the next
 * one free when someone earlier (by id) has it. Every page sees the same
 * members, so every page gives everyone the same colour, and two people
 * share one only when more than eight are here.
 */
function assignColours(peerIds) {
  const colours = new Map();
  const taken = new Set();
  for (const id of [...peerIds].sort()) {
    let c = colourHash(id);
    for (let i = 0; i < PEER_COLOURS && taken.has(c); i++) c = (c + 1) % PEER_COLOURS;
    taken.add(c);
    if (taken.size === PEER_COLOURS) taken.clear();
    colours.set(id, c);
  }
  return colours;
}

class CaretWidget extends WidgetType {
  /** moves: how often this cursor was set; a new count draws it anew, so its name shows again. */
  constructor(name, colour, moves) {
    super();
    this.name = name;
    this.colour = colour;
    this.moves = moves;
  }

  eq(other) {
    return other.name === this.name && other.colour === this.colour && other.moves === this.moves;
  }

  toDOM() {
    // The name is drawn by CSS from data-name, so it is never part of the text.
    return h('span', { className: `cm-remote-caret cm-remote-c${this.colour}`, attrs: { 'data-name': this.name, 'aria-hidden': 'true' } });
  }

  ignoreEvent() {
    return true;
  }
}

const setRemoteCursor = StateEffect.define(); // {peerId, name, colour, anchor, head}
const dropRemoteCursor = StateEffect.define(); // peerId

// peerId -> {name, colour, anchor, head}, kept in step with the text as it changes.
const remoteCursors = StateField.define({
  create: () => new Map(),
  update(cursors, tr) {
    let next = cursors;
    if (tr.docChanged) {
      next = new Map();
      for (const [id, c] of cursors) {
        next.set(id, { ...c, anchor: tr.changes.mapPos(c.anchor), head: tr.changes.mapPos(c.head, 1) });
      }
    }
    for (const e of tr.effects) {
      if (e.is(setRemoteCursor) || e.is(dropRemoteCursor)) {
        if (next === cursors) next = new Map(cursors);
        if (e.is(setRemoteCursor)) {
          const len = tr.state.doc.length;
          const { peerId, ...c } = e.value;
          const moves = (next.get(peerId)?.moves ?? 0) + 1;
          next.set(peerId, { ...c, moves, anchor: Math.min(c.anchor, len), head: Math.min(c.head, len) });
        } else {
          next.delete(e.value);
        }
      }
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field, (cursors) => {
    const ranges = [];
    for (const c of cursors.values()) {
      const from = Math.min(c.anchor, c.head);
      const to = Math.max(c.anchor, c.head);
      if (from < to) ranges.push(Decoration.mark({ class: `cm-remote-selection cm-remote-c${c.colour}` }).range(from, to));
      ranges.push(Decoration.widget({ widget: new CaretWidget(c.name, c.colour, c.moves), side: 1 }).range(c.head));
    }
    return Decoration.set(ranges, true);
  }),
});

/* ---------- completions ---------- */

const COMPLETION_TYPE = { keyword: 'keyword', builtin: 'function', identifier: 'variable', snippet: 'text' };

/**
 * Where the caret goes after inserting a completion: on the empty body line
 * of a snippet (a `for` or function skeleton), with a Python `pass`
 * selected so typing replaces it, else at the end.
 */
function caretAfter(insert) {
  const lines = insert.split('\n');
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (i > 0 && line.trim() === '') return { anchor: offset + line.length, head: offset + line.length };
    if (i > 0 && line.trim() === 'pass') {
      const at = offset + line.indexOf('pass');
      return { anchor: at, head: at + 4 };
    }
    offset += line.length + 1;
  }
  return { anchor: insert.length, head: insert.length };
}

function applyCompletion(insert) {
  return (view, completion, from, to) => {
    const caret = caretAfter(insert);
    view.dispatch({
      changes: { from, to, insert },
      selection: { anchor: from + caret.anchor, head: from + caret.head },
      scrollIntoView: true,
      userEvent: 'input.complete',
      annotations: pickedCompletion.of(completion),
    });
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A completion source asking tandem (debounced, and aborted when the text moves on). */
function serverCompletions(languageOf) {
  return async (ctx) => {
    const language = COMPLETION_LANGUAGE[languageOf()];
    if (!language) return null;
    const word = ctx.matchBefore(/[\w$]+/);
    if (!ctx.explicit && !word) return null;
    await sleep(COMPLETE_DELAY_MS);
    if (ctx.aborted) return null;
    const ctrl = new AbortController();
    ctx.addEventListener('abort', () => ctrl.abort());
    let body;
    try {
      body = await api.autocomplete(ctx.state.doc.toString(), ctx.pos, language, ctrl.signal);
    } catch {
      return null; // aborted, rate limited or offline: no list this time
    }
    if (ctx.aborted || !body || !Array.isArray(body.completions) || !body.completions.length) return null;
    const from = Number.isInteger(body.from) ? body.from : ctx.pos;
    const to = Number.isInteger(body.to) ? body.to : ctx.pos;
    if (from < 0 || from > to || to > ctx.state.doc.length) return null;
    const count = body.completions.length;
    // Typing on may filter this list in place only when it is complete (under
    // tandem's 20) and holds no snippet: a snippet is made of the word typed
    // (`def area` -> `area():`), and a full list may lack what a longer
    // prefix ranks first. Otherwise the next key asks tandem again.
    const refinable = count < MAX_COMPLETIONS && !body.completions.some((c) => c.kind === 'snippet');
    return {
      from,
      to,
      validFor: refinable ? /^[\w$]*$/ : undefined,
      options: body.completions.map((c, i) => ({
        label: String(c.label),
        type: COMPLETION_TYPE[c.kind] ?? 'text',
        detail: typeof c.detail === 'string' ? c.detail : undefined,
        apply: applyCompletion(String(c.insert ?? c.label)),
        boost: Math.round(((count - i) / count) * 40), // keep tandem's order
      })),
    };
  };
}

/* ---------- the view ---------- */

const ui = {};
function bindUi() {
  if (ui.body) return;
  for (const [key, id] of Object.entries({
    body: 'code-body', language: 'code-language', editor: 'code-editor', members: 'code-members',
    memberCount: 'code-member-count', roomCode: 'code-room-code', copyLink: 'code-copy-link', copyLinkText: 'code-copy-link-text',
    qrButton: 'code-qr-button', qrPanel: 'code-qr-panel', qr: 'code-qr', host: 'code-host',
  })) ui[key] = $(id);
  for (const [id, name] of LANGUAGES) ui.language.append(h('option', { value: id, text: name }));
}

const wsUrl = (id) => `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/${encodeURIComponent(id)}`;

export class CodeRoom {
  /**
   * id: the room's id; info: its public facts (code, url, qr_url); link: the
   * link to share; onEnd(reason): the room is over (room.js says so);
   * banner(kind, title, body, {retry}) / hideBanner(): room.js's banner.
   */
  constructor({ id, info, link, onEnd, banner, hideBanner }) {
    bindUi();
    this.id = id;
    this.info = info;
    this.link = link;
    this.onEnd = onEnd;
    this.banner = banner;
    this.hideBanner = hideBanner;
    this.view = null;
    this.language = 'plaintext';
    this.languageLoad = 0;
    this.languageConf = new Compartment();
    this.darkConf = new Compartment();
    this.ws = null;
    this.connected = false;
    this.everConnected = false;
    this.rebuild = false; // the next welcome replaces our text (we fell too far behind)
    this.inflight = false;
    this.retries = 0;
    this.retryTimer = 0;
    this.countdownTimer = 0;
    this.pushTimer = 0;
    this.cursorTimer = 0;
    this.cursorDirty = false;
    this.selfId = null;
    this.selfName = '';
    this.peers = new Map();
    this.colours = new Map(); // peerId -> cursor colour (0..PEER_COLOURS-1)
    this.destroyed = false;
    this.listeners = new AbortController();
    this.themeObserver = null;
  }

  start() {
    ui.body.hidden = false;
    ui.qrPanel.hidden = true;
    ui.qrButton.setAttribute('aria-expanded', 'false');
    ui.roomCode.textContent = formatCode(String(this.info.code ?? ''));
    ui.qr.src = this.info.qr_url || api.qrUrl(this.id);
    try {
      ui.host.textContent = new URL(this.link, location.href).host;
    } catch {
      ui.host.textContent = location.host;
    }
    this.wire();
    this.renderMembers();
    this.connect();
  }

  destroy() {
    this.destroyed = true;
    this.connected = false;
    this.stopTimers();
    clearTimeout(this.pushTimer);
    clearTimeout(this.cursorTimer);
    this.listeners.abort();
    this.themeObserver?.disconnect();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'leaving');
    this.view?.destroy();
    this.view = null;
    ui.editor.shadowRoot?.replaceChildren();
    ui.body.hidden = true;
  }

  wire() {
    const opts = { signal: this.listeners.signal };
    ui.language.addEventListener('change', () => this.pickLanguage(ui.language.value), opts);
    ui.copyLink.addEventListener('click', () => this.copyLink(), opts);
    ui.qrButton.addEventListener('click', () => {
      ui.qrPanel.hidden = !ui.qrPanel.hidden;
      ui.qrButton.setAttribute('aria-expanded', String(!ui.qrPanel.hidden));
    }, opts);
    window.addEventListener('online', () => this.nudge(), opts);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.nudge();
    }, opts);
  }

  async copyLink() {
    if (!(await copyText(this.link))) {
      toast(`Could not copy. The link is ${this.link}`, 'error');
      return;
    }
    ui.copyLinkText.textContent = 'Copied';
    announce('Link copied to the clipboard');
    setTimeout(() => {
      ui.copyLinkText.textContent = 'Copy link';
    }, 1600);
  }

  /* ----- the editor ----- */

  extensions(version) {
    return [
      lineNumbers(),
      highlightActiveLineGutter(),
      highlightSpecialChars(),
      history(),
      drawSelection(),
      dropCursor(),
      EditorState.allowMultipleSelections.of(true),
      indentOnInput(),
      indentUnit.of('    '),
      bracketMatching(),
      closeBrackets(),
      highlightActiveLine(),
      syntaxHighlighting(highlight),
      autocompletion({ override: [serverCompletions(() => this.language)], icons: true }),
      keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, indentWithTab]),
      editorTheme,
      this.darkConf.of(EditorView.theme({}, { dark: document.documentElement.dataset.theme === 'dark' })),
      this.languageConf.of([]),
      remoteCursors,
      collab({ startVersion: version }),
      EditorView.contentAttributes.of({ 'aria-label': 'Shared code editor' }),
      EditorView.updateListener.of((u) => {
        if (u.docChanged) this.schedulePush();
        if (u.docChanged || u.selectionSet) this.scheduleCursor();
      }),
    ];
  }

  createEditor(doc) {
    const root = ui.editor.shadowRoot ?? ui.editor.attachShadow({ mode: 'open' });
    root.replaceChildren();
    this.view = new EditorView({
      state: EditorState.create({ doc: doc.text, extensions: this.extensions(doc.version) }),
      parent: root,
      root,
    });
    // The app's toggle sets <html data-theme>; CodeMirror's own light/dark bits follow it.
    this.themeObserver = new MutationObserver(() => {
      const dark = document.documentElement.dataset.theme === 'dark';
      this.view?.dispatch({ effects: this.darkConf.reconfigure(EditorView.theme({}, { dark })) });
    });
    this.themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
  }

  /** Starts over from the server's text (after version_gone or a refused push). */
  replaceDoc(doc) {
    const local = this.view.state.doc.toString();
    this.view.setState(EditorState.create({ doc: doc.text, extensions: this.extensions(doc.version) }));
    this.inflight = false;
    this.applyLanguage(this.language, true);
    if (local !== doc.text) toast('Your editor fell out of step and now shows the room\'s latest text.', 'error');
  }

  /* ----- language ----- */

  pickLanguage(language) {
    if (!this.connected) {
      ui.language.value = this.language;
      toast('Offline: the language can change once the connection is back.', 'error');
      return;
    }
    this.send({ type: 'doc.language', language });
  }

  async applyLanguage(language, force = false) {
    const id = normalLanguage(language);
    if (id === this.language && !force) return;
    this.language = id;
    if (![...ui.language.options].some((o) => o.value === id)) ui.language.append(h('option', { value: id, text: languageName(id) }));
    ui.language.value = id;
    ui.body.dataset.language = id;
    const load = ++this.languageLoad;
    let support = [];
    if (SYNTAX[id]) {
      try {
        support = await SYNTAX[id]();
      } catch {
        toast(`Could not load the ${languageName(id)} highlighting. Check your connection.`, 'error');
      }
    }
    if (this.destroyed || !this.view || load !== this.languageLoad) return;
    this.view.dispatch({ effects: this.languageConf.reconfigure(support) });
  }

  /* ----- the connection ----- */

  send(msg) {
    if (!this.connected || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  stopTimers() {
    clearTimeout(this.retryTimer);
    clearInterval(this.countdownTimer);
    this.retryTimer = 0;
    this.countdownTimer = 0;
  }

  connect() {
    this.stopTimers();
    if (this.destroyed) return;
    setStatus('connecting', this.everConnected ? 'Reconnecting…' : 'Connecting…');
    let ws;
    try {
      ws = new WebSocket(wsUrl(this.id));
    } catch {
      this.onClose();
      return;
    }
    this.ws = ws;
    ws.addEventListener('message', (ev) => {
      if (this.ws === ws && typeof ev.data === 'string') this.onFrame(ev.data);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onClose();
    });
  }

  onFrame(raw) {
    const msg = api.parseFrame(raw);
    if (!msg) return;
    switch (msg.type) {
      case 'welcome':
        this.onWelcome(msg);
        break;
      case 'doc.updates':
        this.onUpdates(msg);
        break;
      case 'doc.cursor':
        this.onCursor(msg);
        break;
      case 'doc.language':
        if (typeof msg.language === 'string') {
          this.applyLanguage(msg.language);
          if (msg.peer_id !== this.selfId) announce(`The language is now ${languageName(msg.language)}`);
        }
        break;
      case 'peer.joined':
      case 'peer.updated':
        if (typeof msg.peer_id === 'string' && msg.peer_id !== this.selfId) {
          this.peers.set(msg.peer_id, msg);
          this.renderMembers();
          if (msg.type === 'peer.joined') announce(`${this.nameOf(msg)} joined`);
        } else if (msg.peer_id === this.selfId && typeof msg.name === 'string') {
          this.selfName = msg.name;
          this.renderMembers();
        }
        break;
      case 'peer.left':
        if (this.peers.delete(msg.peer_id)) {
          this.view?.dispatch({ effects: dropRemoteCursor.of(msg.peer_id) });
          this.renderMembers();
        }
        break;
      case 'room.closed':
        this.onEnd(msg.reason === 'expired' ? 'expired' : 'deleted');
        break;
      case 'error':
        this.onError(msg);
        break;
      default:
        break; // init / code_update are for whole-text clients; newer messages this page does not know
    }
  }

  onWelcome(msg) {
    const doc = msg.doc;
    if (!doc || typeof doc.text !== 'string' || !Number.isInteger(doc.version)) return;
    this.connected = true;
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.retries = 0;
    this.inflight = false;
    this.selfId = typeof msg.peer_id === 'string' ? msg.peer_id : null;
    this.selfName = typeof msg.you?.name === 'string' ? msg.you.name : '';
    this.peers.clear();
    for (const p of Array.isArray(msg.peers) ? msg.peers : []) {
      if (p && typeof p.peer_id === 'string' && p.peer_id !== this.selfId) this.peers.set(p.peer_id, p);
    }
    if (!this.view) this.createEditor(doc);
    else if (this.rebuild || getSyncedVersion(this.view.state) > doc.version) this.replaceDoc(doc);
    this.rebuild = false;
    // Drop cursors of people who left while we were away.
    const gone = [...this.view.state.field(remoteCursors).keys()].filter((id) => !this.peers.has(id));
    if (gone.length) this.view.dispatch({ effects: gone.map((id) => dropRemoteCursor.of(id)) });
    this.applyLanguage(doc.language ?? 'plaintext', !reconnected);
    this.renderMembers();
    // A pull says "collab client" to tandem and catches up with what
    // happened since our version; what we typed offline is pushed after it.
    this.send({ type: 'doc.pull', version: getSyncedVersion(this.view.state) });
    this.hideBanner();
    setStatus('online', 'Connected');
    if (reconnected) announce('Connected again');
    this.scheduleCursor();
  }

  onUpdates(msg) {
    if (!this.view || !Number.isInteger(msg.from) || !Array.isArray(msg.updates)) return;
    const synced = getSyncedVersion(this.view.state);
    if (msg.from > synced) {
      // We missed some (a push of ours crossed them): ask from where we are.
      this.send({ type: 'doc.pull', version: synced });
      return;
    }
    const fresh = msg.updates.slice(synced - msg.from);
    if (fresh.length) {
      let updates;
      try {
        updates = fresh.map((u) => ({ clientID: String(u.clientID), changes: ChangeSet.fromJSON(u.changes) }));
      } catch {
        this.resyncFromScratch();
        return;
      }
      // Our own updates coming back confirm our push.
      if (fresh.some((u) => u.clientID === getClientID(this.view.state))) this.inflight = false;
      try {
        this.view.dispatch(receiveUpdates(this.view.state, updates));
      } catch {
        // Changes that do not fit our text: we are out of step.
        this.resyncFromScratch();
        return;
      }
    }
    if (msg.updates.length >= PULL_PAGE) this.send({ type: 'doc.pull', version: getSyncedVersion(this.view.state) });
    this.push();
  }

  onError(msg) {
    switch (msg.code) {
      case 'stale_version':
        this.inflight = false;
        if (this.view) this.send({ type: 'doc.pull', version: getSyncedVersion(this.view.state) });
        break;
      case 'version_gone':
      case 'bad_version':
      case 'bad_changes':
      case 'length_mismatch':
      case 'splits_character':
      case 'bad_json':
        this.resyncFromScratch();
        break;
      case 'changes_too_large':
      case 'doc_too_large':
        toast(msg.message || 'The document is too large for this room.', 'error');
        this.resyncFromScratch();
        break;
      case 'rate_limited':
        break; // a cursor too many; the next one goes through
      default:
        if (typeof msg.message === 'string') toast(msg.message, 'error');
        break;
    }
  }

  /** Reconnects and takes the server's text as it is: the welcome carries it whole. */
  resyncFromScratch() {
    this.rebuild = true;
    this.inflight = false;
    const ws = this.ws;
    if (ws) ws.close(1000, 'resync');
  }

  schedulePush() {
    if (this.pushTimer) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = 0;
      this.push();
    }, PUSH_DELAY_MS);
  }

  /** Sends what we typed, one push at a time, at the version we are synced to. */
  push() {
    if (!this.view || this.inflight || !this.connected) return;
    const updates = sendableUpdates(this.view.state);
    if (!updates.length) return;
    const batch = updates.slice(0, MAX_PUSH_UPDATES);
    if (this.send({
      type: 'doc.push',
      version: getSyncedVersion(this.view.state),
      updates: batch.map((u) => ({ clientID: u.clientID, changes: u.changes.toJSON() })),
    })) this.inflight = true;
  }

  scheduleCursor() {
    this.cursorDirty = true;
    if (this.cursorTimer) return;
    const tick = () => {
      this.cursorTimer = 0;
      if (!this.cursorDirty || !this.view) return;
      this.cursorDirty = false;
      const { anchor, head } = this.view.state.selection.main;
      if (this.send({ type: 'doc.cursor', anchor, head })) this.cursorTimer = setTimeout(tick, CURSOR_EVERY_MS);
    };
    this.cursorTimer = setTimeout(tick, 0);
  }

  onCursor(msg) {
    if (!this.view || typeof msg.peer_id !== 'string' || msg.peer_id === this.selfId) return;
    if (!Number.isInteger(msg.anchor) || !Number.isInteger(msg.head) || msg.anchor < 0 || msg.head < 0) return;
    const peer = this.peers.get(msg.peer_id);
    const name = typeof msg.name === 'string' && msg.name ? msg.name : this.nameOf(peer ?? msg);
    this.view.dispatch({
      effects: setRemoteCursor.of({ peerId: msg.peer_id, name, colour: this.colourOf(msg.peer_id), anchor: msg.anchor, head: msg.head }),
    });
  }

  onClose() {
    this.connected = false;
    this.inflight = false;
    if (this.destroyed) return;
    if (this.rebuild) {
      this.connect(); // a resync, not a lost connection
      return;
    }
    this.retries += 1;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.retries - 1, 5));
    this.scheduleRetry(delay);
  }

  scheduleRetry(delay) {
    this.stopTimers();
    const at = Date.now() + delay;
    const tick = () => {
      const s = Math.max(1, Math.ceil((at - Date.now()) / 1000));
      setStatus('offline', `Offline · retry in ${s} s`);
      this.banner('warn', this.everConnected ? 'Connection lost' : 'Cannot reach the room',
        `Trying again in ${s} s. Keep typing: your changes are sent once the connection is back.`,
        { retry: () => this.reconnect() });
    };
    tick();
    this.countdownTimer = setInterval(tick, 1000);
    this.retryTimer = setTimeout(() => this.reconnect(), delay);
  }

  /** Checks the room still exists (a refused WebSocket says nothing), then connects. */
  async reconnect() {
    if (this.destroyed || this.ws) return;
    this.stopTimers();
    setStatus('connecting', 'Reconnecting…');
    try {
      await api.getRoom(this.id);
    } catch (err) {
      if (this.destroyed) return;
      if (err.status === 404) this.onEnd('gone');
      else if (err.status === 410) this.onEnd('expired');
      else this.onClose();
      return;
    }
    if (!this.destroyed) this.connect();
  }

  nudge() {
    if (this.retryTimer && !this.destroyed) this.reconnect();
  }

  /* ----- who is here ----- */

  nameOf(p) {
    return typeof p?.name === 'string' && p.name ? p.name : 'Someone';
  }

  colourOf(peerId) {
    return this.colours.get(peerId) ?? colourHash(peerId);
  }

  /** The members changed: colours again, and cursors drawn in their owner's new colour. */
  recolour() {
    this.colours = assignColours([...(this.selfId ? [this.selfId] : []), ...this.peers.keys()]);
    if (!this.view) return;
    const effects = [];
    for (const [peerId, c] of this.view.state.field(remoteCursors)) {
      if (c.colour !== this.colourOf(peerId)) effects.push(setRemoteCursor.of({ peerId, name: c.name, colour: this.colourOf(peerId), anchor: c.anchor, head: c.head }));
    }
    if (effects.length) this.view.dispatch({ effects });
  }

  renderMembers() {
    this.recolour();
    const row = (peerId, name, detail, self) => h('li', { className: `member${self ? ' self' : ''}`, dataset: { peerId } },
      h('span', { className: `swatch peer-c${this.colourOf(peerId)}`, attrs: { 'aria-hidden': 'true' } }),
      h('span', { className: 'member-name' }, h('strong', { text: name }), h('span', { className: 'muted small', text: detail })));
    const rows = [];
    if (this.selfId) rows.push(row(this.selfId, this.selfName || 'You', 'You', true));
    const others = [...this.peers.values()].sort((a, b) => this.nameOf(a).localeCompare(this.nameOf(b)));
    for (const p of others) rows.push(row(p.peer_id, this.nameOf(p), typeof p.device === 'string' && p.device ? p.device : 'Online', false));
    ui.members.replaceChildren(...rows);
    ui.memberCount.textContent = String(rows.length);
  }
}
