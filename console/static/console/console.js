/**
 * The web console at `/`: sign in, manage workspaces, watch live events, and see how each
 * error of the API reaches a person. It talks to the API only through the `errors` app's
 * client module; the page passes the API's paths as data- attributes of #console.
 *
 * The token lives in sessionStorage: it survives a reload of the tab, is not shared with other
 * tabs (each signs in for itself, as a second user would), and is gone when the tab closes. It
 * is never in a cookie, so no other site's page can make the browser send it; the page's
 * Content-Security-Policy (scripts of this service only) is what keeps other scripts from
 * reading it.
 */

import { ApiClient } from "../errors/client.js";
import { announce } from "./alerts.js";
import { LivePanel } from "./live.js";
import { SignInForm } from "./signin.js";
import { t } from "./strings.js";
import { WorkspacesPanel } from "./workspaces.js";

const STORAGE_KEY = "cortex.console.session";
// Correlation ids of this tab's recent requests, to tell its own events from the others'.
const OWN_REQUESTS_KEPT = 200;

/** The signed-in user and their token, kept in sessionStorage. */
class Session {
  constructor(storage) {
    this.storage = storage;
    let saved = null;
    try {
      saved = JSON.parse(storage.getItem(STORAGE_KEY) ?? "null");
    } catch {
      saved = null; // not ours, or damaged: signed out
    }
    this.current = saved && typeof saved.token === "string" ? saved : null;
  }

  save(session) {
    this.current = session;
    this.storage.setItem(STORAGE_KEY, JSON.stringify(session));
  }

  forget() {
    this.current = null;
    this.storage.removeItem(STORAGE_KEY);
  }
}

function start(root) {
  const paths = root.dataset;
  const session = new Session(window.sessionStorage);
  const ownRequests = new Set();

  const client = new ApiClient("", {
    token: session.current ? session.current.token : null,
    // A 401 while signed in: the token expired or was revoked. (The sign-in form's own 401,
    // sent without a token, is shown by the form.)
    onAuthError: (error) => {
      if (client.token) signOut(error, t("session_ended"));
    },
    correlationId: () => {
      const id = crypto.randomUUID();
      ownRequests.add(id);
      if (ownRequests.size > OWN_REQUESTS_KEPT) {
        ownRequests.delete(ownRequests.values().next().value);
      }
      return id;
    },
  });

  const signInSection = document.getElementById("sign-in");
  const workspaceArea = document.getElementById("workspace-area");
  const sessionBar = document.getElementById("session");
  const workspaces = new WorkspacesPanel(workspaceArea, {
    client,
    path: paths.workspacesUrl,
  });
  const live = new LivePanel(workspaceArea, {
    client,
    streamPath: paths.streamUrl,
    ticketPath: paths.ticketsUrl,
    workspaces,
    ownRequest: (id) => ownRequests.has(id),
  });
  const signIn = new SignInForm(document.getElementById("sign-in-form"), {
    client,
    path: paths.tokenUrl,
    onSignedIn: (signedIn) => {
      session.save(signedIn);
      showSignedIn();
      announce(t("signed_in_as", { username: signedIn.username }));
    },
  });

  function showSignedIn() {
    client.token = session.current.token;
    document.getElementById("session-user").textContent = session.current.username;
    signInSection.hidden = true;
    sessionBar.hidden = false;
    workspaceArea.hidden = false;
    workspaces.load();
    live.connect();
    document.getElementById("create-name").focus();
  }

  /** Back to the sign-in form; `error` and `lead` say why when it was not the user's wish. */
  function signOut(error = null, lead = null) {
    client.token = null;
    session.forget();
    live.reset();
    workspaces.reset();
    sessionBar.hidden = true;
    workspaceArea.hidden = true;
    signInSection.hidden = false;
    signIn.show(error, lead);
  }

  document.getElementById("sign-out").addEventListener("click", async () => {
    live.reset(); // before the token stops working, so the stream does not see a 401
    try {
      await client.post(paths.logoutUrl);
    } catch (error) {
      if (!client.token) return; // a 401: onAuthError has signed out already
      // The token could not be revoked (the service is unreachable, say): this tab forgets it
      // all the same, and says that it stays valid until it expires.
      signOut(error, t("not_revoked"));
      return;
    }
    signOut();
    announce(t("signed_out"));
  });

  if (session.current) {
    showSignedIn();
  } else {
    signInSection.hidden = false;
    signIn.show();
  }
}

start(document.getElementById("console"));
