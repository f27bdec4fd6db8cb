/**
 * Arguments that break naive quoting: substitutions, separators, quotes, globs, unicode, line breaks.
 * The control-character ones quote fine but validateArg refuses them for commands.
 */
export const nastyStrings = [
  '$(id)', '`id`', '${HOME}', '$HOME', 'a;touch /tmp/pwned', 'a|cat', 'a&b', 'a && b', 'a || b',
  "it's", "''", "'", '"', '"double" and \'single\'', '\\', '\\\'', 'a\\nb', '*', '?', '[a-z]', '~root',
  '-n', '--', '', ' ', '  leading and trailing  ', '#comment', '!', '!!', '>out', '<in', '2>&1',
  'écrire', '日本語', '🙂 emoji', 'tab-free\u00a0nbsp', '%s%n', '{a,b}', 'a=b', '()', '$((1+1))',
  'line\nbreak', 'x\n$(id)\n', 'tab\there', 'cr\rlf', '\u001b[31mred',
];
