/**
 * How an error reaches a person.
 *
 * Every error is shown with the service's message and the correlation id that support can look
 * the request up by (with a button that copies it); a 429 or 503 adds a countdown from its
 * Retry-After. Field errors of a form go beside their fields, and a conflict (409) beside the
 * field its details name. Everything is written as text nodes, never as HTML: messages echo
 * what users typed.
 *
 * The regions errors are written into are live regions present from page load (role="alert" or
 * aria-live), so screen readers announce what appears in them; `announce` speaks short notices.
 */

import { ApiError } from "../errors/client.js";
import { parts, t } from "./strings.js";

/** Announce a short notice through the page's polite status region. */
export function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  // A change of content is what is announced: the same text twice in a row must change too.
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Stop a box's countdown before it leaves the page. */
function dispose(container) {
  for (const box of container.querySelectorAll(".error")) {
    box.dispatchEvent(new Event("dispose"));
  }
}

/** Empty `container` of the errors shown in it. */
export function clear(container) {
  dispose(container);
  container.replaceChildren();
}

/**
 * An element showing `error`: its message, its correlation id with a copy button, and for an
 * error that says when to try again a countdown. `lead` is a sentence put before the message;
 * `extra` lists further lines (field errors that belong to no field of the form);
 * `onRetryAllowed` is called when the countdown reaches zero. `retrying`: the request is sent
 * again by itself when the countdown ends (it says "Retrying in N s." rather than "Try again").
 * `actions` are buttons offered under the message, `[{label, onClick}]`, in that order.
 */
export function errorBox(
  error,
  { lead = null, extra = [], onRetryAllowed = null, retrying = false, actions = [] } = {},
) {
  const apiError = error instanceof ApiError ? error : null;
  const box = element("div", "error");
  if (apiError) {
    box.dataset.code = apiError.code;
    box.dataset.status = String(apiError.status);
  }
  if (lead) box.append(element("p", "error-lead", lead));
  const message = apiError
    ? apiError.message
    : t("console_failed", { reason: error && error.message ? error.message : String(error) });
  box.append(element("p", "error-message", message));
  for (const line of extra) box.append(element("p", "error-extra", line));
  if (apiError && apiError.correlationId) box.append(correlationLine(apiError.correlationId));
  if (apiError && apiError.retryAfter !== null && apiError.retryAfter > 0) {
    const texts = retrying ? RETRYING_TEXTS : TRY_AGAIN_TEXTS;
    box.append(countdown(box, apiError.retryAfter, onRetryAllowed, texts));
  } else if (onRetryAllowed) {
    onRetryAllowed();
  }
  if (actions.length) box.append(actionLine(actions));
  return box;
}

/** The countdown's words: while it runs (around `%(seconds)s`), and once it has ended. */
const TRY_AGAIN_TEXTS = { running: "try_again_in", done: "try_again_now" };
const RETRYING_TEXTS = { running: "retrying_in", done: "retrying_now" };

/** Buttons that offer what can be done about an error; `actionButtons(box)` finds them. */
function actionLine(actions) {
  const line = element("p", "error-actions");
  for (const { label, onClick, className = null } of actions) {
    const button = element("button", className, label);
    button.type = "button";
    button.addEventListener("click", onClick);
    line.append(button, " ");
  }
  return line;
}

/** The action buttons of an error box (see `errorBox`'s `actions`), in their order. */
export function actionButtons(box) {
  return [...box.querySelectorAll(".error-actions button")];
}

/** Replace what `container` shows with `error` (see `errorBox` for the options). */
export function showError(container, error, options = {}) {
  clear(container);
  const box = errorBox(error, options);
  container.append(box);
  return box;
}

