// Light and dark mode: follows the system until the visitor picks one with
// the toggle; the pick is kept in localStorage. <html data-theme> always
// holds the theme in force, which app.css keys on.
import { load, save } from './storage.js';

const KEY = 'tandem.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');

function chosen() {
  const v = load(KEY);
  return v === 'light' || v === 'dark' ? v : null;
}

export function currentTheme() {
  return chosen() ?? (media.matches ? 'dark' : 'light');
}

function apply(button) {
  const theme = currentTheme();
  document.documentElement.dataset.theme = theme;
  if (button) {
    const next = theme === 'dark' ? 'light' : 'dark';
    const label = `Switch to ${next} theme`;
    button.setAttribute('aria-label', label);
    button.title = label;
  }
}

export function initTheme(button) {
  apply(button);
  media.addEventListener('change', () => apply(button));
  button.addEventListener('click', () => {
    save(KEY, currentTheme() === 'dark' ? 'light' : 'dark');
    apply(button);
  });
  // Another tab changed it.
  window.addEventListener('storage', (ev) => {
    if (ev.key === KEY) apply(button);
  });
}
