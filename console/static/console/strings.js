/**
 * The console's own words, in the page's language.
 *
 * The page carries them as a JSON data block (`console-strings`, written by the view with
 * Django's translations; a data block is not a script, so the page's CSP does not apply to it).
 * `t(key, params)` fills in the named `%(name)s` placeholders; `parts` splits a text around one
 * placeholder, for texts with an element in them.
 */

const block = typeof document === "undefined" ? null : document.getElementById("console-strings");
const STRINGS = block ? JSON.parse(block.textContent) : {};

/** The text of `key`, its `%(name)s` placeholders replaced by `params[name]`. */
export function t(key, params = {}) {
  const text = STRINGS[key] ?? key;
  return text.replace(/%\((\w+)\)s/g, (whole, name) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The text of `key` before and after its `%(name)s` placeholder. */
export function parts(key, name) {
  const text = STRINGS[key] ?? key;
  const placeholder = `%(${name})s`;
  const at = text.indexOf(placeholder);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + placeholder.length)];
}
