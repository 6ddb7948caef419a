/**
 * The sign-in form: credentials to `POST /api/auth/token/`, a token back.
 *
 * What can go wrong is shown where it happened: a missing field beside it (400), wrong
 * credentials (401) and too many attempts (429) in the form's alert, the last with a countdown
 * from Retry-After during which the button stays disabled: another attempt would only be
 * refused again.
 */

import { FormFeedback } from "./alerts.js";

export class SignInForm {
  /**
   * `client` is the console's ApiClient (no token while signed out), `path` the token
   * endpoint, `onSignedIn({token, expiresAt, username})` what follows a success.
   */
  constructor(form, { client, path, onSignedIn }) {
    this.form = form;
    this.client = client;
    this.path = path;
    this.onSignedIn = onSignedIn;
    this.feedback = new FormFeedback(form);
    this.submit = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn();
    });
  }

  async signIn() {
    const data = new FormData(this.form);
    const username = String(data.get("username") ?? "");
    this.feedback.clear();
    this.submit.disabled = true;
    this.form.setAttribute("aria-busy", "true");
    let answer;
    try {
      answer = await this.client.post(this.path, {
        username,
        password: String(data.get("password") ?? ""),
      });
    } catch (error) {
      this.feedback.show(error, {
        onRetryAllowed: () => {
          this.submit.disabled = false;
        },
      });
      return;
    } finally {
      this.form.removeAttribute("aria-busy");
    }
    this.submit.disabled = false;
    this.form.reset();
    this.onSignedIn({ token: answer.token, expiresAt: answer.expires_at, username });
  }

  /** Show the form, with `error` (why the last session ended) and its `lead`, if any. */
  show(error = null, lead = null) {
    this.feedback.clear();
    if (error) this.feedback.show(error, { lead });
    this.form.elements.namedItem("username").focus();
  }
}
