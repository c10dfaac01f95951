// The languages a code room can be in: the id tandem stores (docs/api.md)
// and the name people read. The editor's syntax packages are loaded on
// demand in code.js; this list is all the start page needs.

export const LANGUAGES = [
  ['plaintext', 'Plain text'],
  ['python', 'Python'],
  ['javascript', 'JavaScript'],
  ['typescript', 'TypeScript'],
  ['c', 'C'],
  ['cpp', 'C++'],
  ['go', 'Go'],
  ['rust', 'Rust'],
  ['java', 'Java'],
];

// Short names tandem accepts for the same languages.
const ALIASES = { py: 'python', js: 'javascript', ts: 'typescript', rs: 'rust', 'c++': 'cpp', text: 'plaintext' };

/** The id of a language as this client knows it (aliases resolved, lower case). */
export function normalLanguage(id) {
  const lower = String(id ?? '').toLowerCase();
  return ALIASES[lower] ?? lower;
}

export function languageName(id) {
  const known = LANGUAGES.find(([key]) => key === normalLanguage(id));
  return known ? known[1] : String(id);
}
