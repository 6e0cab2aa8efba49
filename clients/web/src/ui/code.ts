import { h } from './dom.js';
import { highlightHtml, languageFor } from './highlight.js';

/** Copies text to the clipboard: the async API where the page may use it, else a hidden textarea and execCommand. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h('textarea', { 'aria-hidden': 'true', className: 'offscreen' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

/**
 * Turns the code blocks of rendered (already sanitized) markdown into highlighted blocks with a copy
 * button: the language comes from the fence tag (marked's `language-xxx` class); the code's text is read
 * back from the DOM, so nothing the model wrote is parsed as HTML.
 */
export function enhanceCodeBlocks(root: HTMLElement): void {
  for (const code of root.querySelectorAll<HTMLElement>('pre > code')) {
    const pre = code.parentElement!;
    if (pre.parentElement?.classList.contains('code-block')) continue;
    const text = code.textContent ?? '';
    const tag = /(?:^|\s)language-([\w+-]+)/.exec(code.className)?.[1];
    const lang = languageFor(tag);
    const html = highlightHtml(text, lang);
    if (html !== null) {
      code.innerHTML = html;
      code.classList.add('hljs');
    }
    const button = h(
      'button',
      { className: 'copy small', 'aria-label': 'Copy code', 'data-testid': 'copy-code' },
      'Copy',
    );
    button.addEventListener('click', () => {
      void copyText(text).then((ok) => {
        button.textContent = ok ? 'Copied' : 'Copy failed';
        setTimeout(() => (button.textContent = 'Copy'), 1500);
      });
    });
    const wrap = h('div', { className: 'code-block' }, tag ? h('span', { className: 'code-lang' }, tag) : null, button);
    pre.replaceWith(wrap);
    wrap.append(pre);
  }
}
