/**
 * The simple commands of a shell line, each as its words joined by one space: split at unquoted `;`,
 * `&`, `|`, newlines, parentheses, `$(`, and backticks (their contents are commands of their own);
 * leading `VAR=value` assignments dropped; quotes removed. Written here rather than with shell-quote,
 * which keeps newlines and backticks inside words (`a\nb` is one command there, two for /bin/sh).
 * A match helper, not a parser a security decision rests on: the sandbox is the boundary.
 */
export function simpleCommands(line: string): string[] {
  const out: string[] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words.shift();
    if (words.length > 0) out.push(words.join(' '));
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word += line.slice(i + 1, end === -1 ? line.length : end);
      inWord = true;
      i = end === -1 ? line.length : end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        word += line[j];
      }
      inWord = true;
      i = j;
    } else if (c === '\\' && i + 1 < line.length) {
      if (line[i + 1] !== '\n') word += line[i + 1];
      inWord = true;
      i++;
    } else if (c === '#' && !inWord) {
      const nl = line.indexOf('\n', i);
      i = nl === -1 ? line.length : nl - 1;
    } else if (/[;&|\n()`]/.test(c) || (c === '$' && line[i + 1] === '(')) {
      endCommand();
      if (c === '$') i++;
    } else if (/\s/.test(c)) endWord();
    else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return out;
}

const compiled = new Map<string, RegExp>();

/** A command glob (`*` any text, `?` one character, everything else literal) against one simple command. */
export function matchCommand(glob: string, command: string): boolean {
  let re = compiled.get(glob);
  if (!re) {
    if (compiled.size > 1000) compiled.clear();
    const norm = glob.trim().replace(/\s+/g, ' ');
    const body = norm
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, 's');
    compiled.set(glob, re);
  }
  return re.test(command);
}
