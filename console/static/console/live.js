/**
 * The live events panel: the stream's state, the caller's workspace events as they happen, and
 * what went wrong with the stream.
 *
 * The stream is the eventstream app's EventStream (eventstream/stream.js): a fresh single-use
 * ticket for every connection (EventSource cannot send the token), and after any break a
 * reconnection that resumes from the last event id, so events published while it was away (a server restart, say) are replayed.
 * When the server no longer holds them it says `events_lost`: the panel says so and the list is
 * reloaded, since it may be missing changes. Events caused by this tab's own requests are told
 * apart from the others' by their correlation id.
 */

import { EventStream } from "../eventstream/stream.js";
import { announce, clear, element, showError } from "./alerts.js";
import { t } from "./strings.js";

const EVENT_TYPES = ["workspace.created", "workspace.updated", "workspace.deleted"];
const EVENT_TEXTS = {
  "workspace.created": "event_created",
  "workspace.updated": "event_updated",
  "workspace.deleted": "event_deleted",
};
const STATES = { connecting: "state_connecting", open: "state_open", closed: "state_closed" };
// Entries the log keeps; older ones are dropped.
const LOG_SIZE = 100;

export class LivePanel {
  /**
   * `client`: the console's ApiClient; `streamPath`, `ticketPath`: the stream's URLs;
   * `workspaces`: the WorkspacesPanel the events update; `ownRequest(id)`: whether a
   * correlation id is one of this tab's requests.
   */
  constructor(root, { client, streamPath, ticketPath, workspaces, ownRequest }) {
    this.client = client;
    this.options = { streamPath, ticketPath };
    this.workspaces = workspaces;
    this.ownRequest = ownRequest;
    this.state = root.querySelector("#stream-state");
    this.toggle = root.querySelector("#stream-toggle");
    this.alert = root.querySelector("#live-alert");
    this.lost = root.querySelector("#events-lost");
    this.log = root.querySelector("#event-log");
    this.stream = null;
    this.wasOpen = false;
    this.toggle.addEventListener("click", () => {
      if (this.stream) {
        this.disconnect();
      } else {
        this.connect();
      }
    });
  }

  connect() {
    if (this.stream) return;
    clear(this.alert);
    this.lost.hidden = true;
    this.wasOpen = false;
    const stream = new EventStream(this.client, this.options);
    this.stream = stream;
    for (const type of EVENT_TYPES) {
      stream.on(type, (data, event) => this.received(type, data, event));
    }
    stream.onState((state) => this.renderState(state));
    stream.onError((error) => showError(this.alert, error, { lead: t("live_lead") }));
    stream.onEventsLost((info) => this.eventsLost(info));
    this.toggle.textContent = t("disconnect");
    stream.open();
  }

  disconnect() {
    if (!this.stream) return;
    const stream = this.stream;
    this.stream = null;
    stream.close();
    this.toggle.textContent = t("connect");
    this.renderState("closed");
  }

  /** Stop and forget everything shown (signing out). */
  reset() {
    this.disconnect();
    clear(this.alert);
    this.lost.hidden = true;
    this.log.replaceChildren();
  }

  renderState(state) {
    this.state.dataset.state = state;
    this.state.textContent = STATES[state] ? t(STATES[state]) : state;
    if (state === "open") {
      clear(this.alert); // a break that was shown is over
      if (this.wasOpen) this.note(t("reconnected"));
      this.wasOpen = true;
    } else if (state === "connecting" && this.wasOpen) {
      this.note(t("connection_lost"));
    } else if (state === "closed" && this.stream && this.stream.state === "closed") {
      // Closed by the stream itself (its ticket was refused with 401): no more reconnects.
      this.stream = null;
      this.toggle.textContent = t("connect");
    }
  }

  received(type, data, event) {
    const workspace = data.workspace;
    this.workspaces.apply(type, workspace);
    const entry = element("li", "event");
    entry.dataset.type = type;
    if (event.lastEventId) entry.dataset.eventId = event.lastEventId;
    const own = this.ownRequest(data.correlation_id);
    entry.dataset.origin = own ? "this-tab" : "elsewhere";
    entry.append(
      element("time", "event-time", new Date().toLocaleTimeString()),
      " ",
      element("span", "event-what", t(EVENT_TEXTS[type], { name: workspace.name })),
      " ",
      element("span", "event-origin", own ? "(this tab)" : "(another tab or client)"),
    );
    if (data.correlation_id) {
      entry.append(" request ", element("code", "correlation-id", data.correlation_id));
    }
    this.prepend(entry);
  }

  eventsLost(info) {
    this.lost.replaceChildren(
      element("p", "error-lead", t("events_missed")),
      element("p", "error-message", info.message),
    );
    this.lost.hidden = false;
    announce(t("events_missed_notice"));
    this.workspaces.load();
  }

  note(text) {
    this.prepend(element("li", "event event-note", text));
  }

  prepend(entry) {
    this.log.prepend(entry);
    while (this.log.childElementCount > LOG_SIZE) this.log.lastElementChild.remove();
  }
}
