// The address and what leaves the page: the settings read from the hash, the hash kept in step
// with every edit, embed mode (`embed=1`: only the chosen views and play, sized to the frame), and
// the share link and embed code. The hash keys are a public format (README.md, "URL hash keys").
// The embed API (postMessage between a framing page and this one) is api.js.
import { Page } from '../pkg/pullback.js';
import { state } from './state.js';
import { $, showBanner, status } from './ui.js';

// The settings of the current hash, replacing the previous ones; what could not be used is
// named in the banner and replaced by defaults.
export function readHash() {
  const next = Page.from_hash(location.hash);
  const errs = next.errors();
  if (state.page) state.page.free();
  state.page = next;
  if (errs.length) showBanner(`The link has settings that could not be used, defaults apply instead: ${errs.join('; ')}`);
  showEmbedMode();
}

// The page's layout follows the embed key (style.css: body.embed).
export function showEmbedMode() {
  document.body.classList.toggle('embed', state.page.embed());
}

// Whether the address already shows the current settings (the page's own writeHash).
export const hashIsCurrent = () => `#${state.page.hash()}` === location.hash;

export function writeHash() {
  history.replaceState(null, '', `#${state.page.hash()}`);
}

// The page's address without its hash and without the test flag (testing.js): what a link
// shares.
function sharedBase() {
  const url = new URL(location.href);
  url.hash = '';
  if (url.searchParams.has('test')) url.searchParams.delete('test');
  return url.href;
}

export function shareUrl(embed) {
  if (!embed) return `${sharedBase()}#${state.page.hash()}`;
  const p = state.page.copy();
  p.set('embed', '1');
  const url = `${sharedBase()}#${p.hash()}`;
  p.free();
  return url;
}

export function embedCode(url) {
  return `<iframe src="${url.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}" width="720" height="440" style="border:0" title="Pullback: adapted gradient flows" loading="lazy"></iframe>`;
}

async function copyText(text) {
  $('share-text').value = text;
  try {
    await navigator.clipboard.writeText(text);
    status('copied to the clipboard');
  } catch (e) {
    $('share-text').select();
    status('select and copy the text above');
  }
}

export function bindShare() {
  $('copy-link').onclick = () => copyText(shareUrl(false));
  $('copy-embed').onclick = () => copyText(embedCode(shareUrl(true)));
}