function correlationLine(correlationId) {
  const line = element("p", "correlation");
  const code = element("code", "correlation-id", correlationId);
  const button = element("button", "copy", t("copy"));
  button.type = "button";
  button.setAttribute("aria-label", t("copy_label", { id: correlationId }));
  button.addEventListener("click", () => copy(correlationId, code, button));
  const [before, after] = parts("correlation_id", "id");
  line.append(before, code, after, " ", button);
  return line;
}

async function copy(text, code, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard (a page not served over HTTPS, or permission refused): select the id so
    // that the keyboard's copy takes it.
    window.getSelection().selectAllChildren(code);
    announce(t("correlation_selected"));
    return;
  }
  button.textContent = t("copied");
  announce(t("correlation_copied"));
  window.setTimeout(() => {
    button.textContent = t("copy");
  }, 2000);
}

/**
 * "Try again in N s", counted down to zero from `seconds`; then "You can try again now." and
 * `onEnd` (`texts` names other words: "Retrying in N s.", "Retrying now…"). A role="timer" is
 * not announced each second; the end is.
 */
function countdown(box, seconds, onEnd, texts = TRY_AGAIN_TEXTS) {
  const line = element("p", "retry");
  const timer = element("span", "retry-seconds");
  timer.setAttribute("role", "timer");
  const [before, after] = parts(texts.running, "seconds");
  line.append(before, timer, after);
  const deadline = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left > 0) {
      timer.textContent = String(left);
      return;
    }
    window.clearInterval(interval);
    line.replaceChildren(t(texts.done));
    line.classList.add("retry-done");
    announce(t(texts.done));
    if (onEnd) onEnd();
  };
  const interval = window.setInterval(tick, 250);
  box.addEventListener("dispose", () => window.clearInterval(interval), { once: true });
  tick();
  return line;
}

/**
 * The errors of one form: field messages beside their fields (`[data-error-for=<path>]`, the
 * field itself marked aria-invalid), everything else in the form's `[data-alert]` region.
 */
export class FormFeedback {
  constructor(form) {
    this.form = form;
    this.alert = form.querySelector("[data-alert]");
  }

  /** Remove every error the form shows. */
  clear() {
    for (const slot of this.form.querySelectorAll("[data-error-for]")) clear(slot);
    for (const field of this.form.querySelectorAll("[aria-invalid]")) {
      field.removeAttribute("aria-invalid");
    }
    clear(this.alert);
  }

  /**
   * Show `error`. A validation error's field messages go beside their fields and its message
   * and correlation id in the form's alert; a conflict goes whole beside the field its details
   * name (a 409 on a workspace's name: `details.name`). The first field in error is focused.
   */
  show(error, options = {}) {
    this.clear();
    const extra = [];
    let firstInvalid = null;
    const fieldErrors = error instanceof ApiError ? error.fieldErrors : {};
    for (const [path, messages] of Object.entries(fieldErrors)) {
      const slot = this.slot(path);
      if (slot) {
        slot.append(element("p", "field-message", messages.join(" ")));
        const field = this.markInvalid(path);
        firstInvalid ??= field;
      } else {
        extra.push(path === "non_field_errors" ? messages.join(" ") : `${path}: ${messages.join(" ")}`);
      }
    }
    const conflictField =
      error instanceof ApiError && error.status === 409
        ? Object.keys(error.details).find((path) => this.slot(path))
        : undefined;
    const box = errorBox(error, { ...options, extra: [...(options.extra ?? []), ...extra] });
    if (conflictField) {
      this.slot(conflictField).append(box);
      const field = this.markInvalid(conflictField);
      firstInvalid ??= field;
    } else {
      this.alert.append(box);
    }
    if (firstInvalid) firstInvalid.focus();
    return box;
  }

  slot(path) {
    return this.form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
  }

  markInvalid(path) {
    const field = this.form.elements.namedItem(path);
    if (!(field instanceof HTMLElement)) return null;
    field.setAttribute("aria-invalid", "true");
    return field;
  }
}

/** A new element with a class and, optionally, text. */
export function element(tag, className, text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}
